"""The bells' tables in the relay's database (`polyptt.relay.store.database`).

- ``schedules``: the schedules made through the API (the config's are read from the file
  at every start), as their JSON definition (`Schedule.to_dict`);
- ``schedule_state``: per schedule name, the last run handled (rung or missed: the next
  start resumes after it, and finds the runs missed meanwhile) and whether it is paused;
- ``schedule_runs``: every run rung or missed, with its page id or the reason.

Every function takes the `sqlite3.Connection` and runs in the database's worker thread
(``await db.run(lambda c: load(c))``); the command line calls them on a connection of
its own, read-only.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SCHEMA",
    "State",
    "delete",
    "load",
    "mark",
    "mark_all",
    "record_run",
    "runs",
    "save",
    "set_paused",
]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS schedules (name TEXT PRIMARY KEY, definition TEXT NOT NULL,"
    " updated TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS schedule_state (name TEXT PRIMARY KEY, last_due TEXT,"
    " paused INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS schedule_runs (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL, due TEXT NOT NULL, at TEXT NOT NULL, outcome TEXT NOT NULL,"
    " page INTEGER, reason TEXT)",
)


@dataclass
class State:
    """What the database holds for the bells at start-up."""

    definitions: dict[str, dict[str, Any]]
    last_due: dict[str, dt.datetime]
    paused: set[str]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def load(conn: sqlite3.Connection) -> State:
    """Every stored definition, last run and pause."""
    definitions = {
        row[0]: json.loads(row[1]) for row in conn.execute("SELECT name, definition FROM schedules")
    }
    last_due: dict[str, dt.datetime] = {}
    paused: set[str] = set()
    for name, due, is_paused in conn.execute("SELECT name, last_due, paused FROM schedule_state"):
        if due:
            last_due[name] = dt.datetime.fromisoformat(due)
        if is_paused:
            paused.add(name)
    return State(definitions, last_due, paused)


def save(conn: sqlite3.Connection, definition: dict[str, Any]) -> None:
    """Store (or replace) a schedule made through the API."""
    conn.execute(
        "INSERT INTO schedules (name, definition, updated) VALUES (?, ?, ?) ON CONFLICT(name)"
        " DO UPDATE SET definition = excluded.definition, updated = excluded.updated",
        (definition["name"], json.dumps(definition), _now()),
    )


def delete(conn: sqlite3.Connection, name: str) -> None:
    conn.execute("DELETE FROM schedules WHERE name = ?", (name,))
    conn.execute("DELETE FROM schedule_state WHERE name = ?", (name,))


def mark(conn: sqlite3.Connection, name: str, due: dt.datetime) -> None:
    """`due` is the last run of `name` handled."""
    conn.execute(
        "INSERT INTO schedule_state (name, last_due) VALUES (?, ?) ON CONFLICT(name)"
        " DO UPDATE SET last_due = excluded.last_due",
        (name, due.isoformat()),
    )


def mark_all(conn: sqlite3.Connection, names: list[str], due: dt.datetime) -> None:
    for name in names:
        mark(conn, name, due)


def set_paused(conn: sqlite3.Connection, name: str, paused: bool) -> None:
    conn.execute(
        "INSERT INTO schedule_state (name, paused) VALUES (?, ?) ON CONFLICT(name)"
        " DO UPDATE SET paused = excluded.paused",
        (name, int(paused)),
    )


def record_run(
    conn: sqlite3.Connection,
    name: str,
    due: dt.datetime,
    outcome: str,
    page: int | None = None,
    reason: str | None = None,
) -> None:
    """One run: ``rang`` (with its page) or ``missed`` (with the reason)."""
    conn.execute(
        "INSERT INTO schedule_runs (name, due, at, outcome, page, reason)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (name, due.isoformat(), _now(), outcome, page, reason),
    )


def runs(conn: sqlite3.Connection, name: str | None = None) -> list[dict[str, Any]]:
    """The runs recorded (of `name`), oldest first."""
    query = "SELECT name, due, outcome, page, reason FROM schedule_runs"
    rows = conn.execute(
        query + (" WHERE name = ?" if name else "") + " ORDER BY id", (name,) if name else ()
    )
    keys = ("name", "due", "outcome", "page", "reason")
    return [dict(zip(keys, tuple(row), strict=True)) for row in rows]
