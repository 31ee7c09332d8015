"""Small pieces of ``polyptt listen``: option parsing, file names, the text report."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from polyptt.protocol import parse_channels
from polyptt.receive.inbound import Endpoint, parse_endpoint
from polyptt.receive.recorder import RECORD_KEYS, Recorder, iso_utc, slug
from polyptt.receive.report import Reporter
from polyptt.receive.session import Page, PageKey


@pytest.mark.parametrize(
    ("text", "channels"),
    [
        ("all", None),
        ("26-50,1,24", frozenset({1, 24, *range(26, 51)})),
        ("page:1-page:3", frozenset({26, 27, 28})),
        (" 50 , ptt:25 ", frozenset({25, 50})),
    ],
)
def test_parse_channels(text, channels):
    assert parse_channels(text) == channels


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("30-26", "runs backwards"),
        ("51", "channels are 1-50"),
        ("x", "invalid channel"),
        ("", "empty item"),
        (" ", "empty item"),
        ("1,,2", "empty item"),
        ("26,", "empty item"),
        ("1-", "invalid channel"),
        ("-", "invalid channel"),
    ],
)
def test_parse_channels_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_channels(text)


def test_parse_endpoint():
    assert parse_endpoint("224.0.1.117:5002") == Endpoint("224.0.1.117", 5002)
    assert parse_endpoint("224.0.1.117") == Endpoint("224.0.1.117", 5001)
    assert parse_endpoint(":5003") == Endpoint("224.0.1.116", 5003)
    for bad in ("host:5001", "224.0.1.116:0", "224.0.1.116:x"):
        with pytest.raises(ValueError, match=repr(bad)):
            parse_endpoint(bad)


def test_slug_and_time():
    assert slug("Front desk") == "front-desk"
    assert slug("Accueil é/..") == "accueil-e"
    assert slug("\u2603\u2603") == "anonymous"
    assert iso_utc(1_795_694_400.5) == "2026-11-26T12:00:00.500Z"


def _page(channel: int = 26, caller: str = "Front desk", start: float = 1_795_694_400.0):
    return Page(PageKey(("10.0.0.5", 40000), 0x1234, channel), caller, start)


def test_recorder_names_and_collisions(tmp_path):
    recorder = Recorder(tmp_path, print)
    first, second = _page(), _page()
    second.key = PageKey(("10.0.0.6", 40000), 0x1234, 26)
    for page in (first, second):
        recorder.page_started(page)
    for page in (first, second):
        page.finish(page.start + 2, "timeout")
        recorder.page_ended(page)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "20261126T120000Z_ch26_front-desk-2.json",
        "20261126T120000Z_ch26_front-desk.json",
    ]
    import json

    record = json.loads((tmp_path / "20261126T120000Z_ch26_front-desk.json").read_text())
    assert tuple(record) == RECORD_KEYS
    assert (record["codec"], record["frames"], record["end_reason"]) == (None, 0, "timeout")


def test_text_report_lines():
    out = io.StringIO()
    reporter = Reporter(out)
    page = _page(channel=50, caller="FIRE")
    reporter.page_started(page)
    page.finish(page.start + 1.5, "end_packets")
    reporter.page_ended(page)
    assert out.getvalue().splitlines() == [
        "2026-11-26T12:00:00.000Z page start ch50 (page:25, emergency) 'FIRE' from 10.0.0.5:40000 "
        "serial 0x00001234",
        "2026-11-26T12:00:01.500Z page end   ch50 (page:25, emergency) 'FIRE': end packets, "
        "no audio, 0.00 s, 0 frames (0 repaired, 0 concealed), 0 packets (0 duplicates, 0 late)",
    ]


def test_a_recording_that_cannot_be_written_is_reported_not_raised(tmp_path):
    directory = tmp_path / "rec"
    errors: list[str] = []
    recorder = Recorder(directory, errors.append)
    page = _page()
    page.codec = type("Info", (), {"sample_rate": 8000, "name": "g711u"})()
    recorder.page_started(page)
    directory.rmdir()  # the disk went away
    recorder.page_audio(page, np.zeros(160, dtype=np.int16), 0.0)
    recorder.page_audio(page, np.zeros(160, dtype=np.int16), 0.0)
    page.finish(page.start + 1, "end_packets")
    recorder.page_ended(page)
    assert recorder.failures == 1  # once: later audio is skipped, and no JSON is written
    assert recorder.finished == []
    assert errors == ["cannot record 20261126T120000Z_ch26_front-desk: No such file or directory"]


def test_an_unwritable_directory_is_refused_at_once(tmp_path):
    with pytest.raises(PermissionError):
        Recorder(Path("/sys"), print)  # sysfs: no files can be made there, even by root


@pytest.mark.parametrize(
    ("channel", "label", "shown"),
    [
        (26, "normal", "ch26 (page:1) "),
        (24, "priority", "ch24 (ptt:24, priority) "),
        (49, "priority", "ch49 (page:24, priority) "),
        (25, "emergency", "ch25 (ptt:25, emergency) "),
        (50, "emergency", "ch50 (page:25, emergency) "),
    ],
)
def test_pages_say_what_kind_they_are(channel: int, label: str, shown: str) -> None:
    """Text lines, JSON events and recordings' metadata say priority and emergency."""
    from polyptt.protocol import AlertPacket
    from polyptt.receive.recorder import page_record, page_start_record
    from polyptt.receive.report import Reporter
    from polyptt.receive.session import Page, PageKey

    page = Page(PageKey(("10.0.0.5", 5001), 7, channel), "Desk", 0.0)
    page.handle(0.0, AlertPacket(channel, 7, "Desk"))
    page.finish(1.0, "timeout")
    text, lines = io.StringIO(), io.StringIO()
    Reporter(text).page_started(page)
    json_reporter = Reporter(lines, as_json=True)
    json_reporter.page_started(page)
    json_reporter.page_ended(page)
    assert shown in text.getvalue()
    start, end = (json.loads(line) for line in lines.getvalue().splitlines())
    assert start["priority"] == end["priority"] == label
    assert page_record(page)["priority"] == page_start_record(page)["priority"] == label
