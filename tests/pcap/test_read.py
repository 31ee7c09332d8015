"""Reading captures: every container and link type, checked against tshark, and
``listen --pcap`` giving the recordings that decoding the captured frames gives."""

from __future__ import annotations

import json
import resource
import shutil
import signal
import struct
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import soundfile
from tests.support.listen import expected_audio, make_page_capture, polyptt
from tests.support.synthetic import build_page

from polyptt.pcap import CaptureError, Datagram, ethernet, ipv4_udp, read_datagrams
from polyptt.protocol import CodecId

PAYLOADS = [bytes([i]) * (20 + i) for i in range(5)]
SOURCE, DEST = ("10.1.2.3", 40001), ("224.0.1.116", 5001)
TIMES_NS = [1_700_000_000_123_456_789 + i * 30_000_000 for i in range(5)]

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _ipv6_udp(payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", SOURCE[1], DEST[1], 8 + len(payload), 0) + payload
    header = struct.pack("!IHBB", 6 << 28, len(udp), 17, 64)
    return header + bytes(15) + b"\x01" + bytes.fromhex("ff0e" + "00" * 13 + "74") + udp


def _frame(linktype: str, payload: bytes) -> tuple[int, bytes]:
    ip = ipv4_udp(payload, SOURCE, DEST)
    if linktype == "ethernet":
        return 1, ethernet(ip)
    if linktype == "vlan":
        frame = ethernet(ip)
        return 1, frame[:12] + b"\x81\x00\x00\x2a" + frame[12:]
    if linktype == "sll":
        return 113, struct.pack("!HHH8sH", 0, 1, 6, b"\2" * 6 + b"\0\0", 0x0800) + ip
    if linktype == "sll2":
        return 276, struct.pack("!HHIHBB8s", 0x0800, 0, 1, 1, 0, 6, b"\2" * 6 + b"\0\0") + ip
    if linktype == "raw":
        return 101, ip
    if linktype == "null":
        return 0, struct.pack("<I", 2) + ip
    if linktype == "ipv6":
        return 101, _ipv6_udp(payload)
    raise AssertionError(linktype)


def _write_pcap(path: Path, linktype: str, *, order: str = "<", nano: bool = False) -> None:
    frames = [_frame(linktype, p) for p in PAYLOADS]
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, frames[0][0])]
    for (_, frame), ns in zip(frames, TIMES_NS, strict=True):
        fraction = ns % 10**9 if nano else ns % 10**9 // 1000
        out.append(struct.pack(order + "IIII", ns // 10**9, fraction, len(frame), len(frame)))
        out.append(frame)
    path.write_bytes(b"".join(out))


LINKTYPES = ["ethernet", "vlan", "sll", "sll2", "raw", "null", "ipv6"]


@pytest.mark.parametrize("linktype", LINKTYPES)
@pytest.mark.parametrize(("order", "nano"), [("<", False), (">", True)])
def test_pcap_link_types(tmp_path, linktype, order, nano):
    path = tmp_path / "c.pcap"
    _write_pcap(path, linktype, order=order, nano=nano)
    found = list(read_datagrams(path))
    assert [d.payload for d in found] == PAYLOADS
    for datagram, ns in zip(found, TIMES_NS, strict=True):
        assert datagram.time == pytest.approx(ns / 1e9, abs=1e-6)  # float64 resolution
        if linktype == "ipv6":
            assert datagram.destination == ("ff0e::74", 5001)
            assert datagram.source == ("::1", 40001)
        else:
            assert (datagram.source, datagram.destination) == (SOURCE, DEST)


@needs_tshark
@pytest.mark.parametrize("linktype", ["ethernet", "sll", "sll2", "raw"])
def test_pcapng_written_by_editcap_and_payloads_agree_with_tshark(tmp_path, linktype):
    """editcap (Wireshark's) converts our pcap to pcapng; tshark dissects both."""
    pcap, pcapng = tmp_path / "c.pcap", tmp_path / "c.pcapng"
    _write_pcap(pcap, linktype, nano=True)
    subprocess.run(["editcap", "-F", "pcapng", str(pcap), str(pcapng)], check=True)
    fields = subprocess.run(
        [
            "tshark",
            "-r",
            str(pcapng),
            "-T",
            "fields",
            "-e",
            "udp.payload",
            "-e",
            "frame.time_epoch",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")[:-1]
    found = list(read_datagrams(pcapng))
    assert [d.payload for d in found] == PAYLOADS
    assert [bytes.fromhex(line.split("\t")[0]) for line in fields] == PAYLOADS
    for datagram, line in zip(found, fields, strict=True):
        assert datagram.time == pytest.approx(float(line.split("\t")[1]), abs=1e-6)


def test_truncated_capture_gives_what_it_holds_and_says_where_it_stopped(tmp_path):
    path = tmp_path / "c.pcap"
    _write_pcap(path, "ethernet")
    whole = path.read_bytes()
    path.write_bytes(whole[:-10])
    told: list[str] = []
    assert [d.payload for d in read_datagrams(path, told.append)] == PAYLOADS[:-1]
    last_record = len(whole) - (16 + 14 + 28 + len(PAYLOADS[-1]))  # pcap, Ethernet, IP+UDP
    assert told == [f"record {len(PAYLOADS)} at byte {last_record} is cut short or damaged"]


def test_a_complete_capture_reports_nothing(tmp_path):
    path = tmp_path / "c.pcap"
    _write_pcap(path, "ethernet")
    told: list[str] = []
    assert [d.payload for d in read_datagrams(path, told.append)] == PAYLOADS
    assert told == []


def test_a_damaged_record_length_stops_the_reading_there(tmp_path):
    path = tmp_path / "c.pcap"
    _write_pcap(path, "ethernet")
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 24 + 8, 0x7FFFFFFF)  # first record's captured length
    path.write_bytes(bytes(data))
    told: list[str] = []
    assert list(read_datagrams(path, told.append)) == []
    assert told == ["record 1 at byte 24 is cut short or damaged"]


def test_not_a_capture(tmp_path):
    path = tmp_path / "c.pcap"
    path.write_bytes(b"RIFF....WAVE")
    with pytest.raises(CaptureError, match="not a pcap or pcapng"):
        list(read_datagrams(path))


def test_unsupported_link_type(tmp_path):
    path = tmp_path / "c.pcap"
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 127))
    with pytest.raises(CaptureError, match="link type 127"):
        list(read_datagrams(path))


def test_non_udp_and_fragments_are_skipped(tmp_path):
    ip = bytearray(ipv4_udp(b"x" * 30, SOURCE, DEST))
    tcp = bytearray(ip)
    tcp[9] = 6
    fragment = bytearray(ip)
    fragment[6] = 0x20  # more fragments
    frames = [bytes(tcp), bytes(fragment), bytes(ip)]
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    for frame in frames:
        out.append(struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame)
    path = tmp_path / "c.pcap"
    path.write_bytes(b"".join(out))
    assert list(read_datagrams(path)) == [Datagram(1.0, SOURCE, DEST, b"x" * 30)]


# ------------------------------------------------------------------ listen --pcap


def _write_datagrams(path: Path, items: list[tuple[float, Datagram]]) -> None:
    """A raw-IP nanosecond pcap of `items` (time, datagram)."""
    out = [struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 101)]
    for time, d in items:
        ip = ipv4_udp(d.payload, d.source, d.destination)
        ns = round(time * 1e9)
        out.append(struct.pack("<IIII", ns // 10**9, ns % 10**9, len(ip), len(ip)) + ip)
    path.write_bytes(b"".join(out))


def _listen_pcap(path: Path, record: Path, *args: str) -> list[dict]:
    result = polyptt("listen", "--pcap", str(path), "--record", str(record), "--json", *args)
    return [json.loads(line) for line in result.stdout.splitlines()]


def _recording(record: Path, serial: int) -> tuple[dict, np.ndarray]:
    for meta_path in record.glob("*.json"):
        meta = json.loads(meta_path.read_text())
        if meta["serial"] == serial:
            return meta, soundfile.read(meta_path.with_suffix(".wav"), dtype="int16")[0]
    raise AssertionError(f"no recording of serial {serial:#x}")


@pytest.mark.parametrize(
    ("codec", "frame_ms", "start_count"),
    [
        ("g722", 20, (1 << 32) - 700),  # wraps within the page
        ("g711u", 20, (1 << 32) - 1),
        ("g726qi", 30, 0x6FCA7BF5),
        ("g722", 30, 0),
    ],
)
def test_listen_pcap_of_send_pcap(tmp_path, codec, frame_ms, start_count):
    page = make_page_capture(
        tmp_path / "page.pcap",
        codec=codec,
        frame_ms=frame_ms,
        start_count=start_count,
        serial=0xABC,
        caller_id="Lobby",
    )
    events = _listen_pcap(tmp_path / "page.pcap", tmp_path / "rec")
    assert [e["event"] for e in events] == ["page_start", "page_end"]
    _, reference, frames = expected_audio(d for _, d in page)
    meta, audio = _recording(tmp_path / "rec", 0xABC)
    np.testing.assert_array_equal(audio, reference)
    assert meta["frames"] == len(frames)
    assert (meta["codec"], meta["frame_ms"], meta["caller_id"]) == (codec, frame_ms, "Lobby")
    assert meta["end_reason"] == "end_packets"
    assert events[1] == {"event": "page_end", **meta}
    # the capture's clock, not the wall clock
    start = datetime.fromtimestamp(page[0][0], tz=timezone.utc)
    assert meta["start"].startswith(start.strftime("%Y-%m-%dT%H:%M:%S"))


def test_listen_record_into_an_unwritable_directory_is_a_usage_error(tmp_path):
    make_page_capture(tmp_path / "page.pcap")
    failed = polyptt(
        "listen", "--pcap", str(tmp_path / "page.pcap"), "--record", "/sys", check=False
    )
    assert (failed.returncode, failed.stdout) == (2, "")  # refused before any page
    assert failed.stderr.startswith("Error: ")
    assert "/sys" in failed.stderr
    assert len(failed.stderr.splitlines()) == 1


def _small_files() -> None:
    """In the child: files may not grow past 20 kB (a full disk, without a disk)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death


def test_listen_recording_that_fails_midway_is_one_error_and_exit_1(tmp_path):
    make_page_capture(tmp_path / "page.pcap", serial=0xF0)
    result = polyptt(
        "listen",
        "--pcap",
        str(tmp_path / "page.pcap"),
        "--record",
        str(tmp_path / "rec"),
        "--json",
        check=False,
        preexec_fn=_small_files,
    )
    assert result.returncode == 1
    assert [json.loads(line)["event"] for line in result.stdout.splitlines()] == [
        "page_start",
        "page_end",
    ]
    assert result.stderr.startswith("Error: cannot record ")
    assert len(result.stderr.splitlines()) == 1
    assert list((tmp_path / "rec").glob("*.json")) == []  # no JSON vouches for a bad WAV


def test_listen_pcap_honours_timestamps_for_timeouts(tmp_path):
    """A page cut before its end packets times out at its last packet, on capture time."""
    make_page_capture(tmp_path / "page.pcap", serial=0xD0)
    data = list(read_datagrams(tmp_path / "page.pcap"))
    kept = [d for d in data if d.payload[0] != 0xFF]
    _write_datagrams(tmp_path / "cut.pcap", [(d.time, d) for d in kept])
    events = _listen_pcap(tmp_path / "cut.pcap", tmp_path / "rec", "--page-timeout", "0.5")
    assert events[-1]["end_reason"] == "timeout"
    end = datetime.fromisoformat(events[-1]["end"].replace("Z", "+00:00")).timestamp()
    assert end == pytest.approx(kept[-1].time, abs=0.001)


def test_listen_pcap_channel_filter_and_count(tmp_path):
    for index, channel in enumerate((26, 50, 27)):
        make_page_capture(tmp_path / f"{index}.pcap", channel=channel, serial=0x10 + index)
    merged = tmp_path / "merged.pcap"
    frames = []
    for index in range(3):
        frames += [(d.time + index * 0.2, d) for d in read_datagrams(tmp_path / f"{index}.pcap")]
    _write_datagrams(merged, sorted(frames, key=lambda item: item[0]))
    events = _listen_pcap(merged, tmp_path / "all")
    assert sorted(e["channel"] for e in events if e["event"] == "page_end") == [26, 27, 50]
    events = _listen_pcap(merged, tmp_path / "emergency", "--channels", "50,25")
    assert [(e["event"], e["channel"]) for e in events] == [("page_start", 50), ("page_end", 50)]
    events = _listen_pcap(merged, tmp_path / "first", "--count", "1")
    ends = [e["end_reason"] for e in events if e["event"] == "page_end"]
    assert ends == ["end_packets", "interrupted", "interrupted"]  # the rest are finalized
    for bad, message in (("51", "channels are 1-50"), ("", "empty item")):
        failed = polyptt(
            "listen", "--pcap", str(tmp_path / "0.pcap"), "--channels", bad, check=False
        )
        assert (failed.returncode, failed.stdout) == (2, "")
        assert message in failed.stderr
        assert len(failed.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("codec", "frame_bytes", "step", "start_count", "length_byte"),
    [
        (CodecId.G722, 160, 160, (1 << 32) - 480, 8),  # Asterisk-like: length byte 8
        (CodecId.G711U, 160, 160, (1 << 32) - 100, 13),  # FreeSWITCH-like 20 ms
        (CodecId.G722, 160, 160, 0x6FCA7BF5, 13),  # the advisory's phone capture
    ],
)
def test_listen_pcap_of_other_senders(tmp_path, codec, frame_bytes, step, start_count, length_byte):
    """Pages as other implementations write them, with a shortened last frame."""
    import random

    from polyptt import codecs

    rng = random.Random(7)
    name = codecs.by_wire_id(int(codec)).name
    pcm = (np.sin(np.arange(8000 * 2) / 7) * 8000).astype(np.int16)
    coded = codecs.encode(name, pcm[: len(pcm) // (2 if name == "g711u" else 1)])
    frames = [coded[i : i + frame_bytes] for i in range(0, len(coded), frame_bytes)]
    frames[-1] = frames[-1][: frame_bytes // 2]
    page = build_page(
        frames, codec=codec, step=step, start_count=start_count, caller_id="Asterisk", serial=9
    )
    datagrams = [d[:6] + bytes([length_byte]) + d[7:] for d in page.datagrams]
    source = ("10.0.0.9", rng.randrange(1024, 65535))
    items = [
        (1_795_694_400 + i * 0.02, Datagram(0.0, source, DEST, d)) for i, d in enumerate(datagrams)
    ]
    _write_datagrams(tmp_path / "other.pcap", items)
    events = _listen_pcap(tmp_path / "other.pcap", tmp_path / "rec")
    meta, audio = _recording(tmp_path / "rec", 9)
    np.testing.assert_array_equal(audio, codecs.decode(name, b"".join(frames)))
    assert (meta["caller_id"], meta["frames"], meta["frame_ms"]) == ("Asterisk", len(frames), 20)
    assert events[-1]["end_reason"] == "end_packets"


def test_listen_on_a_capture_cut_short_warns_once_and_keeps_what_it_holds(tmp_path):
    whole = tmp_path / "whole.pcap"
    make_page_capture(whole, channel=26, serial=0x42)
    cut = tmp_path / "cut.pcap"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3 - 5])  # mid-record, as when tshark is killed
    result = polyptt(
        "listen", "--pcap", str(cut), "--record", str(tmp_path / "rec"), "--json", check=False
    )
    assert result.returncode == 0
    [warning] = result.stderr.splitlines()
    assert warning.startswith(f"Warning: {cut}: record ")
    assert warning.endswith("is cut short or damaged; read the packets before it")
    ends = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["event"], e.get("end_reason")) for e in ends] == [
        ("page_start", None),
        ("page_end", "timeout"),  # no end packets in what is left: silence ends it
    ]
    meta, audio = _recording(tmp_path / "rec", 0x42)
    assert meta["frames"] > 0
    assert len(audio) > 0
