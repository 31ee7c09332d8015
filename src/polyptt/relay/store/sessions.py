"""Browser sessions that outlive a relay restart.

A relay restarted at 3 a.m. (an upgrade, a crash, systemd) must not sign every browser
out: a nurse's station left on the web page would stay silent until someone logs in
again. So the session ids the browsers' cookies carry are kept in the database as well
as in memory. Lookups (every request of a browser) are answered from memory; changes are
written through in the database's worker thread without waiting (its one thread keeps
them in order), and the table is read back at start-up.

Only a SHA-256 of each session id is written: a copy of the database gives nobody a
cookie. A session still ends at sign-out, when its token is revoked or expires
(`polyptt.relay.app.cut_off`), and when `MAX_SESSIONS` newer ones push it out.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import sqlite3
import time
from collections.abc import Iterator

from polyptt.relay.store.database import Database

__all__ = ["MAX_SESSIONS", "Sessions"]

log = logging.getLogger("polyptt.relay")

#: Sessions kept at most; the oldest goes first.
MAX_SESSIONS = 10_000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sessions ("
    " id_hash TEXT PRIMARY KEY, digest TEXT NOT NULL, created REAL NOT NULL)"
)


def _hashed(session: str) -> str:
    return hashlib.sha256(session.encode()).hexdigest()


class Sessions:
    """Session id -> its token's digest, in memory and in `db` (see the module docstring).

    Parameters
    ----------
    db : Database
        Not yet open: the table is declared here, read by `load` once it is.
    limit : int
    """

    def __init__(self, db: Database, limit: int = MAX_SESSIONS) -> None:
        self._db = db
        self._limit = limit
        # kept by hash: what was read back at start-up is all the relay knows then
        self._digests: collections.OrderedDict[str, str] = collections.OrderedDict()
        db.schema(_SCHEMA)

    def load(self) -> None:
        """Read the sessions of earlier runs (blocking: at start-up, before serving)."""

        def read(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return conn.execute("SELECT id_hash, digest FROM sessions ORDER BY created").fetchall()

        for row in self._db.call(read)[-self._limit :]:
            self._digests[row["id_hash"]] = row["digest"]

    def add(self, session: str, digest: str) -> None:
        """Remember `session` for the token of `digest`; the oldest beyond the limit go."""
        key = _hashed(session)
        self._digests[key] = digest
        now = time.time()
        self._write(
            "INSERT OR REPLACE INTO sessions (id_hash, digest, created) VALUES (?, ?, ?)",
            (key, digest, now),
        )
        while len(self._digests) > self._limit:
            old, _ = self._digests.popitem(last=False)
            self._write("DELETE FROM sessions WHERE id_hash = ?", (old,))

    def digest(self, session: str) -> str | None:
        """The token digest of `session`, or None (unknown or ended)."""
        return self._digests.get(_hashed(session)) if session else None

    def end(self, session: str) -> None:
        """Forget `session` (signing out)."""
        self._forget(_hashed(session))

    def end_where(self, digest: str) -> None:
        """Forget every session of the token of `digest` (revoked or expired)."""
        for key in [k for k, d in self._digests.items() if d == digest]:
            self._forget(key)

    def digests(self) -> Iterator[str]:
        """The distinct token digests that have sessions."""
        return iter(set(self._digests.values()))

    def __len__(self) -> int:
        return len(self._digests)

    def _forget(self, key: str) -> None:
        if self._digests.pop(key, None) is not None:
            self._write("DELETE FROM sessions WHERE id_hash = ?", (key,))

    def _write(self, statement: str, values: tuple[object, ...]) -> None:
        """Write through, without waiting; a failure is logged (the session still works
        until the relay restarts)."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(statement, values)

        future = self._db.submit(work)
        future.add_done_callback(_log_failure)


def _log_failure(future: object) -> None:
    exc = future.exception()  # type: ignore[attr-defined]
    if exc is not None:
        log.error("cannot keep a browser session in the database: %s", exc)
