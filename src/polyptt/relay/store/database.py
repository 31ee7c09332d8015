"""The relay's SQLite database: one file, one worker thread, the standard library's sqlite3.

Why one thread: a query (a listing, a retention sweep over thousands of rows) must never
hold up the event loop that paces pages and feeds listeners, and an `sqlite3.Connection`
belongs to the thread that made it. So the connection lives in a single worker thread
and every use of it is a function sent there: `Database.run` from the event loop (an
awaitable), `Database.call` from anywhere else (start-up, the command line, tests).
One writer at a time also means no ``database is locked`` between the relay's parts.

The file is in WAL mode (readers do not wait for the writer, and a crash loses no
committed row) with ``synchronous=NORMAL`` (a commit survives the process being killed;
only a power cut may lose the last ones). Each part of the relay declares its own
tables with `Database.schema`, before `Database.open`, as ``CREATE ... IF NOT EXISTS``
statements, so that a database written by an older relay is brought up to date.

Example::

    db = Database(data / "relay.db")
    db.schema("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT)")
    db.open()
    await db.run(lambda conn: conn.execute("INSERT INTO notes (text) VALUES (?)", ("hi",)))
    db.close()
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["DATABASE_NAME", "Database", "DatabaseError", "default_data_dir"]

T = TypeVar("T")

#: The database's file name inside the data directory.
DATABASE_NAME = "relay.db"


class DatabaseError(Exception):
    """The database cannot be opened or used; the message is one line naming the file."""


def default_data_dir() -> Path:
    """``$XDG_STATE_HOME/polyptt/relay`` (``~/.local/state`` without it): where a relay
    keeps its pages and schedules unless told (``--data``, ``data`` in the config)."""
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "polyptt" / "relay"


class Database:
    """One SQLite file used from one worker thread (see the module docstring).

    Parameters
    ----------
    path : Path or None
        The file; None keeps everything in memory (gone when closed: for tests and for
        library users who want no record).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._schema: list[str] = []
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._local = threading.local()

    def schema(self, *statements: str) -> None:
        """Statements run in order at `open` (``CREATE TABLE IF NOT EXISTS ...``)."""
        if self._executor is not None:
            raise RuntimeError("declare the schema before the database is opened")
        self._schema.extend(statements)

    def open(self) -> None:
        """Open (or create) the file and its tables.

        Raises
        ------
        DatabaseError
            The file or its folder cannot be made or read, or is not a database.
        """
        if self._executor is not None:
            return
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="polyptt-db")
        try:
            self._executor.submit(self._connect).result()
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise DatabaseError(f"{self.path}: cannot open the database: {exc}") from None

    def call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` (given the connection) in the worker thread, waited for here: for code
        outside the event loop. Each call is one transaction (committed if it returns)."""
        return self._submit(work).result()

    def submit(self, work: Callable[[sqlite3.Connection], T]) -> concurrent.futures.Future[T]:
        """`work` in the worker thread, not waited for (writes in order with the others;
        the future tells how it went)."""
        return self._submit(work)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in the worker thread, awaited: the event loop goes on meanwhile."""
        return await asyncio.wrap_future(self._submit(work))

    def post(self, work: Callable[[sqlite3.Connection], T]) -> concurrent.futures.Future[T]:
        """`work` queued for the worker thread now, not waited for: for writes made
        from code that must not wait (a page's packets). Work runs in the order it was
        posted or run, so a page's rows are written in the order of its events."""
        return self._submit(work)

    def close(self) -> None:
        """Finish what was sent, then close the file (a second call does nothing)."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        executor.submit(self._disconnect).result()
        executor.shutdown(wait=True)

    # ------------------------------------------------------------ the worker thread

    def _submit(self, work: Callable[[sqlite3.Connection], T]) -> concurrent.futures.Future[T]:
        if self._executor is None:
            raise DatabaseError(f"{self.path or 'the database'} is not open")
        return self._executor.submit(self._transaction, work)

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        connection: sqlite3.Connection = self._local.connection
        with connection:  # commits if `work` returns, rolls back if it raises
            return work(connection)

    def _connect(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        target = ":memory:" if self.path is None else str(self.path)
        connection = sqlite3.connect(target)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        for statement in self._schema:
            connection.execute(statement)
        connection.commit()
        self._local.connection = connection

    def _disconnect(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
