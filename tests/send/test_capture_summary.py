"""``send --pcap`` tells the person at the terminal what it wrote, in one line that stays,
and says nothing to cron (README's first command, run at a real terminal: a pty)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pexpect
from tests.support.processes import polyptt_command, polyptt_env

from polyptt import protocol
from polyptt.pcap import read_datagrams

CHIME = Path(__file__).resolve().parents[2] / "examples" / "audio" / "chime.wav"


def counts(capture: Path) -> tuple[int, int, float]:
    """Transmit packets, all packets, and the page's length on the wire in a capture."""
    datagrams = list(read_datagrams(capture))
    transmits = sum(d.payload[0] == protocol.OpCode.TRANSMIT for d in datagrams)
    return transmits, len(datagrams), datagrams[-1].time - datagrams[0].time


def test_capture_at_a_terminal_leaves_one_summary_line(tmp_path: Path) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "polyptt", "send", "--channel", "26", "--pcap", "page.pcap", str(CHIME)],
        env=polyptt_env(),
        cwd=tmp_path,
        timeout=60,
    )
    child.expect(pexpect.EOF)
    child.close()
    shown = child.before.decode()
    assert child.exitstatus == 0, shown
    transmits, packets, length = counts(tmp_path / "page.pcap")
    assert (transmits, packets) == (57, 100)  # 1.71 s of chime in 30 ms frames
    assert f"{length:.1f}" == "3.0"
    assert shown == (
        "page.pcap: channel page:1 (26), g722 30 ms, 1.7 s of audio (3.0 s on the wire), "
        "100 packets\r\n"
    )


def test_capture_without_a_terminal_prints_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        polyptt_command("send", "--pcap", str(tmp_path / "page.pcap"), str(CHIME)),
        env=polyptt_env(),
        capture_output=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    verbose = subprocess.run(
        polyptt_command("send", "-v", "--pcap", str(tmp_path / "page.pcap"), str(CHIME)),
        env=polyptt_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verbose.stderr == (
        f"{tmp_path / 'page.pcap'}: channel page:1 (26), g722 30 ms, 1.7 s of audio "
        "(3.0 s on the wire), 100 packets\n"
    )
