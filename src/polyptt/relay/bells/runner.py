"""The bells at run time: one asyncio task that rings each schedule when it is due.

`Bells` (``relay.bells``) keeps every schedule (the config's, and those made through
the API, from the database), each one's next run, and its audio, prepared ahead: a
file is decoded and encoded, a ``say`` text synthesized, when the schedule is loaded or
changed, so that at the due second the page starts at once (its first alert leaves
within milliseconds). A bell is one more sender on the relay's one page path
(`polyptt.relay.requests`: `admit` then `start`, ``via: "schedule"``), under a grant of
its own named after the schedule (the caller id phones show).

What happens to a run (`Bells.step`, at each wake-up, on the clock given):

- due and the channel free: it rings (event ``schedule_rang``, a row in
  ``schedule_runs``);
- due while the channel is busy (a page of the relay's or one heard on the LAN, the
  rule of `polyptt.receive.busy`): it waits, and rings as soon as the channel is free,
  up to ``wait_s`` after its due time. A bell never talks over a page in progress: if
  the channel is still busy then, the run is missed (reason ``busy``). That is how
  "delays a bell up to wait_s and then it rings" and "never talks over a page" are
  both kept: the wait ends when the channel frees or when wait_s runs out, whichever
  comes first, and only the first rings;
- found late at start-up (the relay was down at its due time): rung if less than
  ``grace_s`` late, else missed (reason ``late``); of several runs missed, only the last
  may ring.

The clock (`WallClock`) is injected: tests set it to any moment and call `step`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from polyptt.relay.bells import persist
from polyptt.relay.bells.timetable import Schedule, dues_between, next_due, upcoming
from polyptt.relay.events import SCHEDULE_MISSED, SCHEDULE_RANG
from polyptt.relay.tasks import cancel_and_wait

if TYPE_CHECKING:
    from polyptt.relay.auth import Grant
    from polyptt.relay.state import Relay

__all__ = ["BUSY_POLL_S", "Bells", "NoSuchSchedule", "ScheduleConflict", "SystemClock", "WallClock"]

log = logging.getLogger("polyptt.relay.bells")

#: How often a bell waiting for its busy channel looks again.
BUSY_POLL_S = 0.05
#: The last stretch before a run is slept in one piece (`Bells._run`).
LEAD_S = 0.2
#: How long before a run its audio file is looked at again (replaced: prepared again).
CHECK_S = 30.0
#: Longest sleep without looking (a changed schedule wakes the task anyway).
IDLE_S = 300.0
#: Runs missed at once that get a row each (the rest are counted in the log).
MAX_MISSED_ROWS = 20
#: Silence between a bell's repeats.
REPEAT_GAP_S = 1.0
_UTC = dt.timezone.utc


class WallClock(Protocol):
    """Seconds since the epoch (tests pass one they set)."""

    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class NoSuchSchedule(KeyError):
    """No schedule has that name."""


class ScheduleConflict(Exception):
    """The change cannot be made (a name taken, a schedule of the config)."""


@dataclass
class Entry:
    """A schedule and what the runner knows of it."""

    schedule: Schedule
    source: str  # "config" or "api"
    paused: bool = False
    pending: dt.datetime | None = None
    waiting: dt.datetime | None = None  # a due run waiting for its busy channel
    frames: list[bytes] | None = None
    error: str | None = None
    preparing: asyncio.Task[None] | None = field(default=None, repr=False)
    stamp: tuple[int, int] | None = None  # its file's when prepared (`_stamp`)
    checked: dt.datetime | None = None  # the run its file was last looked at for

    @property
    def active(self) -> bool:
        return self.schedule.enabled and not self.paused


def _iso(instant: dt.datetime, schedule: Schedule) -> str:
    return instant.astimezone(schedule.zone).isoformat()


class Bells:
    """The relay's schedules (see the module docstring).

    Parameters
    ----------
    relay : Relay
    configured : iterable of Schedule
        The config's ``[[schedule]]`` tables: they win over the API's of the same name.
    clock : WallClock
    """

    def __init__(
        self, relay: Relay, configured: Iterable[Schedule], clock: WallClock | None = None
    ) -> None:
        self.relay = relay
        self.configured = list(configured)
        self.clock: WallClock = clock or SystemClock()
        self.entries: dict[str, Entry] = {}
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Load the schedules and their state, prepare their audio, handle the runs
        missed while the relay was down (one `step`), then run."""
        state = await self.relay.db.run(persist.load)
        self._load(state)
        now = self._now()
        new = [name for name in self.entries if name not in state.last_due]
        # a schedule's missed runs are counted from the first start that knew it
        await self.relay.db.run(lambda c: persist.mark_all(c, new, now))
        await asyncio.gather(*(self._prepare(e) for e in self.entries.values()))
        await self.step()
        if self.entries:
            _settle()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop the runs and any audio being prepared, for sure (`cancel_and_wait`)."""
        preparing = [e.preparing for e in self.entries.values()]
        await cancel_and_wait([self._task, *preparing])

    def _load(self, state: persist.State) -> None:
        from polyptt.relay.bells.timetable import parse_schedule

        for schedule in self.configured:
            self.entries[schedule.name] = Entry(schedule, "config")
        for name, definition in state.definitions.items():
            if name in self.entries:
                log.warning("schedule %r: the config's wins over the one made by the API", name)
                continue
            try:
                self.entries[name] = Entry(parse_schedule(definition), "api")
            except ValueError as exc:  # written by another version: keep the relay up
                log.error("stored %s; skipped", exc)
        now = self._now()
        for name, entry in self.entries.items():
            entry.paused = name in state.paused
            last = state.last_due.get(name)
            entry.pending = next_due(entry.schedule, now if last is None else last)

    async def _run(self) -> None:
        """Step, sleep until the next wake-up (or a change), step again. The last
        `LEAD_S` before a run are one plain sleep: nothing else delays the page then."""
        while True:
            wake = await self.step()
            delay = wake - self.clock.now()
            if delay > LEAD_S:
                self._changed.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(delay - LEAD_S, IDLE_S))
                delay = wake - self.clock.now()
            if 0 < delay <= LEAD_S:
                await asyncio.sleep(delay)

    def wake(self) -> None:
        """Look at the schedules now (the clock was changed, or what is due)."""
        self._changed.set()

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock.now(), _UTC)

    # ------------------------------------------------------------ what is due

    async def step(self, now: float | None = None) -> float:
        """Handle every run due at `now` (the clock's if None); when to look next."""
        async with self._lock:
            moment = dt.datetime.fromtimestamp(self.clock.now() if now is None else now, _UTC)
            wake = moment.timestamp() + IDLE_S
            for entry in list(self.entries.values()):
                wake = min(wake, await self._step(entry, moment))
            return wake

    async def _step(self, entry: Entry, moment: dt.datetime) -> float:
        if entry.waiting is not None:
            await self._ring_waiting(entry, moment)
            if entry.waiting is not None:
                return moment.timestamp() + BUSY_POLL_S
        pending = entry.pending
        if pending is None:
            return math.inf
        if pending > moment:
            return self._ahead(entry, pending, moment)
        dues = [pending, *dues_between(entry.schedule, pending, moment)]
        entry.pending = next_due(entry.schedule, dues[-1])
        if entry.active:
            await self._due(entry, dues, moment)
        await self.relay.db.run(lambda c: persist.mark(c, entry.schedule.name, dues[-1]))
        return math.inf if entry.pending is None else entry.pending.timestamp()

    def _ahead(self, entry: Entry, pending: dt.datetime, moment: dt.datetime) -> float:
        """When to look at `entry` again before its run: `CHECK_S` before it, its file
        is looked at (a file replaced since it was prepared is prepared again)."""
        check = pending - dt.timedelta(seconds=CHECK_S)
        if entry.checked == pending:
            return pending.timestamp()
        if moment < check:
            return check.timestamp()
        entry.checked = pending
        idle = entry.preparing is None or entry.preparing.done()
        if idle and entry.stamp != _stamp(entry.schedule):
            log.info("schedule %r: its audio file changed", entry.schedule.name)
            self._changed_entry(entry)
        return pending.timestamp()

    async def _due(self, entry: Entry, dues: list[dt.datetime], moment: dt.datetime) -> None:
        """The runs of `entry` due by `moment`: the earlier ones missed, the last rung
        if within ``grace_s`` of its time (or made to wait for a busy channel)."""
        schedule = entry.schedule
        *earlier, last = dues
        if earlier:
            log.warning(
                "schedule %r: %d runs missed while the relay was down", schedule.name, len(earlier)
            )
        for due in earlier[-MAX_MISSED_ROWS:]:
            await self._missed(entry, due, "late")
        late = (moment - last).total_seconds()
        if late >= schedule.grace_s:
            await self._missed(entry, last, "late")
            return
        if entry.waiting is not None:  # a newer run replaces a run still waiting
            await self._missed(entry, entry.waiting, "busy")
        entry.waiting = last
        await self._ring_waiting(entry, moment)

    async def _ring_waiting(self, entry: Entry, moment: dt.datetime) -> None:
        """Ring the run waiting for its channel if the channel is free; missed once
        ``wait_s`` passed with the channel still busy."""
        from polyptt.relay.requests import BUSY, Refused

        due = entry.waiting
        assert due is not None
        try:
            page = await self._start(entry)
        except Refused as exc:
            if exc.code == BUSY and (moment - due).total_seconds() < entry.schedule.wait_s:
                return
            entry.waiting = None
            await self._missed(entry, due, "busy" if exc.code == BUSY else exc.message)
            return
        entry.waiting = None
        await self._rang(entry, due, page)

    # ------------------------------------------------------------ ringing

    async def _start(self, entry: Entry) -> int:
        """The page of `entry`, started now on the one page path; its id (`Refused`)."""
        from polyptt.relay import requests

        if entry.frames is None:
            if entry.preparing is not None:
                await asyncio.shield(entry.preparing)
            if entry.frames is None:
                raise requests.Refused(500, "audio", f"audio: {entry.error}")
        schedule = entry.schedule
        sites = None if schedule.sites is None else frozenset(schedule.sites)
        page = requests.PageRequest(channel=schedule.channel, target=schedule.target, sites=sites)
        grant = _grant(schedule)
        requests.admit(self.relay, grant, page, "schedule")
        talk = requests.start(
            self.relay,
            entry.frames,
            page,
            grant=grant,
            digest="",  # no token: the relay's own page, never revoked
            frame_ms=self.relay.settings.frame_ms,
            via="schedule",
            remote="schedule",
        )
        # the page's task hands it to the pacing thread before anything else is done
        # here (the record, the event): nothing of ours then competes with its alerts
        await asyncio.sleep(0)
        return talk.page_id

    async def _rang(self, entry: Entry, due: dt.datetime, page: int | None) -> None:
        schedule = entry.schedule
        log.info("schedule %r rang (due %s): page %s", schedule.name, _iso(due, schedule), page)
        self.relay.metrics.bells_rang += 1
        await self.relay.db.run(lambda c: persist.record_run(c, schedule.name, due, "rang", page))
        self.relay.events.emit(SCHEDULE_RANG, self._payload(schedule, due, page, None))

    async def _missed(self, entry: Entry, due: dt.datetime, reason: str) -> None:
        schedule = entry.schedule
        log.warning(
            "schedule %r missed its run of %s: %s", schedule.name, _iso(due, schedule), reason
        )
        self.relay.metrics.bells_missed += 1
        await self.relay.db.run(
            lambda c: persist.record_run(c, schedule.name, due, "missed", None, reason)
        )
        self.relay.events.emit(SCHEDULE_MISSED, self._payload(schedule, due, None, reason))

    @staticmethod
    def _payload(
        schedule: Schedule, due: dt.datetime, page: int | None, reason: str | None
    ) -> dict[str, Any]:
        return {
            "name": schedule.name,
            "due": _iso(due, schedule),
            "channel": schedule.channel,
            "page": page,
            "reason": reason,
        }

    async def _prepare(self, entry: Entry) -> None:
        """Make `entry`'s frames now (in a worker thread): at its due second it only
        starts. A failure is logged once and makes its runs missed until changed."""
        schedule = entry.schedule
        entry.frames, entry.error = None, None
        entry.stamp = _stamp(schedule)
        try:
            entry.frames = await asyncio.to_thread(self._frames, schedule)
        except Exception as exc:
            entry.error = str(exc) or type(exc).__name__
            log.error("schedule %r: cannot prepare its audio: %s", schedule.name, entry.error)

    def _frames(self, schedule: Schedule) -> list[bytes]:
        from polyptt import codecs
        from polyptt.relay.bells.sound import frames

        settings = self.relay.settings
        limit = settings.config.limits.max_page_s
        voice = settings.config.tts
        return frames(schedule, codecs.DEFAULT, settings.frame_ms, limit, REPEAT_GAP_S, voice)

    def _changed_entry(self, entry: Entry) -> None:
        """Prepare `entry` again (in the background) and wake the task."""
        if entry.preparing is not None:
            entry.preparing.cancel()
        entry.frames = None
        entry.preparing = asyncio.create_task(self._prepare(entry))
        self._changed.set()

    # ------------------------------------------------------------ what the API does

    def get(self, name: str) -> Entry:
        entry = self.entries.get(name)
        if entry is None:
            raise NoSuchSchedule(name)
        return entry

    def schedules(self) -> list[dict[str, Any]]:
        """Every schedule as the API shows it: its definition, ``source``, ``paused``,
        ``next`` (ISO, in its zone; None if paused, disabled or never again)."""
        return [self.describe(e) for _, e in sorted(self.entries.items())]

    def describe(self, entry: Entry) -> dict[str, Any]:
        schedule = entry.schedule
        nxt = next_due(schedule, self._now()) if entry.active else None
        return {
            **schedule.to_dict(),
            "source": entry.source,
            "paused": entry.paused,
            "next": None if nxt is None else _iso(nxt, schedule),
            "plays": schedule.plays(),
            "error": entry.error,
        }

    def next_runs(self, count: int, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """The next `count` runs of all active schedules, soonest first."""
        return next_runs(
            [e.schedule for e in self.entries.values() if e.active], count, now or self._now()
        )

    async def ring(self, name: str) -> int:
        """Ring `name` now (whatever its timetable says); its page id. `Refused` (409
        busy: a bell rung by hand does not wait)."""
        entry = self.get(name)
        due = self._now()
        page = await self._start(entry)
        await self._rang(entry, due, page)
        return page

    async def pause(self, name: str) -> None:
        await self._set_paused(name, True)

    async def resume(self, name: str) -> None:
        await self._set_paused(name, False)

    async def _set_paused(self, name: str, paused: bool) -> None:
        entry = self.get(name)
        async with self._lock:
            entry.paused = paused
            entry.waiting = None if paused else entry.waiting
            entry.pending = next_due(entry.schedule, self._now())
            await self.relay.db.run(lambda c: persist.set_paused(c, name, paused))
        self._changed.set()

    async def put(self, schedule: Schedule, *, create: bool = False) -> Entry:
        """Add or replace an API schedule (stored); `ScheduleConflict` for a config's, or
        (with `create`) a name taken."""
        existing = self.entries.get(schedule.name)
        if existing is not None and existing.source == "config":
            raise ScheduleConflict(
                f"schedule {schedule.name!r} is defined in the configuration: change it there"
            )
        if existing is not None and create:
            raise ScheduleConflict(f"a schedule named {schedule.name!r} exists")
        async with self._lock:
            now = self._now()
            await self.relay.db.run(lambda c: persist.save(c, schedule.to_dict()))
            await self.relay.db.run(lambda c: persist.mark(c, schedule.name, now))
            entry = Entry(schedule, "api", paused=existing.paused if existing else False)
            entry.pending = next_due(schedule, self._now())
            if existing is not None and existing.preparing is not None:
                existing.preparing.cancel()
            self.entries[schedule.name] = entry
        self._changed_entry(entry)
        return entry

    async def delete(self, name: str) -> None:
        entry = self.get(name)
        if entry.source == "config":
            raise ScheduleConflict(
                f"schedule {name!r} is defined in the configuration: remove it there"
            )
        async with self._lock:
            await self.relay.db.run(lambda c: persist.delete(c, name))
            del self.entries[name]
        if entry.preparing is not None:
            entry.preparing.cancel()
        self._changed.set()


def next_runs(schedules: Iterable[Schedule], count: int, now: dt.datetime) -> list[dict[str, Any]]:
    """The next `count` runs of `schedules` after `now`, soonest first."""
    import heapq
    import itertools

    each = [[(t, s.name, s) for t in itertools.islice(upcoming(s, now), count)] for s in schedules]
    runs = heapq.merge(*each)
    return [
        {
            "name": s.name,
            "due": _iso(t, s),
            "channel": s.channel,
            "target": s.target,
            "plays": s.plays(),
        }
        for t, _, s in itertools.islice(runs, count)
    ]


def _stamp(schedule: Schedule) -> tuple[int, int] | None:
    """The modification time and size of `schedule`'s file (None: none, or unreadable)."""
    if schedule.audio is None:
        return None
    try:
        info = schedule.audio.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _settle() -> None:
    """Keep a garbage collection of everything the start-up made from delaying a bell.

    A full collection of the started relay takes tens of milliseconds, and the first
    one came due at the first page (measured: 30-90 ms late first bells, 2-5 ms once
    this is done). What exists now lives as long as the relay: it is collected once and
    frozen (`gc.freeze`), so later collections do not walk it again.
    """
    import gc

    gc.collect()
    gc.freeze()


def _grant(schedule: Schedule) -> Grant:
    """The grant a bell pages under: its name as the caller id, any channel and target
    (whoever made the schedule was allowed them)."""
    from polyptt.protocol import fit_caller_id
    from polyptt.relay.auth import ALL_CHANNELS, Grant

    name, _cut = fit_caller_id(schedule.name)
    return Grant(name, frozenset({"talk", "emergency"}), ALL_CHANNELS, None, sites=None)
