"""The school's bell timetable of the docs (examples/relay/school-bells.toml) is a
configuration the relay takes, and rings what it says: the lesson bells of a school
day, none in the holidays. It runs as shipped: its sounds are in examples/relay/sounds,
a real relay started on it prepares every bell, and ``polyptt relay schedule next``
lists them (with the relay's own changes: a bell it paused is left out)."""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import soundfile
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.relay import add_token, start_relay
from tests.support.udp_capture import free_port

from polyptt.relay.bells.listing import next_lines
from polyptt.relay.bells.runner import next_runs
from polyptt.relay.bells.timetable import Schedule
from polyptt.relay.config import load_config

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "relay"
EXAMPLE = EXAMPLES / "school-bells.toml"
#: The bells of a school week: every schedule the timetable rings (not the fire drill,
#: disabled: rung by hand only).
RUNG = {"morning", "lessons-08", "lessons-09", "lessons-10", "lunch", "lunch-yard",
        "lessons-12", "lessons-13", "staff-meeting", "register"}  # fmt: skip


def school_copy(folder: Path) -> Path:
    """The example as shipped (the file and its sounds), in `folder`: the relay writes
    its audit log and tokens beside its config, never into the repository. The office's
    phone is paged by unicast: here it is this host's (a test sends to loopback only)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / EXAMPLE.name
    text = EXAMPLE.read_text()
    assert 'office = "192.0.2.20"' in text
    config.write_text(text.replace('office = "192.0.2.20"', 'office = "127.0.0.1"'))
    shutil.copytree(EXAMPLES / "sounds", folder / "sounds")
    return config


def school(tmp_path: Path) -> list[Schedule]:
    return [s for s in load_config(school_copy(tmp_path)).schedules if s.enabled]


def times(schedules: list[Schedule], start: dt.datetime, count: int) -> list[str]:
    return [f"{r['due'][:16]} {r['name']}" for r in next_runs(schedules, count, start)]


def test_the_examples_sounds_are_shipped_and_are_audio() -> None:
    sounds = {s.audio for s in load_config(EXAMPLE).schedules if s.audio is not None}
    assert sounds == {
        EXAMPLES / "sounds" / "school-bell.wav",
        EXAMPLES / "sounds" / "fire-drill.wav",
    }
    for sound in sounds:
        info = soundfile.info(str(sound))
        assert (info.samplerate, info.channels) == (16000, 1)
        assert 1 < info.duration < 5


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


def _next(config: Path, data: Path, count: int) -> tuple[list[str], list[list[str]]]:
    """``polyptt relay schedule next``'s lines, and what the listing makes of the same
    files just before and just after it ran (a minute may turn meanwhile)."""
    policy = load_config(config)

    def expected() -> list[str]:
        return next_lines(policy, data, dt.datetime.now(dt.timezone.utc), count)

    before = expected()
    done = subprocess.run(
        [*polyptt_command("relay", "schedule", "next"), "--count", str(count),
         "--config", str(config), "--data", str(data)],
        capture_output=True, text=True, env=polyptt_env(), timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    return done.stdout.splitlines(), [before, expected()]


@pytest.mark.network
def test_a_relay_runs_the_example_as_shipped(tmp_path: Path) -> None:
    """A relay on the example (its data in a temporary folder, multicast on loopback
    with TTL 0) prepares every bell's audio (the sounds decode, the spoken ones are
    synthesized); paused through its API, the yard's lunch call is not among the next
    runs `schedule next` reads from the relay's database; the disabled fire drill never is."""
    config = school_copy(tmp_path / "school")
    token = add_token(config, "Office", "schedule")
    data = tmp_path / "data"
    args = ["--data", str(data), "--iface", "127.0.0.1", "--ttl", "0"]
    relay = start_relay(config, udp_port=free_port(), args=args)
    try:
        status, listing = relay.request("GET", "/api/v1/schedules", token)
        paused = relay.request("POST", "/api/v1/schedules/lunch-yard/pause", token)[0]
        lines, expected = _next(config, data, 100)
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    assert status == 200
    prepared = {s["name"]: (s["enabled"], s["paused"], s["error"]) for s in listing["schedules"]}
    assert prepared == {
        **{name: (True, False, None) for name in RUNG},
        "fire-drill": (False, False, None),
    }
    assert paused == 200
    assert lines in expected
    assert {line.split("\t")[1] for line in lines} == RUNG - {"lunch-yard"}
    bells = [line for line in lines if "\tlessons-08\t" in line]
    assert bells[0].endswith("\tlessons-08\t26\taudio school-bell.wav")
