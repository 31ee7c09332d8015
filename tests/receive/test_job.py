"""``polyptt listen``'s job without Click: `polyptt.receive.job` as a program calls it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from polyptt.console import Console
from polyptt.errors import BadInput
from polyptt.receive.job import ListenJob, run
from polyptt.send.job import SendJob
from polyptt.send.job import run as send

CHIME = Path(__file__).resolve().parents[2] / "examples" / "audio" / "chime.wav"


def test_the_job_reports_and_records_the_pages_of_a_capture(tmp_path: Path) -> None:
    capture = tmp_path / "page.pcap"
    sent = send(SendJob(file=str(CHIME), caller_id="Job", pcap=capture), Console(-1))
    out = io.StringIO()
    job = ListenJob(pcap=capture, record=tmp_path / "pages", as_json=True, play=False)
    assert run(job, Console(-1), out) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["page_start", "page_end"]
    assert events[1]["caller_id"] == "Job"
    assert events[1]["frames"] == sent.summary["transmits"]
    recorded = sorted(path.suffix for path in (tmp_path / "pages").iterdir())
    assert recorded == [".json", ".wav"]


def test_a_directory_that_cannot_be_recorded_into_is_refused_naming_the_option(
    tmp_path: Path,
) -> None:
    occupied = tmp_path / "a-file"
    occupied.write_text("not a directory")
    job = ListenJob(pcap=tmp_path / "unused.pcap", record=occupied, play=False)
    with pytest.raises(BadInput) as refused:
        run(job, Console(-1), io.StringIO())
    assert refused.value.option == "--record"
    assert str(refused.value).startswith(f"cannot write to {occupied}: ")
