"""A real ``nats-server`` (Debian's) for the sites tests, on loopback in the namespace.

`NatsServer.start` runs it on 127.0.0.1 at a free port (the same port again after
`kill`, so that relays reconnect to it), and returns once it accepts connections;
`kill` ends it with SIGKILL (a crash, not a shutdown: no goodbye to the clients).
With `conf` (a configuration's text: accounts, users, leaf nodes) it runs
``nats-server -c FILE``, the file starting with ``listen: 127.0.0.1:PORT``.
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
    """``nats-server -a 127.0.0.1 -p PORT`` (or ``-c`` a file with `conf`) and its log."""

    folder: Path
    port: int = field(default_factory=free_tcp_port)
    process: subprocess.Popen[bytes] | None = None
    conf: str | None = None
    log_name: str = "nats.log"

    @property
    def log(self) -> str:
        return (self.folder / self.log_name).read_text()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = ["nats-server", "-a", "127.0.0.1", "-p", str(self.port)]
        if self.conf is not None:
            path = self.folder / self.log_name.replace(".log", ".conf")
            path.write_text(f"listen: 127.0.0.1:{self.port}\n{self.conf}")
            command = ["nats-server", "-c", str(path)]
        with (self.folder / self.log_name).open("ab") as log:  # the child keeps its own
            self.process = subprocess.Popen(command, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(self.log) from None
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
