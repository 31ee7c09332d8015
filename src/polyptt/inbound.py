"""Receive paging datagrams from the network and feed them to a `Receiver`.

Why a selector loop and not asyncio: the receiving core is synchronous and does no I/O,
so the live path needs only "wait for a datagram or the next deadline, feed, tick". A
`selectors` loop says exactly that in a few lines, adds no event-loop start-up to a
command that cron or systemd runs, and keeps tracebacks flat. The relay, which lives in
aiohttp's asyncio loop, can feed the same `Receiver` from a datagram protocol instead.

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
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from polyptt.protocol import DEFAULT_GROUP, DEFAULT_PORT
from polyptt.receiver import Receiver

__all__ = ["Endpoint", "open_sockets", "parse_endpoint", "serve"]

_IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
_RECEIVE_BUFFER = 4 << 20  # absorbs bursts (tens of pages, a flood) while the loop is busy
_MAX_DATAGRAM = 65535
_BATCH = 256  # datagrams read per socket per wake-up before the clock is applied again
#: Granularity of the receiver's clock (lost-frame release, page timeouts), seconds.
TICK_S = 0.005
#: Pause after a wake-up that emptied the sockets, so that the next one finds several
#: datagrams queued. Every wake-up starts with cold caches (on a virtual machine, a
#: descheduled CPU) and a batch runs warm: with 50 pages of 20 ms frames, a wake-up per
#: datagram cost twice the CPU of 5 ms pauses, and 40 ms pauses cost a further 40 % less.
#: Arrival times are the kernel's (SO_TIMESTAMPNS), so the pause still counts in the
#: latency the receiver and the benchmark see, and recordings keep exact times. While a
#: page plays, the short pause keeps latency well inside the 40 ms jitter buffer; with
#: nothing to play (recording, reporting) nobody hears the delay, and the long one
#: applies. The socket buffer then holds 100 datagrams (50 pages of 20 ms frames), about
#: 130 KB on loopback: a quarter of the 416 KiB Linux gives a process by default, 3 % of
#: the 4 MiB requested (which root gets).
COALESCE_PLAYING_S = 0.005
COALESCE_S = 0.04
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)


@dataclass(frozen=True)
class Endpoint:
    """A group (or this host's unicast address) and port to listen on."""

    group: str
    port: int

    @property
    def is_multicast(self) -> bool:
        return ipaddress.IPv4Address(self.group).is_multicast

    def __str__(self) -> str:
        return f"{self.group}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """``GROUP[:PORT]`` or ``:PORT`` as an `Endpoint` (224.0.1.116 and 5001 by default).

    Raises
    ------
    ValueError
        For anything that is not an IPv4 address and a port 1-65535.
    """
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = text.strip(), str(DEFAULT_PORT)
    try:
        address = str(ipaddress.IPv4Address(host or DEFAULT_GROUP))
        port = int(port_text, 10)
    except ValueError:
        raise ValueError(f"{text!r}: expected GROUP[:PORT], e.g. 224.0.1.116:5001") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"{text!r}: port {port} is not in 1-65535")
    return Endpoint(address, port)


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
            with contextlib.suppress(OSError):  # arrival times from the kernel, if it can
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
            sock.bind(("", port))
            local = socket.inet_aton(interface or "0.0.0.0")
            for endpoint in {m for m in members if m.is_multicast}:
                membership = socket.inet_aton(endpoint.group) + local
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
    After reading all that was queued it pauses `coalesce_s` (see `COALESCE_S`; use
    `COALESCE_PLAYING_S` when audio is played), unless reading was cut short to apply
    the clock, so a flood is read at full speed. Arrival times are the kernel's receive
    timestamps (wall clock, as the recordings' UTC times), or `clock` where the system
    gives none.
    """
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
    next_tick = clock()
    try:
        while not should_stop():
            now = clock()
            if until is not None and now >= until:
                return
            wake = next_tick if until is None else min(next_tick, until)
            ready = selector.select(max(0.0, wake - now))
            caught_up = True
            for key, _ in ready:
                caught_up &= _drain(key.fileobj, receiver, clock)  # type: ignore[arg-type]
            receiver.flush()
            # The clock is applied only after reading what was queued: a packet that
            # arrived during a pause, before a deadline, must not lose to that deadline
            # (its frame repaired or concealed, its page timed out) for being read late.
            now = clock()
            if now >= next_tick:
                receiver.tick(now)
                deadline = receiver.next_deadline()
                # the clock is applied at most every TICK_S: with 50 pages at 50 packets a
                # second, walking every page per datagram cost more than the datagrams did
                next_tick = max(now + TICK_S, min(deadline or now + 0.1, now + 0.1))
            if ready and caught_up and coalesce_s and not should_stop():
                time.sleep(coalesce_s if until is None else max(0.0, min(coalesce_s, until - now)))
    finally:
        selector.close()


def _drain(sock: socket.socket, receiver: Receiver, clock: Callable[[], float]) -> bool:
    """Feed what `sock` holds, up to `_BATCH` datagrams; whether it was emptied."""
    for _ in range(_BATCH):
        try:
            data, ancillary, _flags, source = sock.recvmsg(_MAX_DATAGRAM, _ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:  # e.g. an ICMP error queued on the socket: not ours to stop for
            continue
        receiver.feed(_arrival(ancillary) or clock(), source, data)
    return False


def _arrival(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    """The kernel's receive time (wall clock) from SO_TIMESTAMPNS ancillary data."""
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= 16:
            seconds, nanoseconds = _TIMESPEC.unpack_from(payload)
            return seconds + nanoseconds * 1e-9
    return None
