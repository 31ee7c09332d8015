"""Put one page's frames back in order: placement, duplicates, repair, gaps.

A page arrives as transmit packets that each carry a new frame and, except the first, the
previous frame again. The network loses, duplicates and reorders them; this module turns
them back into one gap-free sequence of frames, each marked as received, repaired (taken
from the redundant half of the next packet) or missing (to be concealed by the caller).

It works on coded bytes and 8 kHz sample counts only, knows nothing of sockets, clocks or
codecs beyond how many sample-count ticks one coded byte spans, and is fed the arrival
time by its caller, so live reception, ``--pcap`` replay and tests drive it identically.

Why it waits before repairing
-----------------------------
When the frame due next is missing but the following packet has brought its redundant
copy, the buffer could play the copy at once. It does not: a packet that is merely late
(reordered) would then be counted as lost and repaired, and reordering would change the
statistics. A frame whose own packet is missing is released only when the stream has
moved `reorder_frames` frames past it or `reorder_s` seconds have passed since it became
due; then the redundant copy (if any) is used, otherwise the frame is reported missing.
Either way the stream never stalls for longer than that window.

Learning the stream
-------------------
Frame size is not announced. Senders use 20 or 30 ms frames, shorten the last one, and
the very first packet has no redundant half. The buffer therefore holds the first packets
until two of them fix the step between sample counts consistently with their lengths
(see `infer_step`); a page of a single packet is resolved when it is flushed. Only steps
of whole 10 ms (80 ticks) up to 80 ms are believed: anything else is a forged or broken
stream, and believing it would let one packet stand for seconds of audio.

Why hostile packets cannot make long recordings
-----------------------------------------------
Anyone on the LAN can send packets with a page's source, serial and channel, and a
count far ahead would make the buffer conceal (write) the whole gap. Two rules bound
that. A jump beyond `max_ahead_frames` is believed only after `_RESTART_EVIDENCE`
consecutive packets agree on it (a restarted sender sends a stream; a forger's isolated
packets do not line up); until then each is dropped. And a packet is dropped if placing
it would make the page's audio longer than `max_speed` times the time elapsed since its
first packet, plus `max_lead_s` (and the reorder window). Both drops are counted in
`discarded`.

Why the audio may outrun the clock, and by how much
---------------------------------------------------
Not every real sender paces itself: the original PolyPtt sender sleeps 20 ms after each
30 ms frame, so its pages arrive about 1.5 times faster than they play (a 4 s page in
2.7 s), and every frame of them is real audio. Bounding the audio by the elapsed time
plus a constant cut such a page by a third of whatever exceeded the constant. The bound
therefore grows with the page instead: audio up to ``max_speed * elapsed + max_lead_s``
(2 x elapsed + 1 s by default) passes. A 1.5 x sender stays under it for any length,
with room for a slower machine or a sender twice as fast, while a forger still cannot
make a recording much longer than it keeps sending: at most twice its traffic's
duration, plus a second. A token bucket of the same rate would bound the same total; the
cumulative budget is simpler and also forgives a real sender whose packets were held up
by the network and then arrive in a burst. Memory does not depend on it: the frames
held are bounded by `max_ahead_frames`, and released audio leaves the buffer at once.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from typing import NamedTuple

from polyptt.protocol import SAMPLE_CLOCK_HZ, TransmitPacket, advance, distance

__all__ = ["FrameBuffer", "FrameKind", "Released", "infer_step"]

#: Frame steps believed, in 8 kHz ticks: 10 to 80 ms in whole 10 ms (senders use 20/30).
PLAUSIBLE_STEPS = frozenset(range(80, 641, 80))
#: Packets held while the step is still unknown; more are resolved by a one-packet guess.
_LEARN_LIMIT = 8
#: Frame durations (ms) a lone packet is matched against when no second packet exists.
_COMMON_FRAME_MS = (10, 20, 30)
#: Consecutive packets far from the stream, and within a window of each other, that make
#: it restart there (one such packet is very late or forged; several in a row that agree
#: are a sender that restarted its count).
_RESTART_EVIDENCE = 3
#: Released frames remembered to tell duplicates from late packets.
_HISTORY = 64


class FrameKind(enum.Enum):
    """Where a released frame came from."""

    RECEIVED = "received"
    REPAIRED = "repaired"
    MISSING = "missing"


class Released(NamedTuple):
    """One frame leaving the buffer, in sample-count order.

    A named tuple rather than a frozen dataclass: one is made per frame, and a frozen
    dataclass's constructor costs several times more.

    Attributes
    ----------
    sample_count : int
        Sample count (8 kHz, modulo 2**32) at which the frame starts (not ``count``:
        a tuple has a method of that name).
    frame : bytes
        The coded frame; empty when `kind` is MISSING.
    kind : FrameKind
        RECEIVED, REPAIRED, or MISSING (the caller conceals `ticks` of audio).
    ticks : int
        Duration in 8 kHz ticks.
    """

    sample_count: int
    frame: bytes
    kind: FrameKind
    ticks: int


@dataclass
class _Slot:
    primary: bytes | None = None
    redundant: bytes | None = None


def infer_step(packets: list[tuple[int, int]]) -> int | None:
    """The step between frames (8 kHz ticks) that explains every packet, or None.

    Parameters
    ----------
    packets : list of (sample_count, audio_ticks)
        Packets of one page as received; `audio_ticks` is the whole audio payload's length
        in ticks (redundant and new frame together).

    Returns
    -------
    int or None
        The largest step `s` such that all counts lie on one grid of pitch `s` and every
        packet's length fits: the earliest may be one frame (``s``, no redundant half),
        every packet may be a redundant plus a new frame (``2 s``), and only the latest
        may have a shortened new frame (between ``s`` and ``2 s``). None while the
        packets are not enough to decide (fewer than two distinct counts).

    Notes
    -----
    Candidates are the distances between counts divided by 1, 2 or 3, so up to two lost
    packets between the first two received are tolerated. Preferring the largest
    candidate alone would be wrong (one lost packet doubles the distance); the length
    rule rejects it because a non-first packet must carry more than one frame.
    """
    counts = sorted({c for c, _ in packets}, key=lambda c: distance(packets[0][0], c))
    if len(counts) < 2:
        return None
    first, last = counts[0], counts[-1]
    gaps = {distance(a, b) for a, b in pairwise(counts)}
    candidates = {g // k for g in gaps for k in (1, 2, 3) if g % k == 0} & PLAUSIBLE_STEPS
    for step in sorted(candidates, reverse=True):
        if all(distance(first, c) % step == 0 for c in counts) and all(
            _fits(step, ticks, count == first, count == last) for count, ticks in packets
        ):
            return step
    return None


def _fits(step: int, ticks: int, earliest: bool, latest: bool) -> bool:
    if ticks == 2 * step:
        return True
    if earliest and ticks <= step:
        return ticks == step or latest  # a one-packet page may be short
    return latest and step < ticks < 2 * step


def _guess_step(ticks: int) -> int:
    """A lone packet's step: one common frame, else two, else the nearest plausible one.

    The last resort is the shortest plausible step that holds the packet (a short
    one-packet page), capped at the longest: a longer packet is then unsplittable.
    """
    for ms in _COMMON_FRAME_MS:
        if ticks == 8 * ms:
            return ticks
    for ms in _COMMON_FRAME_MS:
        if ticks == 16 * ms:
            return ticks // 2
    smallest, largest = min(PLAUSIBLE_STEPS), max(PLAUSIBLE_STEPS)
    return min(largest, max(smallest, -(-ticks // smallest) * smallest))


class FrameBuffer:
    """Reassemble one page's frames; see the module docstring for the rules.

    Parameters
    ----------
    ticks_per_byte : Fraction
        8 kHz sample-count ticks one coded byte spans (1 for G.711 and G.722, 8/3 for
        G.726QI).
    reorder_frames : int
        How far (in frames) the stream must have moved past a frame whose packet is
        missing before it is repaired or declared missing.
    reorder_s : float
        The same bound in seconds, for a stream that stops right after a loss.
    max_ahead_frames : int
        Three packets in a row further than this ahead or behind, agreeing with each
        other, are a discontinuity (a restarted sender): the buffer flushes and
        resynchronises on the third instead of buffering without bound.
    max_speed : float
        How many times faster than real time a page's audio may arrive, over the whole
        page: its audio may reach `max_speed` times the time elapsed since its first
        packet, plus `max_lead_s`; packets that would exceed that are dropped.
    max_lead_s : float
        What the audio may have beyond that from the start (plus the reorder window):
        the first packets arrive with no time elapsed.

    Attributes
    ----------
    step : int or None
        Ticks per frame once learnt.
    duplicates, late, resyncs, unsplittable, discarded : int
        Packets seen again, arriving after their frame was released, jumps, packets
        whose audio does not fit the learnt frame size (dropped), and packets dropped
        as too far ahead (of the stream without evidence, or of the time budget).
    """

    def __init__(
        self,
        ticks_per_byte: Fraction,
        *,
        reorder_frames: int = 2,
        reorder_s: float = 0.06,
        max_ahead_frames: int = 50,
        max_speed: float = 2.0,
        max_lead_s: float = 1.0,
    ) -> None:
        self._tpb = Fraction(ticks_per_byte)
        # integer form of the ratio: Fraction arithmetic per packet is measurably slow
        self._tpb_num, self._tpb_den = self._tpb.numerator, self._tpb.denominator
        self._reorder_frames = reorder_frames
        self._reorder_s = reorder_s
        self._max_ahead = max_ahead_frames
        self._max_speed_ticks = max_speed * SAMPLE_CLOCK_HZ  # ticks allowed per second
        self._max_lead_ticks = (max_lead_s + reorder_s) * SAMPLE_CLOCK_HZ
        self._origin: float | None = None  # arrival of the first packet
        self._released_ticks = 0  # audio released so far, concealment included
        self.step: int | None = None
        self._frame_size: int | None = None  # bytes of a whole frame, once `step` is known
        self._packet_size = -1
        self._learning: list[tuple[float, TransmitPacket]] = []
        self._slots: dict[int, _Slot] = {}
        self._head = 0
        self._newest = 0  # latest count of a received new frame
        self._due_since: float | None = None  # when the missing head frame became due
        self._history: deque[int] = deque(maxlen=_HISTORY)  # released RECEIVED counts
        self.duplicates = 0
        self.late = 0
        self.resyncs = 0
        self._far_streak = 0  # consecutive far packets that agree (a restarted count?)
        self._far_count = 0  # the latest of them
        self.unsplittable = 0
        self.discarded = 0

    # ------------------------------------------------------------------ feeding

    def push(self, now: float, packet: TransmitPacket) -> list[Released]:
        """Take one transmit packet arriving at `now`; return the frames now ready."""
        if self._origin is None:
            self._origin = now
        if self.step is None:
            self._learning.append((now, packet))
            step = infer_step([(p.sample_count, self._ticks(p.audio)) for _, p in self._learning])
            if step is None and len(self._learning) < _LEARN_LIMIT:
                return []
            return self._start(step)
        count = packet.sample_count
        frame = self.take_next(now, count, packet.audio)
        if frame is not None:
            return [Released(count, frame, FrameKind.RECEIVED, self.step)]
        return self._place(now, packet) + self._drain(now, force=False)

    def take_next(self, now: float, count: int, audio: bytes) -> bytes | None:
        """The new frame of a packet if it is exactly the frame due next, else None.

        The steady state of every page (no loss, no reordering, nothing held) and so
        most packets a listener sees: the frame is released at once (a full frame,
        received, at `count`), as `push` would release it, without being parked in a
        slot. None means nothing was done and the packet needs `push`.

        Parameters
        ----------
        now : float
            Arrival time.
        count, audio : int, bytes
            The packet's sample count and audio payload (redundant and new frame).
        """
        # `_packet_size` is -1 until the step is learnt, so no audio passes before then
        if count != self._head or len(audio) != self._packet_size or self._slots:
            return None
        step: int = self.step  # type: ignore[assignment]
        if self._too_early(now, step):
            return None
        self._far_streak = 0
        self._history.append(count)  # nothing held: nothing was due (`_due_since` None)
        self._head = self._newest = advance(count, step)
        self._released_ticks += step
        return audio[self._frame_size :]

    def expire(self, now: float) -> list[Released]:
        """Frames that the time bound releases at `now` (call this periodically)."""
        if self.step is None or self._due_since is None:
            return []
        return self._drain(now, force=False)

    def flush(self) -> list[Released]:
        """Everything still held, gaps reported missing: the page has ended."""
        if self.step is None:
            if not self._learning:
                return []
            return self._start(None, final=True)
        return self._drain(0.0, force=True)

    @property
    def next_deadline(self) -> float | None:
        """When `expire` may release something, or None."""
        if self.step is None or self._due_since is None:
            return None
        return self._due_since + self._reorder_s

    @property
    def held(self) -> int:
        """Frames and packets buffered (bounded by `max_ahead_frames` + a few)."""
        return len(self._slots) + len(self._learning)

    # ------------------------------------------------------------------ internals

    def _ticks(self, audio: bytes) -> int:
        return len(audio) * self._tpb_num // self._tpb_den

    def _start(self, step: int | None, *, final: bool = False) -> list[Released]:
        learning, self._learning = self._learning, []
        if step is None:
            step = _guess_step(self._ticks(learning[0][1].audio))
        self.step = step
        size, remainder = divmod(step * self._tpb_den, self._tpb_num)
        self._frame_size = None if remainder else size
        # a redundant and a new frame of the learnt size: what `take_next` handles
        self._packet_size = -1 if remainder else 2 * size
        starts = []
        for _, packet in learning:
            ticks = self._ticks(packet.audio)
            starts.append(advance(packet.sample_count, -step if ticks > step else 0))
        self._head = min(starts, key=lambda c: distance(starts[0], c))
        self._newest = self._head
        out: list[Released] = []
        for now, packet in learning:
            out += self._place(now, packet)
        if final:
            return out + self._drain(0.0, force=True)
        return out + self._drain(learning[-1][0], force=False)

    def _split(self, packet: TransmitPacket) -> tuple[bytes, bytes] | None:
        assert self.step is not None
        ticks = self._ticks(packet.audio)
        if ticks <= self.step:
            return b"", packet.audio
        if ticks > 2 * self.step:  # only a redundant and a new frame, never more
            return None
        size = self._frame_size
        if size is None:
            return None
        return packet.audio[:size], packet.audio[size:]

    def _place(self, now: float, packet: TransmitPacket) -> list[Released]:
        assert self.step is not None
        parts = self._split(packet)
        if parts is None:
            self.unsplittable += 1
            return []
        redundant, frame = parts
        count = packet.sample_count
        ahead = distance(self._head, count)
        out: list[Released] = []
        window = self._max_ahead * self.step
        if abs(ahead) > window:
            agrees = self._far_streak and abs(distance(self._far_count, count)) <= window
            self._far_streak = self._far_streak + 1 if agrees else 1
            self._far_count = count
        else:
            self._far_streak = 0
        if ahead > window and self._far_streak < _RESTART_EVIDENCE:
            self.discarded += 1
            return out
        if self._far_streak >= _RESTART_EVIDENCE:
            self._far_streak = 0
            out = self._drain(now, force=True)
            self._slots.clear()
            self._head = advance(count, -self.step) if redundant else count
            self._newest = self._head
            self._due_since = None
            self.resyncs += 1
            ahead = distance(self._head, count)
        if ahead < 0:
            if count in self._history:
                self.duplicates += 1
            else:
                self.late += 1
            return out
        if self._too_early(now, ahead + self._ticks(frame)):
            self.discarded += 1
            return out
        slot = self._slots.setdefault(count, _Slot())
        if slot.primary is not None:
            self.duplicates += 1
            return out
        slot.primary = frame
        if distance(self._newest, count) > 0:
            self._newest = count
        if redundant:
            previous = advance(count, -self.step)
            if distance(self._head, previous) >= 0:
                self._slots.setdefault(previous, _Slot()).redundant = redundant
        return out

    def _too_early(self, now: float, reach: int) -> bool:
        """Whether audio reaching `reach` ticks past the head outruns the page's budget."""
        assert self._origin is not None
        budget = (now - self._origin) * self._max_speed_ticks + self._max_lead_ticks
        return self._released_ticks + reach > budget

    def _next_slot(self) -> int | None:
        head = self._head
        if head in self._slots:
            # the usual case, without a scan: any slot behind the head (overtaken by a
            # longer frame) is only ever discarded, so it may wait for a later scan
            return head
        if not self._slots:
            return None
        return min(self._slots, key=lambda c: distance(head, c))

    def _ready(self, now: float, force: bool) -> bool:
        """Whether the missing frame at the head may be given up on."""
        assert self.step is not None
        if force:
            return True
        if distance(self._head, self._newest) >= self._reorder_frames * self.step:
            return True
        if self._due_since is None:
            self._due_since = now
        return now - self._due_since >= self._reorder_s

    def _drain(self, now: float, *, force: bool) -> list[Released]:
        assert self.step is not None
        out: list[Released] = []
        while (nearest := self._next_slot()) is not None:
            gap = distance(self._head, nearest)
            if gap < 0:  # overtaken by a longer frame before it: nothing left to place
                del self._slots[nearest]
                continue
            if 0 < gap < self.step:  # off the grid: follow the sender's counts
                self._head = nearest
                gap = 0
            if gap == 0:
                slot = self._slots[nearest]
                if slot.primary is not None:
                    out.append(self._release(nearest, slot.primary, FrameKind.RECEIVED))
                    continue
                if not self._ready(now, force):
                    break
                assert slot.redundant is not None
                out.append(self._release(nearest, slot.redundant, FrameKind.REPAIRED))
                continue
            if not self._ready(now, force):
                break
            out.append(self._release(self._head, b"", FrameKind.MISSING))
        return out

    def _release(self, count: int, frame: bytes, kind: FrameKind) -> Released:
        assert self.step is not None
        self._slots.pop(count, None)
        ticks = self._ticks(frame) if frame else self.step
        if kind is FrameKind.RECEIVED:
            self._history.append(count)
            self._due_since = None
        elif kind is FrameKind.REPAIRED:
            self._due_since = None
        self._head = advance(count, ticks)
        self._released_ticks += ticks
        if distance(self._newest, self._head) > 0:
            self._newest = self._head
        return Released(count, frame, kind, ticks)
