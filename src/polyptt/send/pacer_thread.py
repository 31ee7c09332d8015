"""One real-time thread that paces the pages of an asyncio program.

`send_page_async` waits on the event loop's timers, which is enough for one page in a
quiet program (``polyptt loop``). A relay with ten talkers is neither: its loop also
serves every WebSocket message, and its timers are only as punctual as the loop is idle;
epoll's millisecond timeouts round every wait up, and without real-time priority the
kernel lets other processes run first. Measured with ten talkers, a packet's p99
lateness was 2.5-3.4 ms on the loop against a 2 ms goal.

:class:`PacerThread` takes the waiting off the loop. One thread, with real-time
priority where the system grants it (`polyptt.send.realtime_priority`), holds every page in progress
in a heap of due times and sleeps with the clock's full precision until the next; it
drives each page through the same :class:`~polyptt.send.pacing.PageRun` as the other
pacers, so the bytes, the timing rules and the ends are theirs. The loop only submits a
page and awaits its report: :meth:`PacerThread.send_page` has the signature and the
stop/cancel semantics of `send_page_async`.

The thread runs the page's source too (`LiveFrames.next_frame`, the encoder): that work
is per frame, small, and releases the GIL in the codec.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import threading
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from polyptt.send.clock import MONOTONIC, Clock
from polyptt.send.pacing import POLL_S, PageReport, PageRun, Sink
from polyptt.send.realtime_priority import realtime as realtime_priority
from polyptt.send.schedule import PageParams
from polyptt.send.source import FrameSource

__all__ = ["PacerThread"]


@dataclass(eq=False)
class _Page:
    """A page in the thread's care, and how to tell its task that it is over."""

    run: PageRun
    paced: bool
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[PageReport]
    clock: Clock
    start: float = 0.0  # the clock's time of offset 0
    hurry: bool = False  # cancelled twice: the ends go out at once

    def now(self) -> float:
        """The page offset to advance to."""
        return self.clock.now() - self.start if self.paced and not self.hurry else math.inf

    def stop(self) -> None:
        run = self.run
        if not run.schedule.stopped:
            run.stop(self.clock.now() - self.start if self.paced else run.schedule.last_offset)


class PacerThread:
    """Paces pages for an asyncio loop from one real-time thread.

    Parameters
    ----------
    realtime : bool
        Ask for SCHED_FIFO for the thread (granted or not: see `realtime_granted`).
    clock : Clock
        What the pages are kept on (tests pass one that only waiting moves).

    Attributes
    ----------
    realtime_granted : bool or None
        Whether the thread got real-time priority (None before it started).

    Examples
    --------
    >>> pacer = PacerThread()                      # doctest: +SKIP
    >>> report = await pacer.send_page(frames, params, sink=sink)  # doctest: +SKIP
    >>> pacer.close()                              # doctest: +SKIP
    """

    def __init__(self, *, realtime: bool = True, clock: Clock = MONOTONIC) -> None:
        self.realtime = realtime
        self.clock = clock
        self.realtime_granted: bool | None = None
        self._wake = threading.Condition()
        self._inbox: list[Callable[[], None]] = []  # work for the thread, under _wake
        self._heap: list[tuple[float, int, _Page]] = []  # the thread's own
        self._order = itertools.count()
        self._closing = False
        self._thread: threading.Thread | None = None

    async def send_page(
        self,
        frames: FrameSource | Iterable[bytes],
        params: PageParams,
        *,
        sink: Sink,
        stop: asyncio.Event | None = None,
        progress: Callable[[PageReport], None] | None = None,
        report: PageReport | None = None,
    ) -> PageReport:
        """Send one page; as `~polyptt.send.pacing.send_page_async`, paced by the thread.

        The thread calls `sink.send`, `progress` and the source's ``next_frame``: keep
        them cheap, and hand anything meant for the loop over with
        ``loop.call_soon_threadsafe``.
        """
        run = PageRun.start(frames, params, sink, report, progress)
        loop = asyncio.get_running_loop()
        page = _Page(run, sink.paced, loop, loop.create_future(), self.clock)
        self._submit(lambda: self._add(page))
        stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
        cancelled: asyncio.CancelledError | None = None
        try:
            while not page.done.done():
                waiting: set[asyncio.Future[Any]] = {page.done}
                if stopping is not None and not stopping.done():
                    waiting.add(stopping)
                try:
                    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                except asyncio.CancelledError as exc:
                    # the page goes on until its ends are out; a second cancel hurries them
                    if cancelled is not None:
                        self._submit(lambda: _hurry(page))
                    cancelled = exc
                    self._submit(page.stop)
                    continue
                if stopping is not None and stopping.done():  # the stop event was set
                    self._submit(page.stop)
                    stopping = None
        finally:
            if stopping is not None:
                stopping.cancel()
        if cancelled is not None:
            raise cancelled
        return page.done.result()

    def close(self) -> None:
        """Stop the thread once the pages in its care are over (their ends sent)."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()

    # ------------------------------------------------------------------ the thread

    def _submit(self, work: Callable[[], None]) -> None:
        with self._wake:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="polyptt-pacer")
                self._thread.daemon = True
                self._thread.start()
            self._inbox.append(work)
            self._wake.notify()

    def _add(self, page: _Page) -> None:
        page.start = self.clock.now()  # the page starts when the thread takes it
        heapq.heappush(self._heap, (page.start, next(self._order), page))

    def _serve(self) -> None:
        with realtime_priority() if self.realtime else nullcontext(False) as granted:
            self.realtime_granted = granted
            while True:
                with self._wake:
                    work, self._inbox = self._inbox, []
                for job in work:
                    job()
                self._advance_due()
                with self._wake:
                    if self._inbox:
                        continue
                    if self._closing and not self._heap:
                        return
                    self.clock.wait(self._wake, self._heap[0][0] if self._heap else None)

    def _advance_due(self) -> None:
        heap, clock = self._heap, self.clock
        while heap and heap[0][0] <= clock.now():
            _due, _order, page = heapq.heappop(heap)
            try:
                wake = page.run.advance(page.now())
            except BaseException as exc:  # a bug: the page's task must still hear of it
                _tell(page, _settle, page.done, None, exc)
                continue
            if wake is None:
                _tell(page, _finish, page)
            else:
                if page.paced and not page.hurry:
                    due = page.start + wake
                else:  # a capture file, or ends in a hurry: at once, but poll a late source
                    due = clock.now() + (POLL_S if page.run.starved else 0.0)
                heapq.heappush(heap, (due, next(self._order), page))


def _tell(page: _Page, callback: Callable[..., None], *args: object) -> None:
    """Run `callback` on the page's loop (from the thread)."""
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        page.loop.call_soon_threadsafe(callback, *args)


def _hurry(page: _Page) -> None:
    page.hurry = True
    page.stop()


def _finish(page: _Page) -> None:
    """On the loop: hand the report (or what ended the page early) to its task."""
    try:
        report = page.run.finish()
    except Exception as exc:
        _settle(page.done, None, exc)
    else:
        _settle(page.done, report, None)


def _settle(
    done: asyncio.Future[PageReport], report: PageReport | None, exc: BaseException | None
) -> None:
    if done.done():
        return
    if exc is not None:
        done.set_exception(exc)
    else:
        assert report is not None
        done.set_result(report)
