"""An RTP jitter buffer: packets in arrival order, out in sequence order, on a clock passed in.

RTP streams from paging devices cross the LAN like any other: a switch may reorder two
packets, a Wi-Fi hop may repeat one, and some are lost. :class:`JitterBuffer` puts one
stream's packets back in order by their sequence numbers (extended across the 2**16 wrap)
and releases each as soon as every packet before it has been released, so a stream in
order costs no delay at all. A gap holds back what follows it until the missing packet
arrives, until `depth` packets wait behind it (reordering is bounded: a packet later than
that is not coming in time), or until `wait_s` has passed since the first of them
arrived; then the gap is released as `Lost` and playing goes on.

A packet that arrives after its place was released (played, or given up as lost) is
``late``: counted and dropped, never played out of order. A copy of a packet already
held or released is a ``duplicate``. A jump of more than `MAX_JUMP` sequence numbers
ahead is a sender that restarted its numbering: the buffer releases what it holds and
follows the new numbers, with nothing counted lost.

Nothing here reads a clock: `push` and `expire` take the time, so tests drive every rule
without sleeping (the architecture's rule for timing policies).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

from polyptt.bridge.rtp import RtpPacket, seq_delta

__all__ = ["MAX_JUMP", "JitterBuffer", "JitterStats", "Lost"]

#: A sequence number further ahead than this restarts the numbering (about 2 s of 20 ms
#: packets): no gap that long is waited for or concealed.
MAX_JUMP = 100
#: Sequence numbers remembered after release, to tell a duplicate from a late packet.
_MEMORY = 64


@dataclass(frozen=True)
class Lost:
    """`count` packets in a row that never came (or came too late)."""

    count: int


@dataclass
class JitterStats:
    """What the buffer did with one stream's packets.

    Attributes
    ----------
    received : int
        Packets pushed.
    released : int
        Packets released in order.
    lost : int
        Packets released as `Lost`.
    duplicates, late : int
        Dropped: copies of packets seen, and packets whose place was already released.
    reordered : int
        Packets that arrived after a later one and were still played in place.
    restarts : int
        Sequence jumps beyond `MAX_JUMP` (the numbering restarted).
    """

    received: int = 0
    released: int = 0
    lost: int = 0
    duplicates: int = 0
    late: int = 0
    reordered: int = 0
    restarts: int = 0


Released = RtpPacket | Lost


class JitterBuffer:
    """Orders one RTP stream (one SSRC).

    Parameters
    ----------
    depth : int
        Packets that may wait behind a gap before it is given up: the reordering
        tolerated, in packets (3: a packet may arrive after the three that follow it).
    wait_s : float
        Seconds a gap may hold packets back at most (from the first held packet's
        arrival).

    Attributes
    ----------
    stats : JitterStats
    """

    def __init__(self, *, depth: int = 3, wait_s: float = 0.08) -> None:
        self.depth = depth
        self.wait_s = wait_s
        self.stats = JitterStats()
        self._next: int | None = None  # extended sequence number released next
        self._highest: int | None = None
        self._held: dict[int, RtpPacket] = {}
        self._held_since = 0.0
        self._seen: collections.deque[int] = collections.deque(maxlen=_MEMORY)

    @property
    def next_deadline(self) -> float | None:
        """When `expire` gives up the gap that holds packets back, or None."""
        return self._held_since + self.wait_s if self._held else None

    def push(self, now: float, packet: RtpPacket) -> list[Released]:
        """Take `packet`, arrived at `now`; return what is released, in order."""
        stats = self.stats
        stats.received += 1
        if self._next is None:
            self._next = self._highest = packet.sequence
        assert self._highest is not None
        ext = self._next + seq_delta(packet.sequence, self._next & 0xFFFF)
        if ext - self._next > MAX_JUMP:
            stats.restarts += 1
            released = self.flush()
            self._next = self._highest = ext
        else:
            released = []
        if ext < self._next or ext in self._held:
            if ext in self._held or ext in self._seen:
                stats.duplicates += 1
            else:
                stats.late += 1
            return released
        if ext < self._highest:
            stats.reordered += 1
        self._highest = max(self._highest, ext)
        if not self._held:
            self._held_since = now
        self._held[ext] = packet
        out = self._release()
        if len(self._held) > self.depth:
            out += self._give_up()
        if out and self._held:  # a new gap: its packets wait from now
            self._held_since = now
        return released + out

    def expire(self, now: float) -> list[Released]:
        """Give up the gap whose `wait_s` ran out by `now`; what that releases."""
        released: list[Released] = []
        while self._held and now >= self._held_since + self.wait_s:
            released += self._give_up()
        return released

    def flush(self) -> list[Released]:
        """The stream ended: everything held, its gaps as `Lost`."""
        released: list[Released] = []
        while self._held:
            released += self._give_up()
        return released

    def _release(self) -> list[Released]:
        out: list[Released] = []
        held = self._held
        while self._next in held:
            out.append(held.pop(self._next))
            self._seen.append(self._next)
            self._next += 1
        self.stats.released += len(out)
        return out

    def _give_up(self) -> list[Released]:
        """Release the first gap as lost, then what follows it in order."""
        assert self._next is not None
        first = min(self._held)
        missing = first - self._next
        self.stats.lost += missing
        self._next = first
        out: list[Released] = [Lost(missing)] if missing else []
        out += self._release()
        return out
