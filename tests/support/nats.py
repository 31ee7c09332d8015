"""A real ``nats-server`` (Debian's) for the sites tests, on loopback in the namespace.

`NatsServer.start` runs it on 127.0.0.1 at a free port (the same port again after
`kill`, so that relays reconnect to it), and returns once it accepts connections;
`kill` ends it with SIGKILL (a crash, not a shutdown: no goodbye to the clients).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.support.relay import free_tcp_port


@dataclass
class NatsServer:
    """``nats-server -a 127.0.0.1 -p PORT`` and its log."""

    folder: Path
    port: int = field(default_factory=free_tcp_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10) -> None:
        command = ["nats-server", "-a", "127.0.0.1", "-p", str(self.port)]
        with (self.folder / "nats.log").open("ab") as log:  # the child keeps its own
            self.process = subprocess.Popen(command, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((self.folder / "nats.log").read_text()) from None
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def nats_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A running nats-server for one test (skipped where Debian's is not installed)."""
    if shutil.which("nats-server") is None:
        pytest.skip("nats-server is not installed (apt install nats-server)")
    server = NatsServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()
