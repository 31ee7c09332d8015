"""``polyptt send``'s job without Click: `polyptt.send.job` as a program calls it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from polyptt.cli import cli
from polyptt.console import Console
from polyptt.errors import BadInput
from polyptt.pcap import read_datagrams
from polyptt.send.job import SendJob, run
from polyptt.transport import parse_destination

ROOT = Path(__file__).resolve().parents[2]
CHIME = ROOT / "examples" / "audio" / "chime.wav"
REFERENCE = ROOT / "tests" / "data" / "send_reference" / "chime-g722-30.pcap"
#: What `tests/send/test_reference_pages.py` gives the command, as the job's fields.
IDENTITY = {"serial": 0x0A1B2C3D, "caller_id": "Reference", "start_count": 123456789}


def _payloads(path: Path) -> list[bytes]:
    return [datagram.payload for datagram in read_datagrams(path)]


def test_the_job_writes_the_reference_page_and_the_summary_send_prints(tmp_path: Path) -> None:
    out = tmp_path / "job.pcap"
    job = SendJob(
        file=str(CHIME),
        destination=parse_destination("224.0.1.116:5001"),
        interface="127.0.0.1",
        ttl=0,
        pcap=out,
        **IDENTITY,
    )
    result = run(job, Console(-1))
    assert result.status == 0
    assert _payloads(out) == _payloads(REFERENCE)
    assert result.report.transmits == result.summary["transmits"] > 0

    # the command's --json is the job's summary (timings aside)
    by_cli = tmp_path / "cli.pcap"
    arguments = [
        *("send", "--iface", "127.0.0.1", "--ttl", "0", "--serial", "0x0A1B2C3D", "--caller-id"),
        *("Reference", "--start-count", "123456789", "--pcap", str(by_cli), "--json"),
        str(CHIME),
    ]
    printed = json.loads(CliRunner().invoke(cli, arguments, catch_exceptions=False).stdout)
    timings = {"elapsed_s", "max_late_ms", "pcap"}
    assert list(printed) == list(result.summary)
    assert {k: v for k, v in printed.items() if k not in timings} == {
        k: v for k, v in result.summary.items() if k not in timings
    }


def test_bad_audio_is_refused_naming_the_argument_before_the_capture_is_made(
    tmp_path: Path,
) -> None:
    out = tmp_path / "never.pcap"
    with pytest.raises(BadInput) as refused:
        run(SendJob(file=str(tmp_path / "missing.wav"), pcap=out), Console(-1))
    assert refused.value.option == "FILE"
    assert "missing.wav" in str(refused.value)
    assert not out.exists()


def test_g726qi_in_other_frames_is_refused_as_the_command_refuses_it(tmp_path: Path) -> None:
    job = SendJob(file=str(CHIME), codec="g726qi", frame_ms=20, pcap=tmp_path / "never.pcap")
    with pytest.raises(BadInput) as refused:
        run(job, Console(-1))
    assert refused.value.option is None
    assert str(refused.value) == (
        "--codec g726qi is sent in 30 ms frames only (90 bytes, as SoundPoint IP 450/550 "
        "send them; their receivers expect exactly that), not 20 ms"
    )
