"""What a receive loop does when it wakes up: one policy for every event loop.

`ReceiveDriver` is the part of receiving that does not depend on how the loop waits:
read each ready socket up to a batch, with the kernel's arrival times; feed the
`polyptt.receive.receiver.Receiver`; hand on the audio of the batch (`Receiver.flush`); apply
the clock at most every `TICK_S`, and only after reading; say when the next wake-up is
due and whether to pause before the next read. It never waits itself, so the blocking
`polyptt.receive.inbound.serve` (a ``selectors`` loop, for ``polyptt listen``) and
`polyptt.receive.inbound.serve_async` (asyncio's ``add_reader``, for the relay and ``loop``)
share every rule and differ only in how they sleep.

Why batches and pauses
----------------------
Every wake-up starts with cold caches (on a virtual machine, a descheduled CPU) and a
batch runs warm: with 50 pages of 20 ms frames, a wake-up per datagram cost twice the
CPU of 5 ms pauses, and 40 ms pauses cost a further 40 % less. Arrival times are the
kernel's (``SO_TIMESTAMPNS``), so a pause still counts in the latency the receiver and
the benchmark see, and recordings keep exact times. While a page plays, the short pause
(`COALESCE_PLAYING_S`) keeps latency well inside the 40 ms jitter buffer; with nothing
to play (recording, reporting) nobody hears the delay, and the long one (`COALESCE_S`)
applies. The socket buffer then holds 100 datagrams (50 pages of 20 ms frames), about
130 KB on loopback: a quarter of the 416 KiB Linux gives a process by default, 3 % of
the 4 MiB `polyptt.receive.inbound.open_sockets` requests (which root gets).

A read cut short by the batch limit means more is queued: no pause then, so a flood is
read at full speed and cannot pile up in the socket buffer behind the pauses.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Callable, Iterable

from polyptt.receive.receiver import Receiver

__all__ = [
    "COALESCE_PLAYING_S",
    "COALESCE_S",
    "TICK_S",
    "ReceiveDriver",
    "enable_arrival_times",
]

#: Granularity of the receiver's clock (lost-frame release, page timeouts), seconds.
TICK_S = 0.005
#: Longest wait between two applications of the clock, so a blocking loop also gets to
#: check whether it should stop.
_IDLE_TICK_S = 0.1
#: Pause after a wake-up that emptied the sockets while a page plays (see above).
COALESCE_PLAYING_S = 0.005
#: Pause after a wake-up that emptied the sockets with nothing to play (see above).
COALESCE_S = 0.04

_MAX_DATAGRAM = 65535
_BATCH = 256  # datagrams read per socket per wake-up before the clock is applied again
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)


class ReceiveDriver:
    """The wake-up policy of a receive loop, whatever the loop waits with.

    A runner waits until a socket is readable or `next_tick` (wall clock) comes, calls
    `wake` with the sockets that are readable (none for a timer), and, if `wake` returns
    a pause, reads nothing for that long: then it calls `wake` with every socket, so
    what arrived during the pause is read before the clock is applied.

    Parameters
    ----------
    receiver : Receiver
        Fed every datagram read.
    clock : callable
        Wall-clock time (`time.time`): applied to the receiver, and the arrival time of
        a datagram where the system gives no kernel timestamp.
    coalesce_s : float
        The pause after a wake-up that read datagrams and emptied its sockets
        (`COALESCE_S`, or `COALESCE_PLAYING_S` when audio is played); 0 for none.

    Attributes
    ----------
    next_tick : float
        When the clock is next due (``clock()`` time): the receiver's next deadline,
        no sooner than `TICK_S` and no later than 100 ms after it was last applied.
    """

    def __init__(
        self,
        receiver: Receiver,
        *,
        clock: Callable[[], float] = time.time,
        coalesce_s: float = COALESCE_S,
    ) -> None:
        self.receiver = receiver
        self.clock = clock
        self.coalesce_s = coalesce_s
        self.next_tick = clock()

    def wake(self, ready: Iterable[socket.socket]) -> float:
        """Read `ready`, hand on the audio, apply the clock if due; the pause to take.

        Parameters
        ----------
        ready : iterable of socket.socket
            Non-blocking sockets to read, each up to a batch (an empty one costs one
            system call); none when woken by the clock.

        Returns
        -------
        float
            Seconds to read nothing before the next call (then with every socket): the
            coalescing pause after datagrams were read and every socket emptied, else 0.
        """
        read = False
        caught_up = True
        for sock in ready:
            taken = self._drain(sock)
            read |= taken > 0
            caught_up &= taken < _BATCH
        self.receiver.flush()
        # The clock is applied only after reading what was queued: a packet that
        # arrived during a pause, before a deadline, must not lose to that deadline
        # (its frame repaired or concealed, its page timed out) for being read late.
        now = self.clock()
        if now >= self.next_tick:
            self.receiver.tick(now)
            deadline = self.receiver.next_deadline()
            # the clock is applied at most every TICK_S: with 50 pages at 50 packets a
            # second, walking every page per datagram cost more than the datagrams did
            latest = now + _IDLE_TICK_S
            due = latest if deadline is None else min(deadline, latest)
            self.next_tick = max(now + TICK_S, due)
        return self.coalesce_s if read and caught_up else 0.0

    def _drain(self, sock: socket.socket) -> int:
        """Feed what `sock` holds, up to `_BATCH` datagrams; how many reads succeeded.

        Fewer than `_BATCH` means the socket was emptied.
        """
        feed = self.receiver.feed
        for taken in range(_BATCH):
            try:
                data, ancillary, _flags, source = sock.recvmsg(_MAX_DATAGRAM, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                return taken
            except OSError:  # e.g. an ICMP error queued on the socket: not ours to stop for
                continue
            feed(_arrival(ancillary) or self.clock(), source, data)
        return _BATCH


def enable_arrival_times(sock: socket.socket) -> None:
    """Have the kernel stamp each datagram's arrival on `sock`, where it can.

    `ReceiveDriver` reads these stamps (``SO_TIMESTAMPNS``, wall clock): a datagram's
    arrival time is then when it reached the host, not when the loop got round to it.
    """
    with contextlib.suppress(OSError):  # not Linux: the clock when read stands in
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)


def _arrival(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    """The kernel's receive time (wall clock) from SO_TIMESTAMPNS ancillary data."""
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= 16:
            seconds, nanoseconds = _TIMESPEC.unpack_from(payload)
            return seconds + nanoseconds * 1e-9
    return None
