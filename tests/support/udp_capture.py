"""Receivers for tests: what actually arrived on the (namespaced) loopback, and when.

:class:`UdpCapture` is a plain UDP socket, joined to a multicast group on 127.0.0.1 (or
bound to a unicast port), that collects ``(arrival time, datagram)`` pairs in a
thread; arrival times are the kernel's receive timestamps (``SO_TIMESTAMPNS``, wall
clock), so thread scheduling does not blur the intervals measured.

:class:`WireSniffer` sees every IPv4 UDP datagram leaving any socket on loopback (an
``AF_PACKET`` socket; needs root, i.e. the test network namespace): the proof that a
command sent nothing at all, whatever address it might have chosen.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable

from polyptt.protocol import DEFAULT_GROUP

__all__ = ["DEFAULT_GROUP", "UdpCapture", "WireSniffer", "free_port"]


LOOPBACK = "127.0.0.1"

_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_ETH_P_ALL = 0x0003
_PACKET_OUTGOING = 4


def free_port() -> int:
    """A UDP port nobody on this host is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


class _Collector:
    """A thread that reads datagrams from `read` into ``self.packets`` until stopped."""

    def __init__(self, read: Callable[[], tuple[float, bytes] | None]) -> None:
        self._read = read
        self.packets: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._read()
            except TimeoutError:
                continue
            except OSError:
                return
            if item is not None:
                with self._lock:
                    self.packets.append(item)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def snapshot(self) -> list[tuple[float, bytes]]:
        with self._lock:
            return list(self.packets)

    def wait_for(self, count: int, timeout: float) -> list[tuple[float, bytes]]:
        """The packets once at least `count` arrived, or all there are after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            packets = self.snapshot()
            if len(packets) >= count:
                return packets
            time.sleep(0.01)
        return self.snapshot()


class UdpCapture:
    """Collects datagrams sent to `group`:`port` (or to 127.0.0.1:`port` if unicast).

    Use as a context manager; ``packets`` holds ``(arrival, datagram)`` pairs, arrival in
    seconds since the epoch as stamped by the kernel.

    Parameters
    ----------
    port : int
        UDP port to listen on.
    group : str or None
        Multicast group to join on 127.0.0.1; None listens for unicast on 127.0.0.1.
    """

    def __init__(self, port: int, group: str | None = DEFAULT_GROUP) -> None:
        self.port = port
        self.group = group
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        if group is None:
            sock.bind((LOOPBACK, port))
        else:
            sock.bind((group, port))  # Linux: only datagrams addressed to the group
            membership = socket.inet_aton(group) + socket.inet_aton(LOOPBACK)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        sock.settimeout(0.05)
        self._socket = sock
        self._collector = _Collector(self._read)

    def _read(self) -> tuple[float, bytes]:
        data, ancillary, _flags, _address = self._socket.recvmsg(65536, 1024)
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                seconds, nanoseconds = struct.unpack("qq", payload[:16])
                return seconds + nanoseconds / 1e9, data
        return time.time(), data

    @property
    def packets(self) -> list[tuple[float, bytes]]:
        return self._collector.snapshot()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[float, bytes]]:
        """Wait until `count` datagrams arrived (or `timeout`); returns what arrived."""
        return self._collector.wait_for(count, timeout)

    def wait_quiet(self, quiet: float = 0.3, timeout: float = 30.0) -> list[tuple[float, bytes]]:
        """Wait until nothing arrived for `quiet` seconds; returns what arrived."""
        deadline = time.monotonic() + timeout
        seen, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            count = len(self._collector.snapshot())
            if count != seen:
                seen, since = count, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
            time.sleep(0.02)
        return self.packets

    def __enter__(self) -> UdpCapture:
        self._collector.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._collector.stop()
        self._socket.close()


class WireSniffer:
    """Every IPv4 UDP datagram sent on loopback while active: (time, destination, payload).

    Raises
    ------
    PermissionError
        Without CAP_NET_RAW (run the tests in the network namespace, as root).
    """

    def __init__(self) -> None:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(_ETH_P_ALL))
        sock.bind(("lo", 0))
        sock.settimeout(0.05)
        self._socket = sock
        self._collector = _Collector(self._read)

    def _read(self) -> tuple[float, bytes] | None:
        frame, address = self._socket.recvfrom(65536)
        if address[2] != _PACKET_OUTGOING or len(frame) < 28:
            return None
        if frame[0] >> 4 != 4 or frame[9] != socket.IPPROTO_UDP:
            return None
        return time.time(), frame

    @property
    def datagrams(self) -> list[tuple[str, int, bytes]]:
        """(destination address, destination port, UDP payload) of each datagram."""
        result = []
        for _when, frame in self._collector.snapshot():
            header = (frame[0] & 0x0F) * 4
            port = struct.unpack("!H", frame[header + 2 : header + 4])[0]
            result.append((socket.inet_ntoa(frame[16:20]), port, frame[header + 8 :]))
        return result

    @property
    def sent(self) -> list[tuple[int, str, int, bytes]]:
        """(source port, destination address, destination port, UDP payload) of each."""
        result = []
        for _when, frame in self._collector.snapshot():
            header = (frame[0] & 0x0F) * 4
            source, port = struct.unpack("!HH", frame[header : header + 4])
            result.append((source, socket.inet_ntoa(frame[16:20]), port, frame[header + 8 :]))
        return result

    def __enter__(self) -> WireSniffer:
        self._collector.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(Exception):
            self._collector.stop()
        self._socket.close()
