"""Run ``polyptt relay`` for real, and talk to it as clients do.

`start_relay` starts the relay process on 127.0.0.1 (inside the test network namespace)
with a configuration and token store in a temporary folder, and returns once
``/healthz`` answers. `app_client` serves the same application in-process through
`aiohttp.test_utils` for handler-level tests. Tokens are made with the real store.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from tests.support.processes import polyptt_command, polyptt_env

from polyptt.protocol import DEFAULT_GROUP
from polyptt.relay import RelaySettings, create_app, load_config
from polyptt.relay.auth import ALL_CHANNELS, TokenError, TokenStore
from polyptt.transport import Destination

#: The relay's serial in these tests (its pages are told apart from others' by it).
RELAY_SERIAL = 0x2000


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_refusal(path: Path) -> str:
    """What `load_config` refuses the config at `path` with, after the ``PATH: `` it
    starts with, asserting it is one line."""
    from polyptt.relay.config import ConfigError

    with pytest.raises(ConfigError) as refused:
        load_config(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message, message
    return message[len(f"{path}: ") :]


def write_config(folder: Path, text: str = "") -> Path:
    """A relay.toml in `folder` with an audit log beside it, plus `text`."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "relay.toml"
    config.write_text(f'audit_log = "audit.jsonl"\n{text}')
    return config


def add_token(
    config: Path,
    name: str,
    scopes: str,
    channels: Iterable[int] = ALL_CHANNELS,
    targets: Iterable[str] | None = (),
) -> str:
    """A new token for `name` with the comma list `scopes` (`targets` None: all)."""
    store = TokenStore(load_config(config).tokens_path)
    granted = None if targets is None else frozenset(targets)
    return store.add(name, frozenset(scopes.split(",")), frozenset(channels), granted)


def revoke_token(config: Path, name: str) -> None:
    TokenStore(load_config(config).tokens_path).revoke(name)


def audit_events(config: Path) -> list[dict[str, Any]]:
    path = config.parent / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class RelayProcess:
    """A running ``polyptt relay``."""

    process: subprocess.Popen[bytes]
    url: str
    config: Path
    stderr: Path
    ssl_context: ssl.SSLContext | None = None

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/api/v1/ws"

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send `signum` and wait for the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()

    def fetch(self, path: str, token: str) -> bytes:
        """The body of ``GET path`` (which must succeed)."""
        request = urllib.request.Request(self.url + path)
        request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=60, context=self.ssl_context) as answer:
            return bytes(answer.read())

    def request(
        self, method: str, path: str, token: str | None = None, body: bytes | None = None
    ) -> tuple[int, Any]:
        """`method` `path` with `token`; (status, JSON or text of the answer)."""
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60, context=self.ssl_context) as answer:
                status, text = answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        with contextlib.suppress(ValueError):
            return status, json.loads(text)
        return status, text


@dataclass
class SharedRelay:
    """A relay shared by the tests of a session: its process, its UDP port (where it
    pages and listens), its configuration and what it records."""

    process: RelayProcess
    port: int
    config: Path
    record: Path

    @property
    def url(self) -> str:
        return self.process.url

    def token(self, name: str, scopes: str, channels: Iterable[int] = ALL_CHANNELS) -> str:
        """A new token for `name` (one an earlier test made under that name is revoked)."""
        with contextlib.suppress(TokenError):
            revoke_token(self.config, name)
        return add_token(self.config, name, scopes, channels)

    def check(self) -> None:
        """The relay outlived the test."""
        assert self.process.process.poll() is None, self.process.stderr.read_text()


def start_relay(
    config: Path,
    *,
    udp_port: int,
    args: Iterable[str] = (),
    tls: tuple[Path, Path, ssl.SSLContext] | None = None,
    port: int | None = None,
    serial: int | None = RELAY_SERIAL,
    wrap: Sequence[str] = (),
) -> RelayProcess:
    """Start ``polyptt relay`` paging and listening on the group at `udp_port`.

    It serves on `port` (a restart keeps its predecessor's), or on a free one, and pages
    under `serial` (None: this host's, as without ``--serial``). `wrap` goes before the
    command (``unshare -m ...``: a mount namespace of its own).
    """
    port = port or free_tcp_port()
    stderr = config.parent / "relay.err"
    extra: list[str] = []
    if tls is not None:
        extra = ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    with stderr.open("wb") as err:  # the child keeps its own descriptor
        if serial is not None:
            extra += ["--serial", hex(serial)]
        process = _popen(err, port, config, udp_port, [*extra, *args], wrap)
    scheme = "https" if tls is not None else "http"
    relay = RelayProcess(
        process, f"{scheme}://127.0.0.1:{port}", config, stderr, tls[2] if tls else None
    )
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            raise AssertionError(f"relay exited: {stderr.read_text()}")
        with contextlib.suppress(OSError):
            if relay.request("GET", "/healthz")[0] == 200:
                return relay
        if time.monotonic() > deadline:
            relay.stop(signal.SIGKILL)
            raise AssertionError(f"relay did not start: {stderr.read_text()}")
        time.sleep(0.05)


def settings(config: Path, udp_port: int, **changes: Any) -> RelaySettings:
    """Settings for an in-process relay on the loopback group at `udp_port`."""
    return RelaySettings(
        config=load_config(config),
        destination=Destination(DEFAULT_GROUP, udp_port),
        interface="127.0.0.1",
        ttl=0,
        serial=RELAY_SERIAL,
        **changes,
    )


@contextlib.asynccontextmanager
async def app_client(relay_settings: RelaySettings) -> AsyncIterator[TestClient[Any, Any]]:
    """The relay application served in this loop, and a client for it."""
    client = TestClient(TestServer(create_app(relay_settings), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@contextlib.contextmanager
def relay_in_thread(relay_settings: RelaySettings) -> Iterator[str]:
    """The relay application served on 127.0.0.1 from a thread of this process, with an
    event loop of its own; yields its URL. For clients that block this thread (a
    command run by `click.testing.CliRunner`); with a `tests.support.clocks.VirtualClock`
    in the settings its pages take no time."""
    loop = asyncio.new_event_loop()
    url: concurrent.futures.Future[str] = concurrent.futures.Future()
    stop = asyncio.Event()

    async def serve() -> None:
        runner = web.AppRunner(create_app(relay_settings))
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            url.set_result(f"http://127.0.0.1:{runner.addresses[0][1]}")
            await stop.wait()
        finally:
            await runner.cleanup()

    def run() -> None:
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:
            if not url.done():
                url.set_exception(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="relay", daemon=True)
    thread.start()
    try:
        yield url.result(timeout=15)
    finally:
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)


def relay_command(
    config: Path, port: int, udp_port: int, args: Iterable[str] = (), *, verbose: bool = True
) -> list[str]:
    """``polyptt relay`` with `config`, serving on 127.0.0.1:`port`, paging the group at
    `udp_port`, then `args`."""
    return polyptt_command(
        "relay",
        *(["-v"] if verbose else []),
        "--config",
        str(config),
        "--bind",
        f"127.0.0.1:{port}",
        "--to",
        f"{DEFAULT_GROUP}:{udp_port}",
        *args,
    )


def _popen(
    err: Any, port: int, config: Path, udp_port: int, args: list[str], wrap: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*wrap, *relay_command(config, port, udp_port, args)],
        stdout=subprocess.DEVNULL,
        stderr=err,
        env=polyptt_env(),
    )
