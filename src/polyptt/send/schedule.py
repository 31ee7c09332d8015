"""A page as a schedule: which datagram goes out when, with no I/O and no clock.

A page (see ``docs/protocol.md``) is :data:`~polyptt.protocol.ALERT_COUNT` alerts 30 ms apart,
one transmit packet per frame at the frame cadence, a 50 ms pause and
:data:`~polyptt.protocol.END_COUNT` ends 30 ms apart. :class:`Schedule` knows that order
and every packet's due offset from the page's start, and builds each datagram from the
frame it is handed; a pacer (``polyptt.send.pacing``, blocking or asyncio) decides when
to ask and where the datagram goes. Keeping the schedule free of sockets, clocks and
threads is what lets ``send``, ``loop`` and the relay share it, and lets tests check
every byte and offset without waiting.

Why the bytes are assembled by hand
-----------------------------------
Everything in a transmit packet but the sample count and the audio is the same for the
whole page, so the 22-byte prefix is built (and validated, through
`polyptt.protocol.Header`) once; each packet is then one concatenation. Building a
validated `~polyptt.protocol.TransmitPacket` per frame cost several microseconds per
packet (``benchmarks/packets.py``); the tests check that the bytes are identical.

Ending
------
A page that has sent anything must end with its end packets, so every way out leads to
them: the frame source running dry (:meth:`Schedule.end_audio`), and an order to stop
now (:meth:`Schedule.stop`: a signal, a stop key, a lost client, a time limit), which
skips the alerts or audio still due.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass

from polyptt import protocol

__all__ = ["PageParams", "Phase", "Schedule", "page_length", "transmit_offset"]


@dataclass(frozen=True)
class PageParams:
    """Who pages where, in what, for how long: everything about a page but its audio.

    The one description of a page that the schedule, every pacer
    (`polyptt.send.pacing.send_page`, `~polyptt.send.pacing.send_page_async`,
    `~polyptt.send.pacer_thread.PacerThread`) and the relay's talks share, instead of
    the same keywords repeated in each.

    Attributes
    ----------
    channel : int
        1-50.
    serial : int
        The sender's 32-bit identity.
    caller_id : str
        Shown on the phones; cut to 13 UTF-8 bytes.
    codec : protocol.CodecId
        Wire codec of the frames.
    frame_ms : int
        Audio per frame; the sample count advances by 8 per millisecond.
    start_count : int or None
        Sample count of the first frame; None: a random one, as phones draw.
    max_frames : int or None
        End the audio after this many frames (a duration limit); None: no limit.
    """

    channel: int
    serial: int
    caller_id: str
    codec: protocol.CodecId
    frame_ms: int
    start_count: int | None = None
    max_frames: int | None = None

    @property
    def count_step(self) -> int:
        """Sample-count ticks (8 kHz) per frame."""
        return self.frame_ms * protocol.SAMPLE_CLOCK_HZ // 1000


class Phase(enum.Enum):
    """Where a page is: the next datagram is an alert, a transmit, an end, or none."""

    ALERTS = "alerts"
    AUDIO = "audio"
    ENDS = "ends"
    DONE = "done"


def transmit_offset(index: int, frame_ms: int) -> float:
    """Due offset of the `index`-th transmit packet (0-based) of an undelayed page: one
    alert interval after the last alert, then one per frame."""
    return protocol.ALERT_COUNT * protocol.ALERT_INTERVAL_S + index * frame_ms / 1000


def page_length(frames: int, frame_ms: int) -> float:
    """Offset of the last end packet of an undelayed page of `frames` frames: how long it
    is on the wire, for progress displays."""
    last_transmit = transmit_offset(max(frames - 1, 0), frame_ms)
    return last_transmit + protocol.END_PAUSE_S + (protocol.END_COUNT - 1) * protocol.END_INTERVAL_S


def random_start_count() -> int:
    """A random first sample count, as phones draw one, below 2**31.

    A count anywhere in 2**32 could wrap inside the page (about 2e-6 per second of
    audio); receivers that sort frames by a plain numeric sort (the original PolyPtt's
    does) would then play the page out of order. Below 2**31, as in the advisory's
    capture, a page would need to last 3 days to wrap.
    """
    return int.from_bytes(os.urandom(4), "big") >> 1


class Schedule:
    """The datagrams of one page and their due offsets, in order.

    Call :meth:`next_offset` for when the next datagram is due, then :meth:`take` to get
    it (passing the frame when :attr:`wants_frame`). Offsets are seconds from the page's
    start; :meth:`delay` shifts all later ones (a live source that fell behind).

    Parameters
    ----------
    params : PageParams
        The page.
    start_count : int, optional
        Sample count of the first frame, instead of ``params.start_count``; random if
        both are None (as phones do).

    Attributes
    ----------
    alerts, transmits, ends : int
        Datagrams of each kind taken so far.
    start_count : int
        Sample count of the first frame.
    last_count : int or None
        Sample count of the last frame taken, None before the first.
    stopped : bool
        True if :meth:`stop` cut the page short.
    """

    def __init__(self, params: PageParams, *, start_count: int | None = None) -> None:
        self.params = params
        if start_count is None:
            start_count = params.start_count
        self.start_count = random_start_count() if start_count is None else start_count
        protocol.advance(self.start_count, 0)  # validates the 32-bit range
        header = protocol.Header(
            protocol.OpCode.TRANSMIT, params.channel, params.serial, params.caller_id
        )
        tail = bytes(header)[1:]  # channel, serial, caller id: the same in every packet
        self.alert = bytes([protocol.OpCode.ALERT]) + tail
        self.end = bytes([protocol.OpCode.END]) + tail
        self._prefix = bytes(header) + bytes([protocol.CodecId(params.codec), 0])
        self._frame_s = params.frame_ms / 1000
        self._step = params.count_step
        self.phase = Phase.ALERTS
        self.alerts = 0
        self.transmits = 0
        self.ends = 0
        self.last_count: int | None = None
        self.stopped = False
        self._count = self.start_count
        self._previous = b""
        self._shift = 0.0  # accumulated delay of the audio behind a late live source
        self._last_offset = 0.0
        self._ends_base = 0.0

    # ------------------------------------------------------------------ reading

    @property
    def wants_frame(self) -> bool:
        """True when the next datagram is a transmit packet: :meth:`take` needs a frame."""
        return self.phase is Phase.AUDIO

    @property
    def done(self) -> bool:
        """True once the last end packet was taken."""
        return self.phase is Phase.DONE

    @property
    def last_offset(self) -> float:
        """Due offset of the last datagram taken: the page's length on the wire so far."""
        return self._last_offset

    @property
    def packets(self) -> int:
        """Datagrams taken so far."""
        return self.alerts + self.transmits + self.ends

    def next_offset(self) -> float | None:
        """Due offset of the next datagram, None when the page is over."""
        phase = self.phase
        if phase is Phase.AUDIO:
            return self._shift + transmit_offset(self.transmits, self.params.frame_ms)
        if phase is Phase.ALERTS:
            return self.alerts * protocol.ALERT_INTERVAL_S
        if phase is Phase.ENDS:
            return self._ends_base + self.ends * protocol.END_INTERVAL_S
        return None

    # ------------------------------------------------------------------ taking

    def take(self, frame: bytes | None = None) -> bytes:
        """The next datagram; advances the schedule.

        Parameters
        ----------
        frame : bytes, optional
            The next encoded frame, required when :attr:`wants_frame` and refused
            otherwise. A shorter last frame is allowed (receivers split on the previous
            frame's size).

        Raises
        ------
        ValueError
            A frame missing, empty or given when none is due; the page already over.
        """
        offset = self.next_offset()
        if offset is None:
            raise ValueError("the page is over")
        phase = self.phase
        if phase is Phase.AUDIO:
            if not frame:
                raise ValueError("a transmit packet needs a non-empty frame")
            count = self._count
            datagram = b"".join((self._prefix, count.to_bytes(4, "big"), self._previous, frame))
            self._previous = frame
            self.last_count = count
            self._count = (count + self._step) & 0xFFFFFFFF
            self.transmits += 1
        else:
            if frame is not None:
                raise ValueError(f"no frame is due in the page's {phase.value}")
            if phase is Phase.ALERTS:
                datagram = self.alert
                self.alerts += 1
                if self.alerts == protocol.ALERT_COUNT:
                    self.phase = Phase.AUDIO
            else:
                datagram = self.end
                self.ends += 1
                if self.ends == protocol.END_COUNT:
                    self.phase = Phase.DONE
        self._last_offset = offset
        return datagram

    # ------------------------------------------------------------------ steering

    def end_audio(self) -> None:
        """The frame source has no more frames: the ends follow the last transmit (or the
        last alert, for a source that had none). Only meaningful when a frame is due."""
        if self.phase is Phase.AUDIO:
            self._begin_ends(self._last_offset)

    def stop(self, at: float) -> None:
        """End the page now: the ends start `END_PAUSE_S` after offset `at` (or after the
        last datagram, if that is later); alerts and audio still due are skipped."""
        if self.phase in (Phase.ALERTS, Phase.AUDIO):
            self.stopped = True
            self._begin_ends(max(at, self._last_offset))

    def delay(self, seconds: float) -> None:
        """Shift every later transmit by `seconds` (a live source delivered a frame late:
        the audio continues from then, evenly paced, instead of bursting to catch up)."""
        if seconds > 0 and self.phase is Phase.AUDIO:
            self._shift += seconds

    def _begin_ends(self, after: float) -> None:
        self._ends_base = after + protocol.END_PAUSE_S
        self.phase = Phase.ENDS
