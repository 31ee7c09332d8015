"""The school's bell timetable of the docs (examples/relay/school-bells.toml) is a
configuration the relay takes, and rings what it says: the lesson bells of a school
day, none in the holidays."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from polyptt.relay.bells.runner import next_runs
from polyptt.relay.bells.timetable import Schedule
from polyptt.relay.config import load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "relay" / "school-bells.toml"


def school(tmp_path: Path) -> list[Schedule]:
    config = tmp_path / "school-bells.toml"
    shutil.copy(EXAMPLE, config)
    (tmp_path / "sounds").mkdir()
    for name in ("school-bell.wav", "fire-drill.wav"):
        (tmp_path / "sounds" / name).write_bytes(b"")
    return [s for s in load_config(config).schedules if s.enabled]


def times(schedules: list[Schedule], start: dt.datetime, count: int) -> list[str]:
    return [f"{r['due'][:16]} {r['name']}" for r in next_runs(schedules, count, start)]


def test_a_school_day_rings_the_timetable(tmp_path: Path) -> None:
    monday = dt.datetime(2027, 1, 4, 6, 0, tzinfo=dt.timezone.utc)  # 07:00 in Berlin
    assert times(school(tmp_path), monday, 16) == [
        "2027-01-04T07:55 morning",
        "2027-01-04T08:00 lessons-08",
        "2027-01-04T08:15 register",
        "2027-01-04T08:45 lessons-08",
        "2027-01-04T08:50 lessons-08",
        "2027-01-04T09:35 lessons-09",
        "2027-01-04T09:55 lessons-09",
        "2027-01-04T10:40 lessons-10",
        "2027-01-04T10:45 lessons-10",
        "2027-01-04T11:30 lunch",
        "2027-01-04T11:30 lunch-yard",
        "2027-01-04T12:15 lessons-12",
        "2027-01-04T13:00 lessons-13",
        "2027-01-04T13:05 lessons-13",
        "2027-01-04T13:50 lessons-13",
        "2027-01-05T07:55 morning",
    ]


def test_the_holidays_and_the_weekend_are_quiet(tmp_path: Path) -> None:
    """Friday 2026-12-18, 13:40 in Berlin: the staff meeting and the last bell, then
    nothing until Monday 4 January (holidays from the 21st, then a weekend)."""
    friday = dt.datetime(2026, 12, 18, 12, 40, tzinfo=dt.timezone.utc)
    assert times(school(tmp_path), friday, 3) == [
        "2026-12-18T13:45 staff-meeting",
        "2026-12-18T13:50 lessons-13",
        "2027-01-04T07:55 morning",
    ]
