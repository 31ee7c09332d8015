"""``polyptt send --say``: a text spoken by espeak-ng, paged like a file.

The real command (``python -m polyptt send``) inside the private network namespace, its
page received on the loopback group (or read back from ``--pcap``), decoded and compared
with espeak-ng's own rendering of the text (`tests.support.speech`). Refusals are one
line, exit 2 and not one datagram on the wire (a raw socket sees every UDP datagram).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.support.listen import expected_audio
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.speech import TEXT, assert_spoken, espeak_reference
from tests.support.udp_capture import UdpCapture, WireSniffer, free_port

from polyptt.pcap import read_datagrams
from polyptt.protocol import DEFAULT_GROUP, AlertPacket, EndPacket, parse_packet

pytestmark = pytest.mark.network


def send(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        polyptt_command("send", *args),
        capture_output=True,
        text=True,
        env=env or polyptt_env(),
        timeout=120,
    )


def _kinds(datagrams: list[bytes]) -> tuple[int, int]:
    packets = [parse_packet(d) for d in datagrams]
    alerts = sum(isinstance(p, AlertPacket) for p in packets)
    return alerts, sum(isinstance(p, EndPacket) for p in packets)


@pytest.mark.parametrize("chime", [False, True], ids=["speech", "chime"])
def test_say_pages_espeak_ngs_speech_on_the_group(chime: bool) -> None:
    port = free_port()
    extra = ["--chime"] if chime else []
    with UdpCapture(port) as capture:
        done = send("--say", TEXT, *extra, "--to", f"{DEFAULT_GROUP}:{port}", "--json")
        datagrams = [d for _, d in capture.wait_quiet(0.5)]
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    summary = json.loads(done.stdout)
    assert (summary["source"], summary["codec"], summary["channel"]) == ("speech", "g722", 26)
    assert _kinds(datagrams) == (31, 12)  # the whole page: alerts, audio, end packets
    codec, audio, frames = expected_audio(datagrams)
    assert (codec, len(frames)) == ("g722", summary["frames"])
    correlations = assert_spoken(audio, chime=chime)
    assert len(correlations) >= 5


def test_say_with_voice_rate_and_codec_into_a_capture(tmp_path: Path) -> None:
    capture = tmp_path / "say.pcap"
    options = ["--voice", "en-us", "--rate", "140"]
    done = send(
        "--say", TEXT, *options, "--codec", "g711u", "--frame-ms", "20", "--pcap", str(capture)
    )
    assert done.returncode == 0, done.stderr
    datagrams = [d.payload for d in read_datagrams(capture, lambda _w: None)]
    codec, audio, _ = expected_audio(datagrams)
    assert codec == "g711u"
    assert_spoken(audio, TEXT, "-v", "en-us", "-s", "140", rate=8000)


def _no_espeak_env(folder: Path) -> dict[str, str]:
    """The environment with a PATH that holds the Python under test and nothing else."""
    folder.mkdir()
    (folder / "python").symlink_to(sys.executable)
    return {**polyptt_env(), "PATH": str(folder)}


#: Seven hundred words: at 80 words per minute, more than the ten minutes a page may last.
LONG = " ".join(["attention"] * 700)


def _lasts(text: str, *args: str) -> str:
    """How long espeak-ng speaks `text`, as the refusal says it."""
    speech = espeak_reference(text, *args)
    return f"{len(speech) / 16000:.1f}"


#: The refusals: arguments, and the one line each prints (with how long espeak-ng says
#: the text in place of {LONG} and {TEXT}).
REFUSALS = {
    "no engine": (
        ["--say", TEXT],
        "Error: no text-to-speech engine: espeak-ng is not installed (apt install espeak-ng)",
    ),
    "empty text": (
        ["--say", "  "],
        "Error: Invalid value for '--say': nothing to say: the text is empty "
        "(see 'polyptt send --help')",
    ),
    "too long": (
        ["--say", LONG, "--rate", "80"],
        "Error: Invalid value for '--say': the speech: the audio lasts {LONG} s; limit: 600 s "
        "(see 'polyptt send --help')",
    ),
    "too long repeated": (
        ["--say", TEXT, "--repeat", "20", "--gap", "30"],
        "Error: Invalid value for '--say': the speech: the audio lasts {TEXT} s; limit: 600 s; "
        "20 plays with 30 s gaps must fit in 600 s (see 'polyptt send --help')",
    ),
    "with a file": (
        ["--say", TEXT, "page.wav"],
        "Error: --say takes no FILE, --mic or --raw (see 'polyptt send --help')",
    ),
    "chime alone": (
        ["--chime", "page.wav"],
        "Error: --chime goes with --say (see 'polyptt send --help')",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
@pytest.mark.parametrize("pcap", [False, True], ids=["multicast", "pcap"])
def test_refusals_are_one_line_and_send_nothing(tmp_path: Path, case: str, pcap: bool) -> None:
    args, line = REFUSALS[case]
    if "{" in line:
        line = line.format(LONG=_lasts(LONG, "-s", "80"), TEXT=_lasts(TEXT))
    env = _no_espeak_env(tmp_path / "bin") if case == "no engine" else None
    where = ["--pcap", str(tmp_path / "page.pcap")] if pcap else ["--to", f"{DEFAULT_GROUP}:5001"]
    started = time.monotonic()
    with WireSniffer() as sniffer:
        done = send(*where, *args, env=env)
        time.sleep(0.3)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == line + "\n"
    assert sniffer.datagrams == []
    assert not (tmp_path / "page.pcap").exists()
    assert time.monotonic() - started < 20


def test_the_no_engine_environment_lacks_only_espeak_ng(tmp_path: Path) -> None:
    """The refusal above is for want of espeak-ng, not of Python: with it, a page."""
    env = _no_espeak_env(tmp_path / "bin")
    (tmp_path / "bin" / "espeak-ng").symlink_to("/usr/bin/espeak-ng")
    done = send("--say", TEXT, "--pcap", str(tmp_path / "page.pcap"), env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "page.pcap").stat().st_size > 10000
