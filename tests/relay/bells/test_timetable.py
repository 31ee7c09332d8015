"""When bells ring: cron in a time zone, skip dates, both daylight-saving changes, and
the config's one-line errors (`polyptt.relay.bells.timetable`). Pure: every moment is
given, no clock is read."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.relay import config_refusal

from polyptt.relay.bells.timetable import Schedule, dues_between, next_due, parse_schedule

UTC = dt.timezone.utc


def schedule(cron: str, zone: str = "Europe/Berlin", **extra: Any) -> Schedule:
    return parse_schedule(
        {"name": "bell", "cron": cron, "timezone": zone, "channel": 26, "audio": "b.wav", **extra}
    )


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def local(instant: dt.datetime | None, zone: str = "Europe/Berlin") -> str:
    from zoneinfo import ZoneInfo

    assert instant is not None
    return instant.astimezone(ZoneInfo(zone)).isoformat()


def test_a_cron_rings_on_its_time_zones_wall_clock() -> None:
    """08:00 on weekdays is 07:00 UTC in Berlin (winter) and 13:00 UTC in New York; a
    Friday's next run is Monday's."""
    friday = at(2026, 12, 4, 12)
    assert next_due(schedule("0 8 * * 1-5"), friday) == at(2026, 12, 7, 7)
    assert next_due(schedule("0 8 * * 1-5", "America/New_York"), friday) == at(2026, 12, 4, 13)
    summer = at(2026, 7, 1, 0)  # CEST: UTC+2
    assert next_due(schedule("0 8 * * *"), summer) == at(2026, 7, 1, 6)


def test_skip_dates_single_days_and_inclusive_ranges() -> None:
    bell = schedule("0 8 * * *", skip_dates=["2026-12-24", "2026-12-26..2027-01-02"])
    dues = dues_between(bell, at(2026, 12, 22), at(2027, 1, 5))
    assert [local(d)[:10] for d in dues] == [
        "2026-12-22", "2026-12-23", "2026-12-25", "2027-01-03", "2027-01-04"
    ]  # fmt: skip


def test_a_time_that_does_not_exist_rings_once_at_the_first_valid_minute() -> None:
    """Europe/Berlin, 2027-03-28: clocks go from 02:00 to 03:00. 02:30 rings at 03:00 CEST
    that day; every quarter of the lost hour, and 03:00 itself, ring once between them."""
    daily = schedule("30 2 * * *")
    assert local(next_due(daily, at(2027, 3, 27, 12))) == "2027-03-28T03:00:00+02:00"
    assert local(next_due(daily, at(2027, 3, 28, 1))) == "2027-03-29T02:30:00+02:00"
    quarters = schedule("*/15 2,3 * * *")
    dues = dues_between(quarters, at(2027, 3, 27, 23), at(2027, 3, 28, 2))
    assert [local(d)[11:16] for d in dues] == ["03:00", "03:15", "03:30", "03:45"]


def test_a_time_that_happens_twice_rings_once() -> None:
    """Europe/Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice and
    rings the first time only, also when asked from within the repeated hour."""
    daily = schedule("30 2 * * *")
    dues = dues_between(daily, at(2026, 10, 24, 12), at(2026, 10, 26, 12))
    assert [local(d) for d in dues] == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]
    second_pass = at(2026, 10, 25, 1, 15)  # 02:15 CET, the repeated hour
    assert local(next_due(daily, second_pass)) == "2026-10-26T02:30:00+01:00"
    quarters = schedule("*/15 2 * * *")
    assert len(dues_between(quarters, at(2026, 10, 24, 23), at(2026, 10, 25, 3))) == 4


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('cron = "0 8 * *"', "schedule 'morning': cron '0 8 * *' is not a 5-field cron "
         "expression (e.g. '0 8 * * 1-5')"),
        ('cron = "0 8 * * *"\ntimezone = "Mars/Olympus"', "schedule 'morning': timezone "
         "'Mars/Olympus' is not an IANA zone (e.g. 'Europe/Berlin')"),
        ('cron = "0 8 * * *"\nsay = "Hello"\naudio = "b.wav"', "schedule 'morning': give "
         "exactly one of audio = \"FILE\" and say = \"TEXT\""),
        ('cron = "0 8 * * *"\nsay = "Hi"\nskip_dates = ["2026-12-31..2026-12-24"]',
         "schedule 'morning': skip dates '2026-12-31..2026-12-24' end before they begin"),
    ],
)  # fmt: skip
def test_a_bad_schedule_is_one_line_naming_it(tmp_path: Path, table: str, message: str) -> None:
    config = tmp_path / "relay.toml"
    config.write_text(f'[[schedule]]\nname = "morning"\nchannel = 26\n{table}\n')
    assert config_refusal(config) == message


def test_the_relay_refuses_a_bad_schedule_at_start_up_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    config.write_text('[[schedule]]\nname = "morning"\ncron = "0 8 * *"\nchannel = 26\nsay = "x"\n')
    done = subprocess.run(
        [*polyptt_command(), "relay", "--config", str(config), "--data", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        env=polyptt_env(),
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"Error: Invalid value for '--config': {config}: schedule 'morning': cron '0 8 * *' "
        "is not a 5-field cron expression (e.g. '0 8 * * 1-5') (see 'polyptt relay --help')"
    ]
