"""The page sender: alerts, audio frames and ends, on a fixed schedule.

A page is a session on a channel (see ``PROTOCOL.md``): :data:`~polyptt.protocol.ALERT_COUNT`
alert packets 30 ms apart, one transmit packet per audio frame at the frame cadence,
a 50 ms pause, then :data:`~polyptt.protocol.END_COUNT` end packets 30 ms apart.
:func:`send_page` sends one from any iterable of encoded frames, so a file, a microphone
or the relay can feed it, to any :class:`Sink` (a UDP socket or a capture file).

Timing
------
Every packet has a due time, an offset from the page's start fixed in advance. The
sender sleeps until each due time on ``time.monotonic`` and sends; it never adds
intervals up, so there is no drift, and a process that was held up (a loaded machine,
a stopped terminal) sends what is overdue at once, in order, and is back on schedule.
A sink that records rather than sends (``paced = False``) gets the same offsets without
any waiting.

Ending
------
Phones stay in a page until they see its end packets, so a page that has sent its first
alert always sends the ends: after the last frame, on SIGINT or SIGTERM (the handlers
are installed only while the page runs, from the main thread), and when the frame
source or the sink raises. An interrupted page reports the signal in
:attr:`PageReport.interrupted`; an exception is re-raised once the ends are out.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Protocol

from polyptt import protocol
from polyptt.scheduling import realtime as realtime_priority
from polyptt.signals import SignalFlag

__all__ = ["PageReport", "Sink", "send_page", "transmit_offset"]

#: The last part of a wait is spent polling the clock instead of sleeping, because a
#: sleep can overshoot by the kernel's timer slack. 0 disables it (see benchmarks/pacing.py).
SPIN_S = 0.0

# The longest single sleep, so that a signal is acted on within this time even when the
# next packet is far away.
_MAX_SLEEP_S = 0.050


class Sink(Protocol):
    """Where a page's datagrams go.

    Attributes
    ----------
    paced : bool
        True if the sender must wait for each packet's due time (a socket); False if
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
    offset : float
        Scheduled offset of the last packet sent: the page's length on the wire.
    elapsed : float
        Real seconds from the first packet to the last (0 for unpaced sinks).
    max_late : float
        The most a packet went out after its due time, in seconds (paced sinks).
    realtime : bool
        Whether the page was sent with real-time scheduling (see `polyptt.scheduling`).
    """

    alerts: int = 0
    transmits: int = 0
    ends: int = 0
    start_count: int = 0
    last_count: int | None = None
    interrupted: int | None = None
    offset: float = 0.0
    elapsed: float = 0.0
    max_late: float = 0.0
    realtime: bool = False
    end_errors: list[str] = field(default_factory=list)

    @property
    def packets(self) -> int:
        """All packets sent."""
        return self.alerts + self.transmits + self.ends


def transmit_offset(index: int, frame_ms: int) -> float:
    """Due offset of the `index`-th transmit packet (0-based): one alert interval after
    the last alert, then one per frame."""
    return protocol.ALERT_COUNT * protocol.ALERT_INTERVAL_S + index * frame_ms / 1000


class _Interrupted(Exception):
    """Internal: leaves the send loop when a signal was noted."""


class _Pacer:
    """Waits for due offsets on an absolute schedule and sends."""

    def __init__(
        self,
        sink: Sink,
        report: PageReport,
        flag: SignalFlag,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        spin_s: float,
    ) -> None:
        self.sink = sink
        self.report = report
        self.flag = flag
        self.clock = clock
        self.sleep = sleep
        self.spin_s = spin_s
        self.start = clock()
        self.interruptible = True

    def now(self) -> float:
        """Offset of this moment in the page (for unpaced sinks: the last offset sent)."""
        if not self.sink.paced:
            return self.report.offset
        return self.clock() - self.start

    def _check(self) -> None:
        if self.interruptible and self.flag.received is not None:
            raise _Interrupted

    def _wait(self, offset: float) -> None:
        due = self.start + offset
        while True:
            self._check()
            remaining = due - self.clock()
            if remaining <= 0:
                return
            if remaining > self.spin_s:
                self.sleep(min(remaining - self.spin_s, _MAX_SLEEP_S))

    def send(self, datagram: bytes, offset: float) -> None:
        if self.sink.paced:
            self._wait(offset)
            late = self.clock() - self.start - offset
            self.report.max_late = max(self.report.max_late, late)
        else:
            self._check()
        self.sink.send(datagram, offset)
        self.report.offset = offset
        if self.sink.paced:
            self.report.elapsed = self.clock() - self.start


def send_page(
    frames: Iterable[bytes],
    *,
    sink: Sink,
    channel: int,
    serial: int,
    caller_id: str,
    codec: protocol.CodecId,
    frame_ms: int,
    start_count: int | None = None,
    progress: Callable[[PageReport], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    spin_s: float = SPIN_S,
    realtime: bool = True,
    report: PageReport | None = None,
) -> PageReport:
    """Send one page: alerts, a transmit packet per frame, ends.

    Parameters
    ----------
    frames : iterable of bytes
        Encoded frames of `frame_ms` each, in order; consumed lazily, so a live source
        can produce them as the page goes (it must keep up with the frame cadence).
    sink : Sink
        A :class:`~polyptt.transport.UdpSink`, a :class:`~polyptt.pcap.PcapSink`, or
        anything with ``paced`` and ``send(datagram, offset)``.
    channel : int
        1-50.
    serial : int
        Host serial (32-bit).
    caller_id : str
        Shown on the phones; cut to 13 UTF-8 bytes.
    codec : protocol.CodecId
        Wire codec of the frames.
    frame_ms : int
        Length of one frame; the sample count advances by 8 per millisecond.
    start_count : int, optional
        Sample count of the first frame; random by default (as phones do).
    progress : callable, optional
        Called with the report after every packet (keep it cheap).
    clock, sleep : callables
        The monotonic clock and the sleep the schedule uses (tests inject fakes).
    spin_s : float
        Final part of each wait spent polling the clock rather than sleeping.
    realtime : bool
        Ask for real-time scheduling while a paced page is on the wire (granted or not,
        see `PageReport.realtime`); a sink that only records never needs it.
    report : PageReport, optional
        A fresh report to fill in, for a caller that wants the counts even when this
        function raises.

    Returns
    -------
    PageReport
        With ``interrupted`` set if SIGINT or SIGTERM ended the page early.

    Raises
    ------
    Exception
        Whatever the frame source or the sink raised, after the end packets were sent.
    """
    if start_count is None:
        start_count = int.from_bytes(os.urandom(4), "big")
    step = frame_ms * protocol.SAMPLE_CLOCK_HZ // 1000
    alert = bytes(protocol.AlertPacket(channel, serial, caller_id))
    end = bytes(protocol.EndPacket(channel, serial, caller_id))
    report = report if report is not None else PageReport()
    report.start_count = start_count

    def note_progress() -> None:
        if progress is not None:
            progress(report)

    with (
        SignalFlag() as flag,
        realtime_priority() if realtime and sink.paced else nullcontext(False) as granted,
    ):
        report.realtime = granted
        pacer = _Pacer(sink, report, flag, clock, sleep, spin_s)
        end_base: float | None = None
        failure: BaseException | None = None
        try:
            for index in range(protocol.ALERT_COUNT):
                pacer.send(alert, index * protocol.ALERT_INTERVAL_S)
                report.alerts += 1
                note_progress()
            previous = b""
            count = start_count
            for index, frame in enumerate(frames):
                packet = protocol.TransmitPacket.from_frames(
                    channel=channel,
                    serial=serial,
                    caller_id=caller_id,
                    codec=codec,
                    sample_count=count,
                    frame=frame,
                    redundant=previous,
                )
                pacer.send(bytes(packet), transmit_offset(index, frame_ms))
                report.transmits += 1
                report.last_count = count
                note_progress()
                previous = frame
                count = protocol.advance(count, step)
            end_base = report.offset + protocol.END_PAUSE_S
        except _Interrupted:
            report.interrupted = flag.received
        except BaseException as exc:  # the page must still end; re-raised below
            failure = exc
        if end_base is None:
            end_base = max(report.offset, pacer.now()) + protocol.END_PAUSE_S
        pacer.interruptible = False
        _send_ends(pacer, end, end_base, report, note_progress)
        if report.interrupted is None and failure is None:
            report.interrupted = flag.received
    if failure is not None:
        raise failure
    if report.ends == 0 and report.end_errors:
        from polyptt.transport import NetworkError

        raise NetworkError(f"could not end the page: {report.end_errors[-1]}")
    return report


def _send_ends(
    pacer: _Pacer,
    end: bytes,
    base: float,
    report: PageReport,
    note_progress: Callable[[], None],
) -> None:
    """All end packets, each tried even if one fails: phones must hear at least one."""
    for index in range(protocol.END_COUNT):
        try:
            pacer.send(end, base + index * protocol.END_INTERVAL_S)
        except Exception as exc:  # a failed end must not stop the next one
            report.end_errors.append(str(exc))
            continue
        report.ends += 1
        note_progress()
