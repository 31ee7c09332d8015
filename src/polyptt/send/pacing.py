"""Pacers: put a page's datagrams on the wire at their due times.

Two pacers drive the same :class:`~polyptt.send.schedule.Schedule` through the same
:class:`PageRun`, which holds everything they share: ask the source for each frame, send
what is due, keep the report, and turn any way out (the audio ends, a stop order, a
failure of the source or the sink) into the end packets. They differ only in how they
wait:

:func:`send_page`
    Blocking, for ``polyptt send``: sleeps on its clock with real-time priority while
    the page is on the wire, and notes SIGINT/SIGTERM instead of dying (the handlers
    are installed from the main thread only).
:func:`send_page_async`
    For an asyncio loop (``loop``): awaits absolute deadlines on its clock and never
    blocks the loop; stopped by an :class:`asyncio.Event` or by cancelling its task,
    and still sends the end packets either way.

Each takes the page as one :class:`~polyptt.send.schedule.PageParams` and its time from
a :class:`~polyptt.send.clock.Clock` (the real one by default; tests pass one that
only waiting moves).

Timing
------
Every datagram is due at a fixed offset from the page's start; a pacer waits for that
moment, never for an interval, so nothing drifts, and a pacer held up by the system
sends what is overdue at once, in order, and is back on schedule. A sink that records
rather than sends (``paced = False``, a capture file) gets the same offsets without
waiting. A live source that has not captured a frame by its due time is waited for;
the audio then continues from that moment, evenly paced (`Schedule.delay`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Protocol

from polyptt import protocol
from polyptt.send.clock import MONOTONIC, Clock
from polyptt.send.realtime_priority import realtime as realtime_priority
from polyptt.send.schedule import PageParams, Schedule
from polyptt.send.source import END_OF_AUDIO, FrameSource, as_source
from polyptt.signals import SignalFlag

__all__ = ["PageReport", "PageRun", "Sink", "send_page", "send_page_async"]

#: The last part of a wait is spent polling the clock instead of sleeping, because a
#: sleep can overshoot by the kernel's timer slack. 0 disables it (see benchmarks/pacing.py).
SPIN_S = 0.0
#: How often a pacer asks a live source again for a frame that was not ready.
POLL_S = 0.002
# A datagram due within this of now is due now: offsets and clock readings are floats,
# and a wait computed from one may land a rounding error short of the other.
_TOLERANCE_S = 1e-9
# The longest single sleep, so that a signal is acted on within this time even when the
# next packet is far away.
_MAX_SLEEP_S = 0.050


class Sink(Protocol):
    """Where a page's datagrams go.

    Attributes
    ----------
    paced : bool
        True if the pacer must wait for each packet's due time (a socket); False if
        the sink only records the offset (a capture file).
    """

    paced: bool

    def send(self, datagram: bytes, offset: float) -> None:
        """Deliver `datagram`, due `offset` seconds after the page's start."""


@dataclass
class PageReport:
    """What a page sent; filled in as it goes, so it is right even after an error.

    Attributes
    ----------
    alerts, transmits, ends : int
        Packets of each kind sent.
    start_count : int
        Sample count of the first frame.
    last_count : int or None
        Sample count of the last frame sent, None if no frame was.
    interrupted : int or None
        The signal (SIGINT, SIGTERM) that cut the page short, if one did.
    stopped : bool
        True if the page was ended before its audio was (a signal, a stop order, a
        cancelled task, a failure).
    offset : float
        Scheduled offset of the last packet sent: the page's length on the wire.
    elapsed : float
        Real seconds from the first packet to the last (0 for unpaced sinks).
    max_late : float
        The most a packet went out after its due time, in seconds (paced sinks).
    realtime : bool
        Whether the page was sent with real-time scheduling (see `polyptt.send.realtime_priority`).
    end_errors : list of str
        Why end packets could not be sent (each is tried even if one fails).
    """

    alerts: int = 0
    transmits: int = 0
    ends: int = 0
    start_count: int = 0
    last_count: int | None = None
    interrupted: int | None = None
    stopped: bool = False
    offset: float = 0.0
    elapsed: float = 0.0
    max_late: float = 0.0
    realtime: bool = False
    end_errors: list[str] = field(default_factory=list)

    @property
    def packets(self) -> int:
        """All packets sent."""
        return self.alerts + self.transmits + self.ends

    def describe(self, frame_ms: int) -> str:
        """The page in a few words, for a line a person reads: its audio, its length on
        the wire (alerts and ends included) and its packets, e.g. ``"1.7 s of audio (3.0
        s on the wire), 100 packets"``."""
        audio_s = self.transmits * frame_ms / 1000
        return f"{audio_s:.1f} s of audio ({self.offset:.1f} s on the wire), {self.packets} packets"


class PageRun:
    """One page in progress, whatever waits for its due times: the pacers' common core.

    Parameters
    ----------
    schedule : Schedule
        The page.
    source : FrameSource
        Its frames, asked for when each is due.
    sink : Sink
        Where datagrams go.
    report : PageReport, optional
        Filled in as the page goes.
    progress : callable, optional
        Called with the report after every packet (keep it cheap).
    """

    def __init__(
        self,
        schedule: Schedule,
        source: FrameSource,
        sink: Sink,
        *,
        report: PageReport | None = None,
        progress: Callable[[PageReport], None] | None = None,
    ) -> None:
        self.schedule = schedule
        self.source = source
        self.sink = sink
        self.report = report if report is not None else PageReport()
        self.report.start_count = schedule.start_count
        self.progress = progress
        #: End the audio after this many frames (a duration limit), if not None.
        self.max_frames = schedule.params.max_frames
        #: What the source or the sink raised; the page was ended because of it.
        self.failure: BaseException | None = None
        #: True while the source has no frame ready (the pacer polls it).
        self.starved = False
        self._ahead: bytes | None = None  # the next frame, asked for early

    @classmethod
    def start(
        cls,
        frames: FrameSource | Iterable[bytes],
        params: PageParams,
        sink: Sink,
        report: PageReport | None,
        progress: Callable[[PageReport], None] | None,
    ) -> PageRun:
        """The run of a new page of `params` (the pacers' common set-up)."""
        return cls(Schedule(params), as_source(frames), sink, report=report, progress=progress)

    def stop(self, at: float, signum: int | None = None) -> None:
        """End the page now (`at`: the page offset of this moment): ends follow."""
        if signum is not None and self.report.interrupted is None:
            self.report.interrupted = signum
        if not self.schedule.done:
            self.schedule.stop(at)
        self.report.stopped = self.schedule.stopped

    def advance(self, now: float) -> float | None:
        """Send everything due by page offset `now` (``math.inf``: everything, for an
        unpaced sink); return the next due offset, None once the page is over.

        While `starved`, the returned offset is a moment to ask the source again.
        """
        schedule = self.schedule
        report = self.report
        while (due := schedule.next_offset()) is not None:
            if due > now + _TOLERANCE_S:
                return due
            frame = None
            if schedule.wants_frame:
                frame = self._next_frame(due, now)
                if frame is None:
                    return now + POLL_S if now != math.inf else due
                if frame is END_OF_AUDIO:
                    continue
                due = schedule.next_offset() or due  # later if the frame came late
            datagram = schedule.take(frame)
            try:
                self.sink.send(datagram, due)
            except Exception as exc:
                if datagram[0] == protocol.OpCode.END:
                    report.end_errors.append(str(exc))  # the next end is tried all the same
                else:
                    self._fail(exc, due)
                continue
            kind = datagram[0]
            if kind == protocol.OpCode.TRANSMIT:
                report.transmits += 1
                report.last_count = schedule.last_count
                self._look_ahead(due)
            elif kind == protocol.OpCode.ALERT:
                report.alerts += 1
            else:
                report.ends += 1
            report.offset = due
            if now != math.inf:  # paced: how late this one went out, and when
                report.max_late = max(report.max_late, now - due)
                report.elapsed = now
            if self.progress is not None:
                self.progress(report)
        return None

    def finish(self) -> PageReport:
        """The report once the page is over; raises what ended it early, if anything."""
        from polyptt.transport import NetworkError

        if self.failure is not None:
            raise self.failure
        report = self.report
        if report.ends == 0 and report.end_errors:
            raise NetworkError(f"could not end the page: {report.end_errors[-1]}")
        return report

    def _next_frame(self, due: float, now: float) -> bytes | None:
        """The frame due now, `END_OF_AUDIO` (the schedule then turns to the ends), or
        None if the source has none ready yet."""
        frame, self._ahead = self._ahead, None
        if frame is None:
            frame = self._ask(due)
        if frame is None:
            self.starved = True
            return None
        if self.starved:  # it came late: continue from now rather than burst
            self.starved = False
            if now != math.inf:
                self.schedule.delay(now - due)
        return frame

    def _look_ahead(self, at: float) -> None:
        """Ask for the next frame as soon as one is sent: a source that has run dry is
        known at once, so the ends follow the last frame after exactly the pause."""
        frame = self._ask(at)
        if frame is not None and frame is not END_OF_AUDIO:
            self._ahead = frame

    def _ask(self, at: float) -> bytes | None:
        """The source's answer; the end of the audio (and of the page, if the source
        failed) is passed on to the schedule."""
        schedule = self.schedule
        if self.max_frames is not None and schedule.transmits >= self.max_frames:
            frame: bytes | None = END_OF_AUDIO
        else:
            try:
                frame = self.source.next_frame()
            except Exception as exc:
                self._fail(exc, at)
                return END_OF_AUDIO
        if frame is END_OF_AUDIO:
            schedule.end_audio()
        return frame

    def _fail(self, exc: BaseException, at: float) -> None:
        if self.failure is None:
            self.failure = exc
        self.stop(at)


def send_page(
    frames: FrameSource | Iterable[bytes],
    params: PageParams,
    *,
    sink: Sink,
    progress: Callable[[PageReport], None] | None = None,
    clock: Clock = MONOTONIC,
    spin_s: float = SPIN_S,
    realtime: bool = True,
    report: PageReport | None = None,
    on_first_signal: Callable[[], None] | None = None,
) -> PageReport:
    """Send one page, blocking until its last end packet is out.

    Parameters
    ----------
    frames : FrameSource or iterable of bytes
        Encoded frames of ``params.frame_ms`` each, in order: a list (a file), or a live
        source (see `polyptt.audio.live`) asked for each frame when it is due.
    params : PageParams
        The page: channel, sender, codec, frame length, first count, frame limit.
    sink : Sink
        A :class:`~polyptt.transport.UdpSink`, a :class:`~polyptt.pcap.PcapSink`, or
        anything with ``paced`` and ``send(datagram, offset)``.
    progress : callable, optional
        Called with the report after every packet (keep it cheap).
    clock : Clock
        What the schedule is kept on: read with ``now``, waited on with ``sleep``.
    spin_s : float
        Final part of each wait spent polling the clock rather than sleeping.
    realtime : bool
        Ask for real-time scheduling while a paced page is on the wire (granted or not,
        see `PageReport.realtime`); a sink that only records never needs it.
    report : PageReport, optional
        A fresh report to fill in, for a caller that wants the counts even when this
        function raises.
    on_first_signal : callable, optional
        Called on the first SIGINT/SIGTERM instead of ending the page at once (a live
        source then stops capturing and the audio it already has is sent); a second
        signal ends the page at once. By default the first signal ends it.

    Returns
    -------
    PageReport
        With ``interrupted`` set if SIGINT or SIGTERM arrived.

    Raises
    ------
    Exception
        Whatever the frame source or the sink raised, after the end packets were sent.
    """
    run = PageRun.start(frames, params, sink, report, progress)
    paced = sink.paced
    now, sleep = clock.now, clock.sleep
    with (
        SignalFlag() as flag,
        realtime_priority() if realtime and paced else nullcontext(False) as granted,
    ):
        run.report.realtime = granted
        start = now()
        signals_seen = 0

        def act_on_signals() -> bool:
            """Whether a new SIGINT/SIGTERM changed the page (checked before every wait)."""
            nonlocal signals_seen
            if flag.count == signals_seen:
                return False
            signals_seen = flag.count
            run.report.interrupted = flag.received
            if on_first_signal is not None and signals_seen == 1:
                on_first_signal()
            else:
                run.stop(now() - start if paced else run.schedule.last_offset, flag.received)
            return True

        while True:
            act_on_signals()
            wake = run.advance(now() - start if paced else math.inf)
            if act_on_signals():
                continue
            if wake is None:
                break
            if paced:
                remaining = start + wake - now()
                if remaining > spin_s:
                    sleep(min(remaining - spin_s, _MAX_SLEEP_S))
            elif run.starved:
                sleep(POLL_S)
    return run.finish()


async def send_page_async(
    frames: FrameSource | Iterable[bytes],
    params: PageParams,
    *,
    sink: Sink,
    stop: asyncio.Event | None = None,
    progress: Callable[[PageReport], None] | None = None,
    report: PageReport | None = None,
    clock: Clock = MONOTONIC,
) -> PageReport:
    """Send one page from an asyncio task, never blocking the loop.

    Parameters are those of :func:`send_page`, without the signal and scheduling ones
    (an event loop handles signals its own way; the clock is waited on with
    ``sleep_async``), and:

    stop : asyncio.Event, optional
        Set it to end the page now (a stop key, a lost client, a limit); the end
        packets follow.

    Cancelling the task ends the page too: the end packets still go out, paced if the
    task is left alone while they do (sent at once if it is cancelled again), and then
    `asyncio.CancelledError` propagates.
    """
    run = PageRun.start(frames, params, sink, report, progress)
    now = clock.now
    paced = sink.paced
    start = now()
    cancelled: asyncio.CancelledError | None = None
    hurry = False  # cancelled twice: the remaining ends go out at once
    while True:
        if stop is not None and stop.is_set() and not run.schedule.stopped:
            run.stop(now() - start if paced else run.schedule.last_offset)
        wake = run.advance(now() - start if paced and not hurry else math.inf)
        if wake is None:
            break
        if hurry:
            continue
        delay = start + wake - now() if paced else (POLL_S if run.starved else 0.0)
        try:
            await clock.sleep_async(max(0.0, delay))
        except asyncio.CancelledError as exc:
            # the request stays counted (the error is raised again at the end); this
            # only keeps the page going until its ends are out
            hurry = cancelled is not None
            cancelled = exc
            run.stop(now() - start if paced else run.schedule.last_offset)
    if cancelled is not None:
        raise cancelled
    return run.finish()
