"""Receive paging datagrams from the network and feed them to a `Receiver`.

Two runners wait on the same sockets around one policy, `polyptt.receive.driver.ReceiveDriver`
(batches, kernel arrival times, flush, the clock, pauses), and differ only in how they
wait:

- `serve` blocks in a ``selectors`` loop, for ``polyptt listen``: the receiving core is
  synchronous and does no I/O, so the live path needs only "wait for a datagram or the
  next deadline, feed, tick". A selector says exactly that in a few lines, adds no
  event-loop start-up to a command that cron or systemd runs, and keeps tracebacks flat.
- `serve_async` runs inside an asyncio loop, for the relay (aiohttp) and ``polyptt
  loop`` (which also sends): ``loop.add_reader`` on the sockets, a timer for the
  receiver's deadlines, and the coalescing pause taken by unregistering the readers for
  its length, so it never blocks the event loop.

Sockets
-------
One UDP socket per port, bound to the wildcard address so that it also takes unicast
to the port, joined to every group of that port on the chosen interface. On Linux
``IP_MULTICAST_ALL`` is switched off, otherwise a wildcard socket also gets the traffic
of groups other programs joined on the same port. ``SO_REUSEADDR`` lets several
listeners (and softphones) share the port, as phones expect multicast to be shared.
"""

from __future__ import annotations

import contextlib
import ipaddress
import selectors
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from polyptt.protocol import DEFAULT_GROUP
from polyptt.receive.driver import (
    COALESCE_PLAYING_S,
    COALESCE_S,
    TICK_S,
    ReceiveDriver,
    enable_arrival_times,
)
from polyptt.receive.receiver import Receiver
from polyptt.transport import Destination, split_host_port

if TYPE_CHECKING:  # asyncio is imported by serve_async: `listen` would pay 7 MB for it
    import asyncio

# The driver's constants are named here too: they are what the runners' callers pass.
__all__ = [
    "COALESCE_PLAYING_S",
    "COALESCE_S",
    "TICK_S",
    "Endpoint",
    "open_sockets",
    "parse_endpoint",
    "serve",
    "serve_async",
]

_IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
_RECEIVE_BUFFER = 4 << 20  # absorbs bursts (tens of pages, a flood) while the loop is busy


#: A group (or this host's unicast address) and port to listen on.
Endpoint = Destination


def parse_endpoint(text: str) -> Endpoint:
    """``GROUP[:PORT]`` or ``:PORT`` as an `Endpoint` (224.0.1.116 and 5001 by default).

    Raises
    ------
    ValueError
        For anything that is not an IPv4 address and a port 1-65535.
    """
    host, port = split_host_port(text, default_host=DEFAULT_GROUP)
    try:
        return Endpoint(str(ipaddress.IPv4Address(host)), port)
    except ValueError:
        raise ValueError(f"{text!r}: expected GROUP[:PORT], e.g. 224.0.1.116:5001") from None


def open_sockets(endpoints: Iterable[Endpoint], interface: str | None) -> list[socket.socket]:
    """Bound, joined, non-blocking sockets for `endpoints`; one per port.

    Parameters
    ----------
    endpoints : iterable of Endpoint
        Groups to join; a unicast address only opens its port.
    interface : str or None
        IPv4 address of the interface to join on; None lets the routing table choose.

    Raises
    ------
    OSError
        If a port cannot be bound or a group joined.
    """
    by_port: dict[int, list[Endpoint]] = {}
    for endpoint in endpoints:
        by_port.setdefault(endpoint.port, []).append(endpoint)
    sockets = []
    try:
        for port, members in by_port.items():
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:  # root may exceed net.core.rmem_max; others get what the system allows
                sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _RECEIVE_BUFFER)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
            if hasattr(socket, "SO_REUSEPORT"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            with contextlib.suppress(OSError):  # not Linux: neither option nor problem
                sock.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 0)
            enable_arrival_times(sock)
            sock.bind(("", port))
            local = socket.inet_aton(interface or "0.0.0.0")
            for endpoint in {m for m in members if m.is_multicast}:
                membership = socket.inet_aton(endpoint.address) + local
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def serve(
    sockets: list[socket.socket],
    receiver: Receiver,
    *,
    should_stop: Callable[[], bool],
    until: float | None = None,
    clock: Callable[[], float] = time.time,
    coalesce_s: float = COALESCE_S,
) -> None:
    """Feed datagrams from `sockets` to `receiver` until `should_stop()` or `until`.

    Wakes up for datagrams, for the receiver's next deadline (lost-frame release, page
    timeout; at most every `TICK_S`), and at least every 100 ms to check `should_stop`.
    After reading all that was queued it sleeps `coalesce_s` (see `COALESCE_S`; use
    `COALESCE_PLAYING_S` when audio is played), unless reading was cut short to apply
    the clock, so a flood is read at full speed. Arrival times are the kernel's receive
    timestamps (wall clock, as the recordings' UTC times), or `clock` where the system
    gives none. See `polyptt.receive.driver.ReceiveDriver` for the policy.
    """
    driver = ReceiveDriver(receiver, clock=clock, coalesce_s=coalesce_s)
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ, sock)
    try:
        while not should_stop():
            now = clock()
            if until is not None and now >= until:
                return
            wake = driver.next_tick if until is None else min(driver.next_tick, until)
            ready = selector.select(max(0.0, wake - now))
            pause = driver.wake(key.data for key, _ in ready)
            if pause and not should_stop():
                time.sleep(pause if until is None else max(0.0, min(pause, until - clock())))
    finally:
        selector.close()


async def serve_async(
    sockets: Sequence[socket.socket],
    receiver: Receiver,
    *,
    stop: asyncio.Event | None = None,
    until: float | None = None,
    clock: Callable[[], float] = time.time,
    coalesce_s: float = COALESCE_S,
) -> None:
    """Feed datagrams from `sockets` to `receiver` from the running asyncio loop.

    The same policy as `serve` (see `polyptt.receive.driver.ReceiveDriver`), without ever
    blocking the event loop: a reader on each socket (``loop.add_reader``; the loop must
    support it, as asyncio's default loop on Linux and uvloop do), a timer for the
    receiver's clock, and the coalescing pause taken by unregistering the readers for
    `coalesce_s`; after it, what arrived meanwhile is read before the clock is applied.
    Listeners are called from the event loop's thread, so they may subscribe and
    unsubscribe (`Receiver.subscribe`) and touch other asyncio objects directly.

    Parameters
    ----------
    sockets : sequence of socket.socket
        Non-blocking sockets (`open_sockets`); left open.
    receiver : Receiver
        Fed every datagram; left open too (call `Receiver.close` after).
    stop : asyncio.Event, optional
        Returns once it is set; cancelling the task stops as well.
    until : float, optional
        Returns at this time (``clock()`` time) at the latest.
    clock : callable
        Wall-clock time, as for `serve`.
    coalesce_s : float
        As for `serve`.

    Raises
    ------
    Exception
        Whatever a listener raised: reading stops, and the exception is raised here.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    failed: asyncio.Future[None] = loop.create_future()
    waiting: list[asyncio.Future[Any]] = [failed]
    if stop is not None:
        waiting.append(asyncio.ensure_future(stop.wait()))
    timeout = None if until is None else max(0.0, until - clock())
    driver = ReceiveDriver(receiver, clock=clock, coalesce_s=coalesce_s)
    reading = _AsyncReading(driver, sockets, loop, failed)
    reading.start()
    try:
        await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        reading.close()
        for waiter in waiting:
            waiter.cancel()
    if failed.done() and not failed.cancelled():
        failed.result()


class _AsyncReading:
    """A `ReceiveDriver` driven by asyncio callbacks: readers, a clock timer, pauses.

    At any time either the readers are registered and a timer waits for the driver's
    `next_tick`, or a pause is running and nothing else is.
    """

    def __init__(
        self,
        driver: ReceiveDriver,
        sockets: Sequence[socket.socket],
        loop: asyncio.AbstractEventLoop,
        failed: asyncio.Future[None],
    ) -> None:
        self._driver = driver
        self._sockets = tuple(sockets)
        self._loop = loop
        self._failed = failed  # gets a listener's exception
        self._closed = False
        self._reading = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._pause: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Register the readers and the clock timer."""
        self._read_and_wait()

    def close(self) -> None:
        """Stop reading (callbacks already queued by the loop then do nothing)."""
        self._stop_reading()
        self._closed = True
        if self._pause is not None:
            self._pause.cancel()
            self._pause = None

    def _on_readable(self, sock: socket.socket) -> None:
        self._wake((sock,))

    def _on_tick(self) -> None:
        self._timer = None
        self._wake(())

    def _after_pause(self) -> None:
        self._pause = None
        self._wake(self._sockets)

    def _wake(self, ready: Iterable[socket.socket]) -> None:
        if self._closed:  # a callback the loop had already queued
            return
        try:
            pause = self._driver.wake(ready)
        except Exception as error:  # a listener's: stop, and raise it from serve_async
            self.close()
            if not self._failed.done():
                self._failed.set_exception(error)
            return
        if pause:
            self._stop_reading()
            self._pause = self._loop.call_later(pause, self._after_pause)
        else:
            self._read_and_wait()

    def _read_and_wait(self) -> None:
        """Readers on every socket, and the timer at the driver's next tick."""
        if not self._reading:
            for sock in self._sockets:
                self._loop.add_reader(sock, self._on_readable, sock)
            self._reading = True
        due = self._driver.next_tick
        if self._timer is not None:
            if self._timer_at == due:
                return
            self._timer.cancel()
        self._timer_at = due
        self._timer = self._loop.call_later(max(0.0, due - self._driver.clock()), self._on_tick)

    def _stop_reading(self) -> None:
        if self._reading:
            for sock in self._sockets:
                self._loop.remove_reader(sock)
            self._reading = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
