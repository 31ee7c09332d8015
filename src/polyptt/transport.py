"""Where pages go: destinations, interfaces and the UDP socket that sends them.

Phones listen on a multicast group (224.0.1.116:5001 by default) or, for one phone, on
its own address; :func:`parse_destination` turns ``HOST[:PORT]`` into either.
:func:`interface_address` finds the IPv4 address that picks the outgoing interface for
multicast, and :class:`UdpSink` is the socket a page is written to.

Problems split in two kinds, because a script must tell them apart: input that can never
work (a malformed address, an interface that does not exist) raises ``ValueError``;
failures of the network itself (no route, a resolver that is down, a send that fails)
raise :class:`NetworkError`.

Multicast is sent with loopback on, so a listener on the sending host hears the page,
with the TTL phones use (64) unless told otherwise, and with the don't-fragment flag
where the system has one: a page's datagrams are far below any Ethernet MTU, and a
fragmented one is better refused than half delivered.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
from dataclasses import dataclass

from polyptt.protocol import DEFAULT_GROUP, DEFAULT_PORT

__all__ = [
    "DEFAULT_DESTINATION",
    "DEFAULT_TTL",
    "Destination",
    "NetworkError",
    "UdpSink",
    "interface_address",
    "parse_destination",
    "source_address",
    "split_host_port",
]

#: Where phones listen unless their administrator changed it.
DEFAULT_DESTINATION = f"{DEFAULT_GROUP}:{DEFAULT_PORT}"

#: The IP TTL phones themselves send paging multicast with.
DEFAULT_TTL = 64

# Linux's don't-fragment switch (<linux/in.h>); the socket module does not export it.
_IP_MTU_DISCOVER = 10
_IP_PMTUDISC_DO = 2
_SIOCGIFADDR = 0x8915
_IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)


class NetworkError(OSError):
    """The network refused: no route, no resolver, a send that failed."""


@dataclass(frozen=True)
class Destination:
    """An IPv4 address and UDP port: where a page is sent, or what a listener joins
    (`polyptt.receive.inbound.Endpoint` is this class).

    Attributes
    ----------
    address : str
        Dotted IPv4 address (a hostname is resolved when parsed).
    port : int
        UDP port, 1-65535.
    """

    address: str
    port: int

    @property
    def is_multicast(self) -> bool:
        """True for a group (224.0.0.0/4), False for one host."""
        return ipaddress.IPv4Address(self.address).is_multicast

    def __str__(self) -> str:
        return f"{self.address}:{self.port}"


def _resolve(host: str) -> str:
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"{host!r} is not an IPv4 address or host name")
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", None)):
            raise NetworkError(f"cannot resolve {host!r} now: {exc.strerror}") from None
        raise ValueError(f"unknown host {host!r}: {exc.strerror}") from None
    return str(infos[0][4][0])


def split_host_port(text: str, *, default_host: str = "") -> tuple[str, int]:
    """``HOST[:PORT]`` (or ``:PORT``) as its host and port; the one parser behind every
    address option (`parse_destination` for where pages go, and
    `polyptt.receive.inbound.parse_endpoint` for what a listener joins).

    The port defaults to 5001 and the host to `default_host`; the host is not checked
    here (a name or an address, as the caller allows).

    Raises
    ------
    ValueError
        An IPv6 address, a port that is not a number or not in 1-65535.
    """
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = text.strip(), str(DEFAULT_PORT)
    if ":" in host:
        raise ValueError(f"{text!r}: IPv6 is not supported; use an IPv4 HOST[:PORT]")
    try:
        port = int(port_text, 10)
    except ValueError:
        raise ValueError(f"{text!r}: port {port_text!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"{text!r}: port {port} is not in 1-65535")
    return host or default_host, port


def parse_destination(text: str) -> Destination:
    """``HOST[:PORT]`` as a :class:`Destination`; the port defaults to 5001.

    Parameters
    ----------
    text : str
        An IPv4 address or host name, optionally followed by ``:PORT``.

    Raises
    ------
    ValueError
        Malformed text, a port out of range, an unknown host, or an address phones
        cannot be paged at (0.0.0.0, broadcast).
    NetworkError
        The resolver is unreachable (a temporary failure).
    """
    host, port = split_host_port(text)
    address = _resolve(host)
    parsed = ipaddress.IPv4Address(address)
    if parsed.is_unspecified or parsed == ipaddress.IPv4Address("255.255.255.255"):
        raise ValueError(f"{text!r}: cannot page {address}; use a group or a phone's address")
    return Destination(address, port)


def interface_address(name_or_address: str) -> str:
    """The IPv4 address that selects an outgoing interface, from its name or an address.

    Parameters
    ----------
    name_or_address : str
        An interface name (``eth0``) or one of this host's IPv4 addresses.

    Raises
    ------
    ValueError
        No such interface, an interface without an IPv4 address, or an address that is
        not this host's.
    """
    text = name_or_address.strip()
    try:
        address = str(ipaddress.IPv4Address(text))
    except ValueError:
        return _address_of_interface(text)
    if not _is_local(address):
        raise ValueError(f"{address} is not an address of this host")
    return address


def _address_of_interface(name: str) -> str:
    try:
        socket.if_nametoindex(name)
    except (OSError, ValueError):
        raise ValueError(f"no network interface named {name!r}") from None
    if not sys.platform.startswith("linux"):
        raise ValueError(f"give --iface as an IPv4 address on this system, not {name!r}")
    import fcntl

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        request = struct.pack("256s", name.encode()[:15])
        reply = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
    except OSError:
        raise ValueError(f"interface {name!r} has no IPv4 address") from None
    finally:
        probe.close()
    return socket.inet_ntoa(reply[20:24])


def source_address(
    destination: Destination, interface: str | None = None, source_port: int | None = None
) -> tuple[str, int]:
    """The (address, port) this host would send to `destination` from, sending nothing.

    Used to label packets written to a capture file as if they had been sent: the port
    is the one a :class:`UdpSink` with the same `source_port` asks for (the
    destination's by default; 0 for the ephemeral port the system would pick). Falls
    back to ``0.0.0.0`` when there is no route.
    """
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if interface:
            probe.bind((interface, 0))
        probe.connect((destination.address, destination.port))  # routes only; no packet
        address, port = probe.getsockname()
    except OSError:
        address, port = interface or "0.0.0.0", DEFAULT_PORT
    finally:
        probe.close()
    if source_port is None:
        source_port = destination.port
    return str(address), int(source_port or port)


def _is_local(address: str) -> bool:
    """Whether `address` is one of this host's (a socket can bind to it)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind((address, 0))
    except OSError:
        return False
    finally:
        probe.close()
    return True


class UdpSink:
    """A UDP socket configured for paging, and the one way a page is sent.

    Phones send their pages from the group's port (5001 -> 5001), and at least one
    receiver written against them drops anything else, so the socket is bound to the
    destination's port by default. ``SO_REUSEADDR``/``SO_REUSEPORT`` let a listener on
    this host (``listen``, ``loop``, the relay) and a second sender share that port, and
    the socket is connected to the destination, which takes it out of the kernel's choice
    of receiver for datagrams arriving at the port: it never steals a listener's
    traffic. A port that cannot be bound (another program holds it exclusively, or it
    is privileged) falls back to an ephemeral one, with :attr:`warning` saying so; a
    page is never refused for its source port. Unicast to this host itself also uses
    an ephemeral port, or the socket would receive its own datagrams.

    Parameters
    ----------
    destination : Destination
        A multicast group or one phone.
    interface : str, optional
        IPv4 address of the outgoing interface (see :func:`interface_address`). For
        multicast it picks the interface; it is also the source address.
    ttl : int
        IP TTL, 0-255. For multicast 0 keeps packets on this host and 1 on the local
        network; unicast uses at least 1.
    source_port : int, optional
        The source port; the destination's by default, 0 for an ephemeral one.

    Attributes
    ----------
    warning : str or None
        Why the socket did not get the source port it asked for, if it did not.

    Raises
    ------
    NetworkError
        The socket cannot be opened or configured as asked, or there is no route to the
        destination.
    """

    #: The sender waits for each packet's due time before sending it.
    paced = True

    def __init__(
        self,
        destination: Destination,
        *,
        interface: str | None = None,
        ttl: int = 64,
        source_port: int | None = None,
    ):
        if not 0 <= ttl <= 255:
            raise ValueError(f"TTL {ttl} is not in 0-255")
        if source_port is not None and not 0 <= source_port <= 65535:
            raise ValueError(f"source port {source_port} is not in 0-65535")
        self.destination = destination
        self.warning: str | None = None
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._configure(interface, ttl)
            self._bind(interface, destination.port if source_port is None else source_port)
            self._socket.connect((destination.address, destination.port))
        except OSError as exc:
            self._socket.close()
            reason = exc.strerror or exc
            raise NetworkError(f"cannot set up the socket for {destination}: {reason}") from None

    def _configure(self, interface: str | None, ttl: int) -> None:
        sock = self._socket
        if sys.platform.startswith("linux"):
            sock.setsockopt(socket.IPPROTO_IP, _IP_MTU_DISCOVER, _IP_PMTUDISC_DO)
            sock.setsockopt(socket.IPPROTO_IP, _IP_MULTICAST_ALL, 0)  # receives nothing
        if self.destination.is_multicast:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            if interface:
                sock.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface)
                )
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, max(ttl, 1))

    def _bind(self, interface: str | None, port: int) -> None:
        """Bind to `port`, or to an ephemeral port (with a warning) if it is refused."""
        sock = self._socket
        if port and not self.destination.is_multicast and _is_local(self.destination.address):
            port = 0  # to ourselves: from port P to port P would loop back into this socket
        if port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if hasattr(socket, "SO_REUSEPORT"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            try:
                sock.bind((interface or "", port))
                return
            except OSError as exc:
                self.warning = (
                    f"cannot send from port {port} ({exc.strerror or exc}); sending from an "
                    "ephemeral port, which some receivers ignore"
                )
        sock.bind((interface or "", 0))

    @property
    def source(self) -> tuple[str, int]:
        """The local (address, port)."""
        address, port = self._socket.getsockname()
        return str(address), int(port)

    def send(self, datagram: bytes, offset: float) -> None:
        """Send one datagram now (`offset`, its time in the page, is for other sinks).

        A phone that answered an earlier datagram with "port unreachable" does not fail
        the page (the socket is connected, so the kernel reports it on the next send):
        the datagram is sent again, as an unconnected socket would have.

        Raises
        ------
        NetworkError
            The system refused the datagram (no route, network down, too big...).
        """
        try:
            try:
                self._socket.send(datagram)
            except ConnectionRefusedError:
                self._socket.send(datagram)
        except ConnectionRefusedError:
            pass  # refused twice in a row: the phone's port is closed; a page goes on
        except OSError as exc:
            reason = exc.strerror or exc
            raise NetworkError(f"sending to {self.destination} failed: {reason}") from None

    def close(self) -> None:
        """Close the socket."""
        self._socket.close()

    def __enter__(self) -> UdpSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
