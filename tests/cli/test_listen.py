"""``polyptt send`` -> ``polyptt listen`` over real multicast in the test namespace.

Each test runs the listener as its own process, as a user would, and compares its
recordings sample for sample with decoding the frames that were actually sent.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
import signal
import subprocess
import time
from datetime import datetime

import numpy as np
import pytest
import soundfile
from tests.support.listen import (
    CHIME,
    GROUP,
    expected_audio,
    make_page_capture,
    polyptt,
    replay,
    start_listen,
    with_serial,
)
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.udp_capture import UdpCapture, free_port

from polyptt import codecs
from polyptt.protocol import CodecId, TransmitPacket, parse_packet

pytestmark = pytest.mark.network

# What `send` sends: G.726QI only in 30 ms frames, as phones send it (the listener takes
# any frame size: tests/receive/test_jitter.py)
ALL_FORMATS = [("g722", 20), ("g722", 30), ("g711u", 20), ("g711u", 30), ("g726qi", 30),
               ("g722", 40)]  # fmt: skip


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_send_to_listen_all_codecs_and_frame_sizes(tmp_path):
    """Six live pages at once: every recording equals decoding the frames sent."""
    port = free_port()
    listening = start_listen(tmp_path / "rec", "--count", "6", "--timeout", "30", port=port)
    with UdpCapture(port, GROUP) as wire:
        senders = [
            subprocess.Popen(
                [
                    *polyptt_command(),
                    "send",
                    "--to",
                    f"{GROUP}:{port}",
                    "--codec",
                    codec,
                    "--frame-ms",
                    str(ms),
                    "--channel",
                    str(26 + index),
                    "--serial",
                    str(0x100 + index),
                    "--caller-id",
                    f"{codec} {ms} ms",
                    str(CHIME),
                ],
                env=polyptt_env(),
            )
            for index, (codec, ms) in enumerate(ALL_FORMATS)
        ]
        assert [s.wait(timeout=60) for s in senders] == [0] * 6
        assert listening.wait() == 0
        sent = wire.packets
    recordings = listening.recordings()
    assert len(recordings) == 6
    for index, (codec, ms) in enumerate(ALL_FORMATS):
        serial, channel = 0x100 + index, 26 + index
        page = [d for _, d in sent if d[1] == channel and d[2:6] == serial.to_bytes(4, "big")]
        name, audio, frames = expected_audio(page)
        meta, recorded = recordings[(serial, channel)]
        np.testing.assert_array_equal(recorded, audio)
        assert name == codec
        start, end = _iso(meta["start"]), _iso(meta["end"])
        assert meta == {
            "channel": channel,
            "priority": "normal",
            "caller_id": f"{codec} {ms} ms",
            "serial": serial,
            "source": meta["source"],
            "codec": codec,
            "frame_ms": ms,
            "start": meta["start"],
            "end": meta["end"],
            "duration_s": round(len(audio) / codecs.info(codec).sample_rate, 6),
            "packets": 31 + len(frames) + 1,
            "frames": len(frames),
            "frames_repaired": 0,
            "frames_concealed": 0,
            "duplicates": 0,
            "late": 0,
            "end_reason": "end_packets",
        }
        assert meta["source"].startswith("127.0.0.1:")
        expected_span = 30 * 0.030 + len(frames) * ms / 1000 + 0.05 - ms / 1000
        assert (end - start).total_seconds() == pytest.approx(expected_span, abs=0.1)
    events = listening.events
    assert [e["event"] for e in events].count("page_start") == 6
    assert sorted(e["serial"] for e in events if e["event"] == "page_end") == [
        0x100 + i for i in range(6)
    ]


# ----------------------------------------------------------------- loss and disorder


def _network(page, *, drop=(), duplicate=(), swap=()):
    """The page's datagrams after a scripted network: transmit indices dropped,
    duplicated (sent twice), or swapped with the next one."""
    times = [t for t, _ in page]
    transmits = [i for i, (_, d) in enumerate(page) if d[0] == 0x10]
    out = list(page)
    for k in swap:
        a, b = transmits[k], transmits[k + 1]
        out[a], out[b] = (times[a], page[b][1]), (times[b], page[a][1])
    extra = [(times[transmits[k]] + 0.001, page[transmits[k]][1]) for k in duplicate]
    dropped = {transmits[k] for k in drop}
    return [item for i, item in enumerate(out) if i not in dropped] + extra


@pytest.mark.parametrize("codec", ["g722", "g711u", "g726qi"])
def test_relay_losses_duplicates_and_reordering(tmp_path, codec):
    port = free_port()
    frame_ms = 30 if codec == "g726qi" else 20  # as phones send each
    page = make_page_capture(tmp_path / "page.pcap", codec=codec, frame_ms=frame_ms, port=port)
    n = sum(1 for _, d in page if d[0] == 0x10)
    isolated = list(range(3, n - 2, 6))  # never two in a row, never the last
    bursts = [10, 11, 30, 31, 32, 50, 51]  # 2, 3 and 2 frames in a row
    duplicates = list(range(0, n, 5))
    swaps = list(range(2, n - 2, 9))  # adjacent pairs: within the reorder window
    scenarios = {
        1: page,
        2: _network(page, drop=isolated),
        3: _network(page, drop=bursts),
        4: _network(page, duplicate=duplicates, swap=swaps),
    }
    schedule = [
        (t, d, serial - 1) for serial, s in scenarios.items() for t, d in with_serial(s, serial)
    ]
    listening = start_listen(tmp_path / "rec", "--count", "4", "--timeout", "30", port=port)
    replay(schedule, port, sockets=4)
    assert listening.wait() == 0
    rec = {serial: listening.recordings()[(serial, 26)] for serial in scenarios}
    _, reference, frames = expected_audio(d for _, d in page)
    assert len(frames) == n

    meta, audio = rec[1]
    np.testing.assert_array_equal(audio, reference)
    assert (meta["frames_repaired"], meta["frames_concealed"]) == (0, 0)

    meta, audio = rec[2]
    np.testing.assert_array_equal(audio, reference)
    assert (meta["frames"], meta["frames_repaired"], meta["frames_concealed"]) == (
        n,
        len(isolated),
        0,
    )

    meta, audio = rec[3]
    assert (meta["frames"], meta["frames_repaired"], meta["frames_concealed"]) == (n, 3, 4)
    assert len(audio) == len(reference)
    frame_samples = len(reference) // n
    first_gap = 10 * frame_samples
    np.testing.assert_array_equal(audio[:first_gap], reference[:first_gap])

    meta, audio = rec[4]
    np.testing.assert_array_equal(audio, reference)
    assert (meta["duplicates"], meta["late"]) == (len(duplicates), 0)
    assert (meta["frames_repaired"], meta["frames_concealed"]) == (0, 0)


# ---------------------------------------------------------------- ten pages at once


def test_ten_simultaneous_pages(tmp_path):
    port = free_port()
    formats = ALL_FORMATS * 2
    schedule = []
    expected = {}
    for index in range(10):
        codec, ms = formats[index]
        serial, channel = 0x5000 + index, 26 + index
        page = make_page_capture(
            tmp_path / f"{index}.pcap",
            codec=codec,
            frame_ms=ms,
            channel=channel,
            serial=serial,
            start_count=random.Random(index).randrange(1 << 32),
            port=port,
        )
        expected[(serial, channel)] = expected_audio(d for _, d in page)[1]
        schedule += [(t + index * 0.003, d, index) for t, d in page]
    listening = start_listen(tmp_path / "rec", "--count", "10", "--timeout", "30", port=port)
    replay(schedule, port, sockets=10)
    assert listening.wait() == 0
    recordings = listening.recordings()
    assert set(recordings) == set(expected)
    for key, audio in expected.items():
        meta, recorded = recordings[key]
        np.testing.assert_array_equal(recorded, audio)
        assert meta["end_reason"] == "end_packets"
        assert meta["frames_concealed"] == meta["frames_repaired"] == 0


# ------------------------------------------------------------------------ hostility


def _hostile(rng: random.Random, real: list[bytes]) -> bytes:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 600))
    sample = bytearray(rng.choice(real))
    if kind == 1:
        return bytes(sample[: rng.randrange(len(sample))])
    if kind == 2:
        for _ in range(rng.randrange(1, 4)):
            sample[rng.randrange(len(sample))] ^= 1 << rng.randrange(8)
        return bytes(sample)
    if kind == 3:
        return bytes(sample) + rng.randbytes(rng.randrange(1, 1400))
    if kind == 4 and len(sample) > 20:
        sample[20] = rng.choice([0x01, 0x08, 0x12, 0xFE, 0xFF])  # unknown codec
        return bytes(sample)
    return b"GET / HTTP/1.1\r\nHost: example\r\n\r\n" if rng.random() < 0.5 else b"\x00" * 48


def _forged(rng: random.Random, transmits: list[TransmitPacket]) -> bytes:
    """A packet of the good page itself (same source, serial and channel) that lies.

    Its count lies far ahead (2 s up to 2**31 ticks: nearer than that a forgery is
    indistinguishable from the page), or its codec is another, or it claims many frames.
    """
    real = rng.choice(transmits)
    kind = rng.randrange(3)
    if kind == 0:
        count = (real.sample_count + rng.randrange(16_000, 1 << 31)) % (1 << 32)
        return bytes(dataclasses.replace(real, sample_count=count))
    if kind == 1:
        return bytes(dataclasses.replace(real, codec=CodecId.G711U))
    audio = real.audio * rng.randrange(2, 40)
    return bytes(dataclasses.replace(real, audio=audio[: rng.randrange(2 * 160 + 1, len(audio))]))


def test_hostile_flood_during_a_page(tmp_path):
    """100 000 hostile datagrams over a 20 s page (5 000/s: well within what one core
    parses even on a loaded test machine, so no good datagram is lost to a full socket
    buffer) leave the page's recording exactly as sent, though a tenth of them come from
    the page's own socket with its serial and channel. The junk pages the rest open are
    no longer than twice the traffic lasted plus a second (the bound that lets senders
    faster than real time through, see `polyptt.receive.jitter`), and all the recordings together
    stay small."""
    port = free_port()
    page = make_page_capture(
        tmp_path / "page.pcap", frame_ms=20, port=port, serial=0xC0FFEE, extra=["--repeat", "8"]
    )
    _, reference, _ = expected_audio(d for _, d in page)
    rng = random.Random(1234)
    real = [d for _, d in page]
    parsed = [(t, parse_packet(d)) for t, d in page]
    transmits = [(t, p) for t, p in parsed if isinstance(p, TransmitPacket)]
    # forgeries start once the page has learnt its stream (its third transmit packet): a
    # forger faster than the page's own first audio packets could define its codec
    learnt, lying = transmits[2][0], [p for _, p in transmits]
    listening = start_listen(tmp_path / "rec", "--timeout", "60", "-v", port=port)
    page_span = page[-1][0] - page[0][0]
    spacing = (page_span - 0.5) / 100_000
    schedule = [(t, d, 0) for t, d in page]
    for index in range(100_000):
        moment = page[0][0] + 0.25 + index * spacing
        if moment > learnt and rng.random() < 0.1:
            schedule.append((moment, _forged(rng, lying), 0))
        else:
            schedule.append((moment, _hostile(rng, real), 1))
    flood = schedule[len(page) :]
    good, _ = replay(schedule, port, sockets=2)
    time.sleep(0.5)
    peak_kb = _peak_rss_kb(listening.process.pid)
    listening.process.send_signal(signal.SIGINT)  # Ctrl-C: open pages are finalized
    assert listening.wait() == 128 + signal.SIGINT, listening.stderr
    meta, audio = listening.recordings(source=good)[(0xC0FFEE, 26)]
    np.testing.assert_array_equal(audio, reference)
    assert meta["end_reason"] == "end_packets"
    assert (meta["frames_repaired"], meta["frames_concealed"], meta["late"]) == (0, 0, 0)
    assert peak_kb < 80_000  # README: the listener's memory goal
    recordings = list((tmp_path / "rec").glob("*.json"))
    assert recordings
    for path in recordings:
        junk = json.loads(path.read_text())
        lasted = (_iso(junk["end"]) - _iso(junk["start"])).total_seconds()
        assert junk["duration_s"] <= 2 * min(lasted, page_span) + 1.1, junk
        assert junk["frame_ms"] in (None, 10, 20, 30, 40, 50, 60, 70, 80), junk
    stored = sum(f.stat().st_size for f in (tmp_path / "rec").iterdir())
    # measured 2.9 MB in 308 recordings, the page's own 0.7 MB among them (157 MB when a
    # forged count could stand for minutes of concealment)
    assert stored < 10_000_000, stored
    summary = listening.stderr.splitlines()[0]
    assert summary.startswith(f"{len(page) + len(flood)} datagrams")


def _peak_rss_kb(pid: int) -> int:
    from pathlib import Path

    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


# ------------------------------------------------------------------ tshark captures


def _start_tshark(interface: str, path, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        ["tshark", "-q", "-i", interface, "-w", str(path), "-f", f"udp port {port}"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:  # "Capturing on 'Loopback: lo'" once it really listens
        if "Capturing on" in line:
            return process
    raise AssertionError("tshark did not start")


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
@pytest.mark.parametrize("interface", ["lo", "any"])
def test_pcap_of_a_tshark_capture_equals_listening_live(tmp_path, interface):
    """tshark on lo writes Ethernet frames, on "any" Linux cooked (SLL2) ones; pcapng."""
    port = free_port()
    capture = tmp_path / "live.pcapng"
    tshark = _start_tshark(interface, capture, port)
    listening = start_listen(tmp_path / "live", "--count", "1", "--timeout", "30", port=port)
    send = polyptt(
        "send", "--to", f"{GROUP}:{port}", "--serial", "0x77", "--frame-ms", "20", str(CHIME)
    )
    assert send.returncode == 0
    assert listening.wait() == 0
    time.sleep(0.3)
    tshark.send_signal(signal.SIGINT)
    tshark.communicate(timeout=20)
    replayed = polyptt(
        "listen", "--pcap", str(capture), "--from", f"{GROUP}:{port}", "--record",
        str(tmp_path / "replayed"), "--json",
    )  # fmt: skip
    live_meta, live_audio = listening.recordings()[(0x77, 26)]
    wav = next((tmp_path / "replayed").glob("*.wav"))
    replayed_meta = json.loads(wav.with_suffix(".json").read_text())
    np.testing.assert_array_equal(soundfile.read(wav, dtype="int16")[0], live_audio)
    assert wav.name == next((tmp_path / "live").glob("*.wav")).name
    same = ["channel", "caller_id", "serial", "source", "codec", "frame_ms", "frames", "packets"]
    assert {k: replayed_meta[k] for k in same} == {k: live_meta[k] for k in same}
    assert replayed_meta["end_reason"] == "end_packets"
    assert replayed.stdout.count("page_end") == 1


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stopping_mid_page_finalizes_the_recording(tmp_path, signum):
    port = free_port()
    page = make_page_capture(tmp_path / "page.pcap", frame_ms=20, port=port, serial=0x5157)
    transmits = [i for i, (_, d) in enumerate(page) if d[0] == 0x10]
    half = page[: transmits[len(transmits) // 2]]
    listening = start_listen(tmp_path / "rec", port=port)
    replay(half, port)
    time.sleep(0.3)
    listening.process.send_signal(signum)
    assert listening.wait() == 128 + signum
    meta, audio = listening.recordings()[(0x5157, 26)]
    _, reference, _ = expected_audio(d for _, d in half)
    np.testing.assert_array_equal(audio, reference)
    assert meta["end_reason"] == "interrupted"
    assert [e["event"] for e in listening.events] == ["page_start", "page_end"]


def test_unicast_to_the_port_and_a_second_group_are_heard(tmp_path):
    port, other_port = free_port(), free_port()
    page = make_page_capture(tmp_path / "page.pcap", frame_ms=20, port=port, serial=0x0C)
    listening = start_listen(
        tmp_path / "rec", "--count", "3", "--timeout", "30",
        "--from", f"224.0.1.117:{port}", "--from", f"224.0.1.116:{other_port}", port=port,
    )  # fmt: skip
    replay(with_serial(page, 4), port, to="224.0.1.118")  # a group not joined: not heard
    replay(with_serial(page, 1), port, to="127.0.0.1")  # unicast
    replay(with_serial(page, 2), port, to="224.0.1.117")  # the second group
    replay(with_serial(page, 3), other_port)  # the second port
    assert listening.wait() == 0
    _, reference, _ = expected_audio(d for _, d in page)
    recordings = listening.recordings()
    assert sorted(recordings) == [(1, 26), (2, 26), (3, 26)]
    for _, audio in recordings.values():
        np.testing.assert_array_equal(audio, reference)
