"""The relay under attack (issue 19): connection floods, bans, proxies, targets, logs.

The flood runs the real ``polyptt relay`` process with its open files limited as a
systemd service's are by default; the rest serve the application in-process with its
real sockets on the namespaced loopback (`tests.relay.harness.app_client`).
"""

from __future__ import annotations

import http.client
import resource
import signal
import socket
import time
from pathlib import Path

import pytest
from tests.relay.harness import start_relay, write_config
from tests.udp_capture import free_port

from polyptt.relay.serving import REQUEST_HEADER_S

pytestmark = pytest.mark.network

FLOOD = 1100


def _healthz_s(port: int) -> float:
    """Seconds ``GET /healthz`` from 127.0.0.3 takes (it must answer 200)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=5, source_address=("127.0.0.3", 0)
    )
    try:
        connection.request("GET", "/healthz")
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    return time.monotonic() - started


def _silent(port: int) -> socket.socket | None:
    """A TCP connection from 127.0.0.2 that never sends a byte (None: not accepted)."""
    sock = socket.socket()
    sock.settimeout(0.5)
    sock.bind(("127.0.0.2", 0))
    try:
        sock.connect(("127.0.0.1", port))
    except OSError:
        sock.close()
        return None
    return sock


def test_silent_connections_from_one_address_do_not_stop_the_relay(tmp_path: Path) -> None:
    """1,100 silent connections from one address, the relay limited to 1,024 open files:
    /healthz from another address answers in under a second throughout, the relay's log
    grows by less than 100 KB, and a silent connection is closed after the header
    deadline."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    config = write_config(tmp_path / "relay")
    relay = start_relay(config, udp_port=free_port())
    port = int(relay.url.rsplit(":", 1)[1])
    opened: list[socket.socket] = []
    try:
        resource.prlimit(relay.process.pid, resource.RLIMIT_NOFILE, (1024, 1024))
        log_before = relay.stderr.stat().st_size
        started = time.monotonic()
        slowest = 0.0
        for index in range(FLOOD):
            sock = _silent(port)
            if sock is not None:
                opened.append(sock)
            if index % 50 == 0:
                slowest = max(slowest, _healthz_s(port))
        for _ in range(5):  # and while they all stay open
            slowest = max(slowest, _healthz_s(port))
            time.sleep(0.2)
        first = opened[0]
        first.settimeout(REQUEST_HEADER_S + 5 - (time.monotonic() - started))
        closed = first.recv(1) == b""  # the relay closed it: no headers in time
        log_growth = relay.stderr.stat().st_size - log_before
    finally:
        for sock in opened:
            sock.close()
        assert relay.stop() == 128 + signal.SIGTERM
    assert slowest < 1.0
    assert log_growth < 100_000
    assert closed
