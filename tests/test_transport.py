"""Destinations, interfaces and the paging socket (real sockets on the namespaced loopback)."""

from __future__ import annotations

import socket
import time

import pytest
from tests.support.udp_capture import UdpCapture, WireSniffer, free_port

from polyptt.transport import (
    Destination,
    NetworkError,
    UdpSink,
    interface_address,
    parse_destination,
    source_address,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("224.0.1.116", Destination("224.0.1.116", 5001)),
        ("224.0.1.116:5001", Destination("224.0.1.116", 5001)),
        (" 239.1.2.3:6000 ", Destination("239.1.2.3", 6000)),
        ("192.0.2.7:5001", Destination("192.0.2.7", 5001)),
        ("localhost:1", Destination("127.0.0.1", 1)),
        ("127.0.0.1:65535", Destination("127.0.0.1", 65535)),
    ],
)
def test_parse_destination(text: str, expected: Destination) -> None:
    assert parse_destination(text) == expected


def test_destination_kind_and_text() -> None:
    assert Destination("224.0.1.116", 5001).is_multicast
    assert not Destination("10.0.0.5", 5001).is_multicast
    assert str(Destination("224.0.1.116", 5001)) == "224.0.1.116:5001"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("224.0.1.116:0", "not in 1-65535"),
        ("224.0.1.116:65536", "not in 1-65535"),
        ("224.0.1.116:http", "is not a number"),
        ("224.0.1.116:", "is not a number"),
        ("::1", "IPv6 is not supported"),
        ("[ff02::1]:5001", "IPv6 is not supported"),
        ("0.0.0.0", "cannot page 0.0.0.0"),
        ("255.255.255.255:5001", "cannot page 255.255.255.255"),
        ("no such host.invalid", "is not an IPv4 address or host name"),
        ("", "is not an IPv4 address or host name"),
    ],
)
def test_parse_destination_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_destination(text)


@pytest.mark.parametrize(
    ("errno", "error", "message"),
    [
        (socket.EAI_NONAME, ValueError, "unknown host 'phone.example'"),
        (socket.EAI_AGAIN, NetworkError, "cannot resolve 'phone.example' now"),
    ],
)
def test_resolver_failures(
    monkeypatch: pytest.MonkeyPatch, errno: int, error: type[Exception], message: str
) -> None:
    def fail(*_args: object) -> None:
        raise socket.gaierror(errno, "resolver says no")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(error, match=message):
        parse_destination("phone.example:5001")


def test_interface_by_name_and_address() -> None:
    assert interface_address("lo") == "127.0.0.1"
    assert interface_address("127.0.0.1") == "127.0.0.1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nosuchif0", "no network interface named 'nosuchif0'"),
        ("192.0.2.123", "192.0.2.123 is not an address of this host"),
    ],
)
def test_interface_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        interface_address(text)


def test_source_address_sends_nothing_and_follows_the_interface() -> None:
    address, port = source_address(Destination("127.0.0.1", 9), "127.0.0.1")
    assert address == "127.0.0.1"
    assert 0 < port < 65536


@pytest.mark.network
def test_multicast_sink_reaches_a_local_listener_with_ttl_and_df() -> None:
    port = free_port()
    with (
        UdpCapture(port) as capture,
        UdpSink(Destination("224.0.1.116", port), interface="127.0.0.1", ttl=0) as sink,
    ):
        sink.send(b"\x0f" * 20, 0.0)
        sink.send(b"\xff" * 20, 0.03)
        packets = capture.wait_for(2)
        raw = sink._socket
        assert raw.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL) == 0
        assert raw.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP) == 1
        assert raw.getsockopt(socket.IPPROTO_IP, 10) == 2  # IP_MTU_DISCOVER = IP_PMTUDISC_DO
        assert sink.source[0] == "127.0.0.1"
    assert [data for _t, data in packets] == [b"\x0f" * 20, b"\xff" * 20]


@pytest.mark.network
def test_unicast_sink() -> None:
    port = free_port()
    with (
        UdpCapture(port, group=None) as capture,
        UdpSink(Destination("127.0.0.1", port), ttl=0) as sink,
    ):
        assert sink._socket.getsockopt(socket.IPPROTO_IP, socket.IP_TTL) == 1  # at least 1
        sink.send(b"hello", 0.0)
        assert [data for _t, data in capture.wait_for(1)] == [b"hello"]


@pytest.mark.network
def test_send_failure_is_a_network_error() -> None:
    with (
        UdpSink(Destination("127.0.0.1", free_port())) as sink,
        pytest.raises(NetworkError, match=r"sending to 127\.0\.0\.1:\d+ failed: Message too long"),
    ):
        sink.send(b"x" * 70000, 0.0)


@pytest.mark.network
def test_no_route_is_a_network_error() -> None:
    # Inside the namespace only loopback and 224.0.0.0/4 are routed.
    # Found before anything is sent: the socket is connected to its destination.
    with pytest.raises(NetworkError, match="Network is unreachable"):
        UdpSink(Destination("192.0.2.1", 5001))


def test_ttl_out_of_range() -> None:
    with pytest.raises(ValueError, match="TTL 256"):
        UdpSink(Destination("127.0.0.1", 5001), ttl=256)


@pytest.mark.network
def test_wire_sniffer_sees_what_is_sent() -> None:
    """The control for the tests that assert nothing was sent: the sniffer does see sends."""
    port = free_port()
    with WireSniffer() as sniffer:
        for destination in (Destination("224.0.1.116", port), Destination("127.0.0.1", port)):
            with UdpSink(destination, interface="127.0.0.1", ttl=0) as sink:
                sink.send(b"probe", 0.0)
        time.sleep(0.2)
    assert sniffer.datagrams == [("224.0.1.116", port, b"probe"), ("127.0.0.1", port, b"probe")]
