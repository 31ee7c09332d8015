"""What ``polyptt relay schedule list|next`` print, without a running relay.

The schedules are the config's and those the API stored in the data directory's
database (read if it exists; the config's win on a name clash, as in the relay), with
their pauses; times are shown on each schedule's wall clock (``2026-12-07 08:00 CET``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from pathlib import Path

from polyptt.relay.bells import persist
from polyptt.relay.bells.runner import next_runs
from polyptt.relay.bells.timetable import Schedule, next_due, parse_schedule
from polyptt.relay.config import RelayConfig

__all__ = ["known", "list_lines", "next_lines"]


def known(policy: RelayConfig, data: Path) -> list[tuple[Schedule, bool]]:
    """Every schedule (and whether it is paused), by name."""
    state = persist.State({}, {}, set())
    database = data / "relay.db"
    if database.is_file():
        with (
            contextlib.suppress(sqlite3.Error),
            contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn,
        ):
            state = persist.load(conn)
    schedules = {s.name: s for s in policy.schedules}
    for name, definition in state.definitions.items():
        if name not in schedules:
            with contextlib.suppress(ValueError):
                schedules[name] = parse_schedule(definition)
    return [(schedules[n], n in state.paused) for n in sorted(schedules)]


def _when(instant: dt.datetime, schedule: Schedule) -> str:
    return instant.astimezone(schedule.zone).strftime("%Y-%m-%d %H:%M %Z")


def list_lines(policy: RelayConfig, data: Path, now: dt.datetime) -> list[str]:
    """One line a schedule: name, next run (or why none), channel, what it plays."""
    lines = []
    for schedule, paused in known(policy, data):
        if not schedule.enabled:
            when = "disabled"
        elif paused:
            when = "paused"
        else:
            due = next_due(schedule, now)
            when = "never" if due is None else _when(due, schedule)
        lines.append(f"{schedule.name}\t{when}\t{schedule.channel}\t{schedule.plays()}")
    return lines


def next_lines(policy: RelayConfig, data: Path, now: dt.datetime, count: int) -> list[str]:
    """The next `count` runs of the active schedules: time, name, channel, what."""
    active = {s.name: s for s, paused in known(policy, data) if s.enabled and not paused}
    lines = []
    for run in next_runs(active.values(), count, now):
        schedule = active[run["name"]]
        due = dt.datetime.fromisoformat(run["due"])
        lines.append(f"{_when(due, schedule)}\t{schedule.name}\t{schedule.channel}\t{run['plays']}")
    return lines


def lines(config: Path | None, data: Path | None, count: int | None = None) -> list[str]:
    """``schedule list`` (`count` None) or ``schedule next --count``: the config
    (`polyptt.relay.job.load_policy`: `BadInput` if wrong) and the data directory's
    database (``--data``, else the config's ``data``, else the default)."""
    from polyptt.relay.job import load_policy
    from polyptt.relay.store.database import default_data_dir

    policy = load_policy(config)
    folder = data or policy.data or default_data_dir()
    now = dt.datetime.now(dt.timezone.utc)
    if count is None:
        return list_lines(policy, folder, now)
    return next_lines(policy, folder, now, count)
