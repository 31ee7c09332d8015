"""Every page the relay sent or heard, as rows of ``relay.db`` that outlive the relay.

The hub (`polyptt.relay.hub`) numbers each page with `PageStore.new_id`, writes its row
when it starts (`PageStore.started`) and completes it when it ends (`PageStore.ended`);
``GET /api/v1/pages`` pages through them (`PageStore.pages`) and
``/api/v1/pages/ID.wav`` serves the recording a row names (`PageStore.page`).

Ids are never reused
    A counter row (``page_counter``) holds the next id the store may hand out. Ids are
    reserved from it in blocks (`ID_BLOCK`): a block is committed before any of its ids
    is handed out, so neither a crash nor deleting the newest rows brings an id back.
    The next block is reserved in the worker thread while half of this one is left, so
    numbering a page never waits for the database; a clean stop gives the unused rest
    back (so ids run on without a gap), a crash skips it.

Writes never hold up a page
    A page's rows are written with `Database.submit`: queued to the database's one worker
    thread and not waited for, in the order of the page's events (one thread, one
    queue). A write that fails is logged once and counted (`PageStore.errors`); the page
    goes on.

The record
    Each row has a column for what one may want to query or sort by (direction,
    channel, target, caller id, serial, token, codec, frame size, start, end,
    duration, end reason, frames repaired/concealed, recording path) and the whole
    record as JSON (``record``): the API lists that JSON, so that the list and the
    events (`polyptt.relay.events`) carry the same record.

Interrupted pages
    A row without an end was being written when the relay died. `PageStore.open`
    repairs each (`polyptt.relay.store.repair`): its WAV gets a valid header for the
    audio flushed before the crash, the row ``end_reason: "interrupted"``, an end and
    a duration from that audio.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from polyptt.receive.recorder import iso_utc
from polyptt.relay.store.database import Database
from polyptt.relay.store.repair import repair_wav
from polyptt.relay.wire import PAGES_PATH

__all__ = [
    "DEFAULT_LIMIT",
    "ID_BLOCK",
    "MAX_LIMIT",
    "PageQuery",
    "PageStore",
    "parse_time",
    "wav_url",
]

log = logging.getLogger("polyptt.relay.store")

#: Ids reserved at a time (see the module docstring).
ID_BLOCK = 32

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS page_counter (one INTEGER PRIMARY KEY CHECK (one = 1), "
    "next INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS pages (
        id INTEGER PRIMARY KEY,
        direction TEXT NOT NULL,
        channel INTEGER NOT NULL,
        target TEXT,
        caller_id TEXT,
        serial INTEGER,
        token TEXT,
        via TEXT,
        codec TEXT,
        frame_ms INTEGER,
        start TEXT NOT NULL,
        start_ts REAL NOT NULL,
        "end" TEXT,
        duration_s REAL,
        end_reason TEXT,
        frames_repaired INTEGER,
        frames_concealed INTEGER,
        recording TEXT,
        recording_bytes INTEGER NOT NULL DEFAULT 0,
        record TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS pages_start ON pages (start_ts)",
    "CREATE INDEX IF NOT EXISTS pages_channel ON pages (channel, id)",
)

#: Columns filled from the record's keys of the same name.
_COLUMNS = (
    "direction",
    "channel",
    "target",
    "caller_id",
    "serial",
    "token",
    "via",
    "codec",
    "frame_ms",
    "start",
    "end",
    "duration_s",
    "end_reason",
    "frames_repaired",
    "frames_concealed",
)


def parse_time(text: str) -> float:
    """An ISO 8601 moment (``2026-12-06T08:00:00Z``, or with an offset; without one:
    UTC) in seconds since the epoch. Raises ValueError for anything else."""
    text = text.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


#: Pages listed when the query says no ``limit``, and the most it may ask.
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_QUERY_KEYS = ("limit", "before", "channel", "direction", "caller", "since", "until")


def _whole(params: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    text = params.get(name)
    if text is None:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)


def _moment(params: Mapping[str, str], name: str) -> float | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise ValueError(f"{name} must be an ISO 8601 time like 2026-12-06T08:00:00Z") from None


@dataclass(frozen=True)
class PageQuery:
    """Which pages ``GET /api/v1/pages`` lists: at most `limit`, newest first, with an
    id below `before`, on `channel`, in `direction`, from `caller`, started between
    `since` and `until` (seconds since the epoch)."""

    limit: int = 50
    before: int | None = None
    channel: int | None = None
    direction: str | None = None
    caller: str | None = None
    since: float | None = None
    until: float | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> PageQuery:
        """The query of ``GET /api/v1/pages?...``; ValueError (one line) if bad."""
        unknown = set(params) - set(_QUERY_KEYS) - {"token"}
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)} (expected {list(_QUERY_KEYS)})")
        limit = _whole(params, "limit", 1, MAX_LIMIT)
        direction = params.get("direction")
        if direction is not None and direction not in ("heard", "sent"):
            raise ValueError("direction must be heard or sent")
        return cls(
            limit=DEFAULT_LIMIT if limit is None else limit,
            before=_whole(params, "before", 1, 2**62),
            channel=_whole(params, "channel", 1, 50),
            direction=direction,
            caller=params.get("caller"),
            since=_moment(params, "since"),
            until=_moment(params, "until"),
        )

    def next_url(self, listed: list[dict[str, Any]]) -> str | None:
        """The URL of the pages after `listed` (this query, before its last id); None
        when fewer than asked were found (nothing more)."""
        if len(listed) < self.limit:
            return None
        params = {
            "limit": self.limit,
            "before": listed[-1]["id"],
            "channel": self.channel,
            "direction": self.direction,
            "caller": self.caller,
            "since": None if self.since is None else iso_utc(self.since),
            "until": None if self.until is None else iso_utc(self.until),
        }
        return f"{PAGES_PATH}?" + urlencode({k: v for k, v in params.items() if v is not None})

    def where(self) -> tuple[str, list[Any]]:
        """The SQL condition and its parameters."""
        tests: list[str] = []
        values: list[Any] = []
        for column, test, value in (
            ("id", "<", self.before),
            ("channel", "=", self.channel),
            ("direction", "=", self.direction),
            ("caller_id", "=", self.caller),
            ("start_ts", ">=", self.since),
            ("start_ts", "<", self.until),
        ):
            if value is not None:
                tests.append(f"{column} {test} ?")
                values.append(value)
        return (" AND ".join(tests) or "1"), values


def wav_url(page_id: int) -> str:
    """Where the API serves page `page_id`'s recording."""
    return f"{PAGES_PATH}/{page_id}.wav"


class PageStore:
    """The pages in `db` (its tables are declared here; see the module docstring).

    Parameters
    ----------
    db : Database
        Not yet open.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        db.schema(*SCHEMA)
        #: Writes that failed (the first is logged).
        self.errors = 0
        self._lock = threading.Lock()
        self._next = 0  # the next id to hand out
        self._limit = 0  # ids below it are reserved (committed)
        self._reserving = False

    # ------------------------------------------------------------ start and stop

    def open(self) -> list[dict[str, Any]]:
        """After the database is open: reserve the first ids and repair the pages a
        crash interrupted (their records, as repaired)."""
        repaired = self.db.call(_repair_interrupted)
        first = self.db.call(lambda conn: _reserve(conn, ID_BLOCK))
        with self._lock:
            self._next, self._limit = first, first + ID_BLOCK
        return repaired

    def close(self) -> None:
        """Give the unused reserved ids back (before the database closes)."""
        with self._lock:
            unused = self._next
            self._limit = self._next  # nothing more is handed out
        if unused:
            self.db.call(lambda conn: _give_back(conn, unused))

    # ------------------------------------------------------------ numbering and writing

    def new_id(self) -> int:
        """A new page id, never handed out before (see the module docstring)."""
        with self._lock:
            exhausted = self._next >= self._limit
        if exhausted:  # a burst used the block up before the next one came: wait once
            self._add_block(self.db.call(lambda conn: _reserve(conn, ID_BLOCK)))
        with self._lock:
            page_id = self._next
            self._next += 1
            prefetch = self._limit - self._next <= ID_BLOCK // 2 and not self._reserving
            self._reserving = self._reserving or prefetch
        if prefetch:  # outside the lock: a done future calls back at once, here
            reserved = self.db.submit(lambda conn: _reserve(conn, ID_BLOCK))
            reserved.add_done_callback(self._reserved)
        return page_id

    def started(self, record: dict[str, Any], recording: Path | None) -> None:
        """Write the row of a page that began (`recording`: where its WAV will be)."""
        row = _row(record, recording)
        self._write(lambda conn: _insert(conn, row), record["id"])

    def ended(self, record: dict[str, Any], recording: Path | None) -> None:
        """Complete the row of a page that ended (`recording`: its WAV, if written)."""
        row = _row(record, recording)
        self._write(lambda conn: _update(conn, row), record["id"])

    def rewrite(self, record: dict[str, Any]) -> None:
        """Write `record` again into its page's row, after the page ended (another
        site's answer to it came later: `polyptt.relay.sites`)."""
        text = json.dumps(record, ensure_ascii=False)

        def update(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE pages SET record = ? WHERE id = ?", (text, record["id"]))

        self._write(update, record["id"])

    # ------------------------------------------------------------ reading

    async def pages(
        self, query: PageQuery, visible: Callable[[dict[str, Any]], bool] = lambda _r: True
    ) -> list[dict[str, Any]]:
        """Up to ``query.limit`` records that `visible` allows, newest first."""
        return await self.db.run(lambda conn: _select(conn, query, visible))

    async def page(self, page_id: int) -> tuple[dict[str, Any], Path | None] | None:
        """Page `page_id`'s record and recording (None: no such page)."""

        def read(conn: sqlite3.Connection) -> tuple[dict[str, Any], Path | None] | None:
            row = conn.execute(
                "SELECT record, recording FROM pages WHERE id = ?", (page_id,)
            ).fetchone()
            if row is None:
                return None
            return json.loads(row["record"]), Path(row["recording"]) if row["recording"] else None

        return await self.db.run(read)

    # ------------------------------------------------------------ internals

    def _reserved(self, future: concurrent.futures.Future[int]) -> None:
        """The next block is committed (in the worker thread): hand it out next."""
        with self._lock:
            self._reserving = False
        if future.exception() is not None:
            self._failed(future.exception(), "reserve page ids")
            return
        self._add_block(future.result())

    def _add_block(self, first: int) -> None:
        """Ids from `first` on (`ID_BLOCK` of them) are reserved: after the current
        block if they follow it, else once it is used up (else skipped: ids are never
        reused, not necessarily consecutive)."""
        with self._lock:
            if first == self._limit:
                self._limit += ID_BLOCK
            elif self._next >= self._limit:
                self._next, self._limit = first, first + ID_BLOCK

    def _write(self, work: Callable[[sqlite3.Connection], None], page_id: int) -> None:
        try:
            future = self.db.submit(work)
        except Exception as exc:  # the database is closed: the relay is stopping
            self._failed(exc, f"write page {page_id}")
            return

        def done(written: concurrent.futures.Future[None]) -> None:
            if written.exception() is not None:
                self._failed(written.exception(), f"write page {page_id}")

        future.add_done_callback(done)

    def _failed(self, exc: BaseException | None, what: str) -> None:
        self.errors += 1
        if self.errors == 1:
            log.error("the page store cannot %s: %s (pages go on; logged once)", what, exc)


def _reserve(conn: sqlite3.Connection, count: int) -> int:
    """Reserve `count` ids (committed with this transaction); the first of them."""
    row = conn.execute("SELECT next FROM page_counter WHERE one = 1").fetchone()
    highest = conn.execute("SELECT COALESCE(MAX(id), 0) FROM pages").fetchone()[0]
    first = max(row["next"] if row is not None else 1, highest + 1)
    conn.execute(
        "INSERT INTO page_counter (one, next) VALUES (1, ?) "
        "ON CONFLICT (one) DO UPDATE SET next = excluded.next",
        (first + count,),
    )
    return int(first)


def _give_back(conn: sqlite3.Connection, unused: int) -> None:
    """Make `unused` the next id again, if nothing after it was handed out since."""
    highest = conn.execute("SELECT COALESCE(MAX(id), 0) FROM pages").fetchone()[0]
    if unused > highest:
        conn.execute(
            "UPDATE page_counter SET next = ? WHERE one = 1 AND next > ?", (unused, unused)
        )


def _row(record: dict[str, Any], recording: Path | None) -> dict[str, Any]:
    """The row's values for `record` (the columns, the JSON)."""
    row = {column: record.get(column) for column in _COLUMNS}
    if row["token"] is None and record.get("direction") == "sent":
        row["token"] = record.get("caller_id")  # the relay pages under its token's name
    row["id"] = record["id"]
    row["start_ts"] = parse_time(record["start"])
    row["recording"] = None if recording is None else str(recording)
    row["recording_bytes"] = 0  # measured in the worker thread (`_measured`)
    row["record"] = json.dumps(record, ensure_ascii=False)
    return row


def _size(path: Path | None) -> int:
    if path is None:
        return 0
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _measured(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with its recording's size (a file system call: in the worker thread)."""
    path = row["recording"]
    return {**row, "recording_bytes": _size(None if path is None else Path(path))}


def _insert(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
    row = _measured(row)
    names = list(row)
    columns = ", ".join(f'"{name}"' for name in names)
    marks = ", ".join(f":{name}" for name in names)
    conn.execute(f"INSERT OR REPLACE INTO pages ({columns}) VALUES ({marks})", row)


def _update(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
    if conn.execute("SELECT 1 FROM pages WHERE id = ?", (row["id"],)).fetchone() is None:
        _insert(conn, row)  # its start row was lost (a failed write): the end has it all
        return
    sets = ", ".join(f'"{name}" = :{name}' for name in row if name != "id")
    conn.execute(f"UPDATE pages SET {sets} WHERE id = :id", _measured(row))


def _select(
    conn: sqlite3.Connection, query: PageQuery, visible: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    where, values = query.where()
    found: list[dict[str, Any]] = []
    cursor = conn.execute(f"SELECT record FROM pages WHERE {where} ORDER BY id DESC", values)
    for (text,) in cursor:
        record = json.loads(text)
        if visible(record):
            found.append(record)
            if len(found) >= query.limit:
                break
    return found


def _repair_interrupted(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Complete every row without an end (see the module docstring)."""
    rows = conn.execute(
        'SELECT id, record, recording FROM pages WHERE "end" IS NULL ORDER BY id'
    ).fetchall()
    repaired = []
    for row in rows:
        record = json.loads(row["record"])
        recording = Path(row["recording"]) if row["recording"] else None
        duration = 0.0
        if recording is not None:
            recording, duration = _repair_recording(recording, record["id"])
        start = datetime.fromtimestamp(parse_time(record["start"]), tz=timezone.utc)
        end = (start + timedelta(seconds=duration)).isoformat(timespec="milliseconds")
        record.update(end=end.replace("+00:00", "Z"), duration_s=round(duration, 3))
        record["end_reason"] = "interrupted"
        if recording is not None:
            record["wav"] = wav_url(record["id"])
        _update(conn, _row(record, recording))
        _write_json(recording, record)
        log.warning(
            "page %d was interrupted by the relay's end: %.1f s of it kept",
            record["id"],
            duration,
        )
        repaired.append(record)
    return repaired


def _repair_recording(path: Path, page_id: int) -> tuple[Path | None, float]:
    """Repair `path`; (the path, or None if nothing usable is left, and its seconds)."""
    try:
        found = repair_wav(path)
    except FileNotFoundError:
        return None, 0.0  # the page had no audio yet
    except OSError as exc:
        log.error("cannot repair the recording of page %d (%s): %s", page_id, path, exc)
        return None, 0.0
    if found is None:
        log.error("the recording of page %d (%s) is no WAV: left as it is", page_id, path)
        return None, 0.0
    return path, found.duration_s


def _write_json(recording: Path | None, record: dict[str, Any]) -> None:
    """The record beside its repaired WAV, as the recorder writes it for a page that
    ended (its presence says the WAV is final)."""
    if recording is None:
        return
    try:
        saved = {k: v for k, v in record.items() if k not in ("id", "wav")}
        recording.with_suffix(".json").write_text(
            json.dumps(saved, indent=2, ensure_ascii=False) + "\n"
        )
    except OSError as exc:
        log.warning("cannot write %s: %s", recording.with_suffix(".json"), exc)
