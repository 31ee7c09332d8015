"""How long the store keeps pages: ``keep_days`` and ``keep_gb`` in the config.

`Retention.sweep` deletes, oldest first (by start), the pages that started more than
``keep_days`` ago, then as many more as it takes for the recordings left to total at
most ``keep_gb`` (10^9 bytes each). A deleted page loses its row and its recording (the
WAV and the JSON beside it). Pages in progress (no end yet) are never deleted.

The relay sweeps at start-up and every `SWEEP_S` (`run_retention`); each sweep that
deletes anything logs one line per reason, and the counts go to ``/metrics``
(``polyptt_relay_pages_deleted_total``, ``polyptt_relay_recording_bytes_deleted_total``).
The clock is a parameter, so that tests age the store without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from polyptt.relay.store.database import Database

__all__ = ["SWEEP_S", "Deleted", "Retention", "run_retention"]

log = logging.getLogger("polyptt.relay.store")

#: Seconds between sweeps while the relay runs.
SWEEP_S = 3600.0
_DAY_S = 86400.0
_GB = 1_000_000_000


@dataclass
class Deleted:
    """What one sweep deleted, per reason (``days``, ``size``)."""

    ids: dict[str, list[int]] = field(default_factory=lambda: {"days": [], "size": []})
    bytes: int = 0

    @property
    def count(self) -> int:
        return sum(len(ids) for ids in self.ids.values())


@dataclass
class Retention:
    """The store's limits; `now` is the wall clock (seconds since the epoch)."""

    db: Database
    keep_days: float | None = None
    keep_gb: float | None = None
    now: Callable[[], float] = time.time

    async def sweep(self) -> Deleted:
        """Delete what is beyond the limits (in the database's thread); what it was."""
        if self.keep_days is None and self.keep_gb is None:
            return Deleted()
        cutoff = None if self.keep_days is None else self.now() - self.keep_days * _DAY_S
        budget = None if self.keep_gb is None else round(self.keep_gb * _GB)
        deleted = await self.db.run(lambda conn: _sweep(conn, cutoff, budget))
        for reason, ids in deleted.ids.items():
            if ids:
                log.warning(
                    "retention deleted %d page%s (ids %s) %s",
                    len(ids),
                    "" if len(ids) == 1 else "s",
                    _ranges(ids),
                    f"older than {self.keep_days:g} days"
                    if reason == "days"
                    else f"beyond {self.keep_gb:g} GB of recordings",
                )
        return deleted


def _sweep(conn: sqlite3.Connection, cutoff: float | None, budget: int | None) -> Deleted:
    deleted = Deleted()
    if cutoff is not None:
        rows = conn.execute(
            'SELECT id, recording, recording_bytes FROM pages WHERE "end" IS NOT NULL '
            "AND start_ts < ? ORDER BY start_ts, id",
            (cutoff,),
        ).fetchall()
        for row in rows:
            _delete(conn, row, deleted, "days")
    if budget is not None:
        total = conn.execute("SELECT COALESCE(SUM(recording_bytes), 0) FROM pages").fetchone()[0]
        oldest = conn.execute(
            'SELECT id, recording, recording_bytes FROM pages WHERE "end" IS NOT NULL '
            "AND recording_bytes > 0 ORDER BY start_ts, id"
        )
        for row in oldest.fetchall():
            if total <= budget:
                break
            total -= row["recording_bytes"]
            _delete(conn, row, deleted, "size")
    return deleted


def _delete(conn: sqlite3.Connection, row: sqlite3.Row, deleted: Deleted, reason: str) -> None:
    """The page's files, then its row (a crash between leaves a row that 404s, never a
    file nothing lists)."""
    if row["recording"]:
        wav = Path(row["recording"])
        for path in (wav, wav.with_suffix(".json")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    conn.execute("DELETE FROM pages WHERE id = ?", (row["id"],))
    deleted.ids[reason].append(int(row["id"]))
    deleted.bytes += int(row["recording_bytes"] or 0)


def _ranges(ids: list[int]) -> str:
    """``1-4,7``: sorted ids as ranges."""
    ordered = sorted(ids)
    parts: list[str] = []
    first = last = ordered[0]
    for page_id in ordered[1:]:
        if page_id != last + 1:
            parts.append(f"{first}-{last}" if last > first else str(first))
            first = page_id
        last = page_id
    parts.append(f"{first}-{last}" if last > first else str(first))
    return ",".join(parts)


async def run_retention(
    retention: Retention, counted: Callable[[Deleted], None], period_s: float = SWEEP_S
) -> AsyncIterator[None]:
    """A sweep now and every `period_s` while the relay runs (a cleanup context body);
    `counted` is told each sweep's result (the metrics)."""

    async def sweep() -> None:
        try:
            counted(await retention.sweep())
        except Exception as exc:  # a locked or broken file: try again next time
            log.error("retention could not run: %s", exc)

    async def every_period() -> None:
        while True:
            await asyncio.sleep(period_s)
            await sweep()

    await sweep()
    task = asyncio.create_task(every_period())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
