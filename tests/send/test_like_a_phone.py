"""Pages that look on the wire like a phone's: from the group's port, G.726QI in 30 ms
frames, sample counts that do not wrap."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tests.support.listen import polyptt, start_listen
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.udp_capture import WireSniffer, free_port

from polyptt import codecs, protocol
from polyptt.audio import load_page
from polyptt.cli import cli
from polyptt.send import PageParams, Schedule

ROOT = Path(__file__).resolve().parents[2]
CHIME = str(ROOT / "examples" / "audio" / "chime.wav")


def _send(port: int, *args: str, check: bool = True):
    return polyptt(
        "send", "--to", f"224.0.1.116:{port}", "--frame-ms", "20", *args, CHIME, check=check
    )


@pytest.mark.network
def test_pages_leave_from_the_group_port_and_a_listener_beside_still_hears(
    tmp_path: Path,
) -> None:
    """Two senders at once on different channels, and a listener on the same host and
    port: every datagram leaves from the port phones use, and both pages are recorded."""
    port = free_port()
    listening = start_listen(tmp_path / "rec", "--count", "2", "--timeout", "30", port=port)
    with WireSniffer() as sniffer:
        senders = [
            subprocess.Popen(
                polyptt_command(
                    *("send", "--to", f"224.0.1.116:{port}", "--channel", str(channel)),
                    *("--serial", str(serial), CHIME),
                ),
                env=polyptt_env(),
                stderr=subprocess.PIPE,
            )
            for channel, serial in ((26, 1), (27, 2))
        ]
        for sender in senders:
            _out, err = sender.communicate(timeout=60)
            assert sender.returncode == 0, err
            assert err == b""  # no warning: the port was shared
        time.sleep(0.2)
    assert listening.wait() == 0
    pages = [(s, d) for s, _a, p, d in sniffer.sent if p == port]
    # a raw socket may miss a datagram on a loaded machine: the exact count is the
    # listener's (below); every datagram the sniffer saw left from the group's port
    assert len(pages) >= 2 * (31 + 57 + 12) - 5
    assert {source for source, _d in pages} == {port}
    recordings = listening.recordings()
    assert sorted(recordings) == [(1, 26), (2, 27)]
    sent = load_page(CHIME, "g722", 30).frames  # what send encodes for this file
    reference = codecs.decode("g722", b"".join(sent))
    for serial, channel in recordings:
        meta, audio = recordings[(serial, channel)]
        assert meta["packets"] == 31 + 57 + 1  # the page closes at its first end packet
        assert meta["frames"] == 57
        assert meta["source"].endswith(f":{port}")
        np.testing.assert_array_equal(audio, reference)


@pytest.mark.network
def test_a_port_held_exclusively_falls_back_to_an_ephemeral_one(tmp_path: Path) -> None:
    port = free_port()
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # no SO_REUSEADDR: exclusive
    holder.bind(("", port))
    try:
        with WireSniffer() as sniffer:
            result = _send(port, check=False)
            time.sleep(0.2)
    finally:
        holder.close()
    assert result.returncode == 0
    assert result.stderr == (
        f"Warning: cannot send from port {port} (Address already in use); sending from an "
        "ephemeral port, which some receivers ignore\n"
    )
    sources = {source for source, _a, p, _d in sniffer.sent if p == port}
    assert len(sources) == 1
    assert sources != {port}


@pytest.mark.network
def test_source_port_option(tmp_path: Path) -> None:
    port, chosen = free_port(), free_port()
    with WireSniffer() as sniffer:
        _send(port, "--source-port", str(chosen))
        time.sleep(0.2)
    assert {source for source, _a, p, _d in sniffer.sent if p == port} == {chosen}


def test_capture_files_carry_the_same_source_port(tmp_path: Path) -> None:
    from polyptt.pcap import read_datagrams

    out = tmp_path / "page.pcap"
    result = CliRunner().invoke(cli, ["send", "--pcap", str(out), CHIME], catch_exceptions=False)
    assert result.exit_code == 0
    assert {d.source[1] for d in read_datagrams(out)} == {5001}


@pytest.mark.network
@pytest.mark.parametrize("frame_ms", ["10", "20", "40"])
def test_g726qi_other_than_30_ms_is_refused_before_any_packet(frame_ms: str) -> None:
    with WireSniffer() as sniffer:
        result = polyptt(*("send", "--codec", "g726qi", "--frame-ms", frame_ms, CHIME), check=False)
        time.sleep(0.2)
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: --codec g726qi is sent in 30 ms frames only (90 bytes, as SoundPoint IP "
        f"450/550 send them; their receivers expect exactly that), not {frame_ms} ms "
        "(see 'polyptt send --help')\n"
    )
    assert sniffer.sent == []


def test_g726qi_frames_are_90_bytes(tmp_path: Path) -> None:
    from polyptt.pcap import read_datagrams

    out = tmp_path / "qi.pcap"
    CliRunner().invoke(cli, ["send", "--codec", "g726qi", "--pcap", str(out), CHIME])
    transmits = [d.payload for d in read_datagrams(out) if d.payload[0] == 0x10]
    assert len(transmits[0]) == 26 + 90
    assert {len(t) for t in transmits[1:]} == {26 + 180}


def test_start_counts_are_drawn_below_2_to_the_31() -> None:
    params = PageParams(26, 1, "", protocol.CodecId.G722, 20)
    starts = [Schedule(params).start_count for _ in range(1000)]
    assert max(starts) < 2**31
    assert len(set(starts)) > 990  # random, not a constant
    assert max(starts) > 2**30  # and spread over the range (fails with p = 2**-1000)
