"""The relay under attack (issue 19): connection floods, bans, proxies, targets, logs.

The flood runs the real ``polyptt relay`` process with its open files limited as a
systemd service's are by default; the rest serve the application in-process with its
real sockets on the namespaced loopback (`tests.relay.harness.app_client`).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import resource
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict
from tests.support.listen import polyptt
from tests.support.relay import (
    RelayProcess,
    add_token,
    app_client,
    revoke_token,
    settings,
    start_relay,
    write_config,
)
from tests.support.relay_audio import CHIME
from tests.support.udp_capture import free_port

from polyptt.relay import load_config
from polyptt.relay.auth import TokenStore
from polyptt.relay.serving import REQUEST_HEADER_S
from polyptt.relay.state import RELAY
from polyptt.relay.wire import AUDIO_HEADER

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


def _silent(port: int, source: str = "127.0.0.2") -> socket.socket | None:
    """A TCP connection from `source` that never sends a byte (None: not accepted)."""
    sock = socket.socket()
    sock.settimeout(0.5)
    sock.bind((source, 0))
    try:
        sock.connect(("127.0.0.1", port))
    except OSError:
        sock.close()
        return None
    return sock


def _relay_with_1024_files(tmp_path: Path) -> tuple[RelayProcess, int]:
    """A relay process allowed 1,024 open files (this test process up to 4,096, to open
    more connections than that), and its TCP port."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    config = write_config(tmp_path / "relay")
    relay = start_relay(config, udp_port=free_port())
    resource.prlimit(relay.process.pid, resource.RLIMIT_NOFILE, (1024, 1024))
    return relay, int(relay.url.rsplit(":", 1)[1])


def test_silent_connections_from_one_address_do_not_stop_the_relay(tmp_path: Path) -> None:
    """1,100 silent connections from one address, the relay limited to 1,024 open files:
    /healthz from another address answers in under a second throughout, the relay's log
    grows by less than 100 KB (one line says it refuses the address's excess), and a
    silent connection is closed after the header deadline."""
    relay, port = _relay_with_1024_files(tmp_path)
    opened: list[socket.socket] = []
    try:
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
        log = relay.stderr.read_bytes()[log_before:].decode()
    finally:
        for sock in opened:
            sock.close()
        assert relay.stop() == 128 + signal.SIGTERM
    assert slowest < 1.0
    assert len(log) < 100_000
    assert log.count("refusing connections from 127.0.0.2: 64 open, the limit per address") == 1
    assert closed


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _status(client: Any, path: str, headers: Any = None) -> int:
    async with client.get(path, headers=headers) as answer:
        await answer.read()
        return int(answer.status)


def _run_in_process(tmp_path: Path, text: str, check: Any) -> None:
    """Serve the relay (configuration `text`) in this process; `check(client, token)`
    with a listen token."""
    config = write_config(tmp_path / "relay", text)
    token = add_token(config, "Listener", "listen")

    async def main() -> None:
        async with app_client(settings(config, free_port())) as client:
            await check(client, token)

    asyncio.run(main())


BANS = 'trusted_proxies = ["127.0.0.1"]\n[limits]\nlogin_failures = 3\n'


def test_requests_without_credentials_do_not_ban_but_wrong_tokens_do(tmp_path: Path) -> None:
    """Ten token-less GET /metrics (an <img> anywhere) leave the address free to use its
    valid token; three presented-and-wrong tokens ban it (429)."""

    async def check(client: Any, token: str) -> None:
        statuses = [await _status(client, "/metrics") for _ in range(10)]
        assert statuses == [401] * 10
        assert await _status(client, "/api/v1/pages", _bearer(token)) == 200
        wrong = [await _status(client, "/metrics", _bearer("wrong")) for _ in range(3)]
        assert wrong == [401] * 3
        assert await _status(client, "/api/v1/pages", _bearer(token)) == 429

    _run_in_process(tmp_path, BANS, check)


def test_a_ban_survives_five_thousand_other_addresses_failing(tmp_path: Path) -> None:
    """An address banned through a trusted proxy stays banned while 5,000 other
    addresses fail once each (the table is bounded, but never by lifting a ban). The
    5,000 failures are counted by the relay's own `login_failed`, as the middleware
    does, to keep the test short; the ban is made and checked over HTTP."""

    async def check(client: Any, token: str) -> None:
        banned = {"X-Forwarded-For": "198.51.100.7"}
        for _ in range(3):
            assert await _status(client, "/metrics", {**banned, **_bearer("wrong")}) == 401
        relay = client.server.app[RELAY]
        for index in range(5000):
            relay.login_failed(f"10.{index >> 8}.{index & 255}.1")
        assert await _status(client, "/api/v1/pages", {**banned, **_bearer(token)}) == 429
        other = {"X-Forwarded-For": "198.51.100.8"}
        assert await _status(client, "/api/v1/pages", {**other, **_bearer(token)}) == 200
        assert len(relay.failures) <= 4096

    _run_in_process(tmp_path, BANS, check)


@pytest.mark.parametrize(
    ("lines", "client_address"),
    [
        (["198.51.100.66", "203.0.113.9"], "203.0.113.9"),  # the proxy's own line, last
        (["198.51.100.66, 203.0.113.9"], "203.0.113.9"),  # the proxy appended
        (["198.51.100.66, 203.0.113.9, 10.0.0.5"], "203.0.113.9"),  # two trusted proxies
    ],
    ids=["second line", "appended", "chained proxies"],
)
def test_forwarded_for_is_the_right_most_untrusted_hop(
    tmp_path: Path, lines: list[str], client_address: str
) -> None:
    """Behind proxies that add to X-Forwarded-For, the client is the right-most address
    that is not a trusted proxy, not what the client wrote first (198.51.100.66)."""
    text = 'trusted_proxies = ["127.0.0.1", "10.0.0.5"]\n'
    config_events: list[dict[str, Any]] = []

    async def check(client: Any, _token: str) -> None:
        headers = CIMultiDict([("X-Forwarded-For", line) for line in lines])
        headers.add("Authorization", "Bearer wrong")
        assert await _status(client, "/metrics", headers) == 401
        config_events.extend(client.server.app[RELAY].audit.events)

    _run_in_process(tmp_path, text, check)
    refused = [e for e in config_events if e["event"] == "login_refused"]
    assert [e["remote"] for e in refused] == [client_address]


async def _listener(client: Any, token: str) -> Any:
    ws = await client.ws_connect("/api/v1/ws", headers=_bearer(token))
    assert (await ws.receive_json(timeout=10))["type"] == "hello"
    await ws.send_json({"type": "listen"})
    return ws


async def _events(ws: Any, until_s: float) -> list[tuple[str, int]]:
    """(event type or "audio", page id) of what `ws` receives for `until_s` seconds."""
    seen: list[tuple[str, int]] = []
    with contextlib.suppress(asyncio.TimeoutError):
        async with asyncio.timeout(until_s):
            while True:
                message = await ws.receive()
                if message.type.name == "BINARY":
                    seen.append(("audio", AUDIO_HEADER.unpack_from(message.data)[0]))
                else:
                    event = message.json()
                    seen.append((event["type"], event.get("id", 0)))
    return seen


def test_pages_to_a_target_are_seen_only_by_tokens_granted_it(tmp_path: Path) -> None:
    """A page to the named phone "desk" reaches (events, audio, list, WAV) a token
    granted "desk" and one granted all targets, not a listen-only token without it.
    (In the namespace the relay also hears its own unicast back as a LAN page, which
    everyone may hear; only the sent page's id is looked at.)"""
    config = write_config(tmp_path / "relay", '[targets]\ndesk = "127.0.0.9"\n')
    boss = add_token(config, "Boss", "talk,listen", targets=["desk"])
    tokens = {
        "granted": add_token(config, "Desk", "listen", targets=["desk"]),
        "all": add_token(config, "All", "listen", targets=None),
        "none": add_token(config, "Listener", "listen"),
    }

    async def main() -> dict[str, tuple[list[str], int, int]]:
        relay_settings = settings(config, free_port(), record=tmp_path / "rec")
        async with app_client(relay_settings) as client:
            sockets = {name: await _listener(client, t) for name, t in tokens.items()}
            async with client.post(
                "/api/v1/pages?channel=26&target=desk",
                data=CHIME.read_bytes(),
                headers=_bearer(boss),
            ) as answer:
                assert answer.status == 202, await answer.text()
                page_id = (await answer.json())["page"]
            seen = await asyncio.gather(*(_events(ws, 4.0) for ws in sockets.values()))
            found = {}
            for (name, token), events in zip(tokens.items(), seen, strict=True):
                async with client.get("/api/v1/pages", headers=_bearer(token)) as answer:
                    pages = (await answer.json())["pages"]
                listed = [p["id"] for p in pages].count(page_id)
                wav = await _status(client, f"/api/v1/pages/{page_id}.wav", _bearer(token))
                kinds = sorted({kind for kind, page in events if page == page_id})
                found[name] = (kinds, listed, wav)
            for ws in sockets.values():
                await ws.close()
            return found

    found = asyncio.run(main())
    heard = (["audio", "page_end", "page_start"], 1, 200)
    assert found == {"granted": heard, "all": heard, "none": ([], 0, 404)}


def _raw(port: int, data: bytes) -> bytes:
    """What the relay answers to the bytes `data` sent on a new connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        return sock.recv(200)


def test_bad_requests_leave_one_escaped_line_each_and_no_token(tmp_path: Path) -> None:
    """Against the relay process with -v: a 9 KB URL carrying ?token= is logged without
    the token; a path with CR/LF cannot write a line of its own; requests the parser
    refuses are each logged on one line (no traceback from the access logger)."""
    config = write_config(tmp_path / "relay")
    relay = start_relay(config, udp_port=free_port())
    port = int(relay.url.rsplit(":", 1)[1])
    try:
        long_url = b"GET /api/v1/ws?token=SECRETTOKEN" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n"
        fake = b"GET /x%0d%0a6.6.6.6%20%22GET%20/admin%22%20200 HTTP/1.1\r\nHost: x\r\n\r\n"
        malformed = [
            b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
            b"GET http://[::1 HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",  # no Host
        ]
        raw = [_raw(port, data) for data in [long_url, fake, *malformed]]
        answers = [answer[:12] for answer in raw]
        servers = {line for a in raw for line in a.split(b"\r\n") if line.startswith(b"Server")}
        assert _healthz_s(port) < 1.0
        time.sleep(0.3)
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    assert answers == [b"HTTP/1.0 400", b"HTTP/1.1 404"] + [b"HTTP/1.0 400"] * 3
    assert servers == {b"Server: polyptt-relay"}  # the parser's 400s too: no version
    log = relay.stderr.read_text()
    assert "SECRETTOKEN" not in log
    assert not [line for line in log.splitlines() if line.startswith("6.6.6.6")]
    assert '"GET /x\\x0d\\x0a6.6.6.6 \\x22GET /admin\\x22 200" 404' in log
    assert "Traceback" not in log
    assert log.count("Error handling request") == 4


def test_deeply_nested_json_is_answered_with_an_error(tmp_path: Path) -> None:
    """A WebSocket message of JSON nested 2,000 deep gets a bad_json error and the
    connection stays usable (it ended with an uncaught RecursionError)."""

    async def check(client: Any, token: str) -> None:
        ws = await client.ws_connect("/api/v1/ws", headers=_bearer(token))
        assert (await ws.receive_json(timeout=10))["type"] == "hello"
        await ws.send_str("[" * 2000 + "]" * 2000)
        error = await ws.receive_json(timeout=10)
        assert (error["type"], error["code"]) == ("error", "bad_json")
        await ws.send_json({"type": "listen"})
        assert (await ws.receive_json(timeout=10))["type"] == "listening"
        await ws.close()

    _run_in_process(tmp_path, "[limits]\nmax_message_bytes = 8192\n", check)


def test_signout_needs_the_relays_origin_and_ends_the_session(tmp_path: Path) -> None:
    """The session cookie holds a session id, not the token; POST /signout from another
    site (or with no Origin) is 403 and the session still works; from the relay's own
    page it ends the session, which then no longer opens anything."""

    async def check(client: Any, token: str) -> None:
        async with client.post("/api/v1/session", headers=_bearer(token)) as answer:
            assert answer.status == 200
            session = answer.cookies["polyptt_session"].value
        assert len(session) >= 40
        assert token not in session
        own = f"http://127.0.0.1:{client.port}"
        for origin in ({"Origin": "https://evil.example"}, {}):
            async with client.post("/signout", headers=origin) as answer:
                assert answer.status == 403
        assert await _status(client, "/api/v1/pages") == 200  # the cookie alone
        async with client.post("/signout", headers={"Origin": own}) as answer:
            assert answer.status == 204
        client.session.cookie_jar.update_cookies({"polyptt_session": session})
        assert await _status(client, "/api/v1/pages") == 401

    _run_in_process(tmp_path, "", check)


def test_a_revoked_token_ends_its_sessions(tmp_path: Path) -> None:
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Listener", "listen")

    async def main() -> tuple[int, int]:
        async with app_client(settings(config, free_port())) as client:
            async with client.post("/api/v1/session", headers=_bearer(token)) as answer:
                assert answer.status == 200
            before = await _status(client, "/api/v1/pages")
            revoke_token(config, "Listener")
            add_token(config, "Other", "listen")
            return before, await _status(client, "/api/v1/pages")

    assert asyncio.run(main()) == (200, 401)


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
def test_hsts_under_tls_and_no_library_version_in_server(tmp_path: Path, tls: bool) -> None:
    """Served over TLS, every answer carries Strict-Transport-Security (not over plain
    HTTP, where a proxy's TLS is the proxy's to declare); `Server` names no version."""
    config = write_config(tmp_path / "relay")

    async def main() -> Any:
        async with (
            app_client(settings(config, free_port(), tls=tls)) as client,
            client.get("/healthz") as answer,
        ):
            return answer.headers

    headers = asyncio.run(main())
    assert headers.get("Strict-Transport-Security") == ("max-age=31536000" if tls else None)
    assert headers["Server"] == "polyptt-relay"


def test_a_token_expires(tmp_path: Path) -> None:
    """`relay token add --expires` is listed with its moment; a token past it is refused
    (401) like an unknown one, and its live WebSocket is cut off; bad values are one
    line and exit 2."""
    config = write_config(tmp_path / "relay")
    added = polyptt(
        "relay", "token", "add", "Temp", "--can", "listen", "--expires", "2099-01-31T18:00Z",
        "--config", str(config),
    )  # fmt: skip
    token = added.stdout.splitlines()[-1]
    listed = polyptt("relay", "token", "list", "--config", str(config))
    assert listed.stdout == "Temp\tlisten\t1-50\t-\t2099-01-31T18:00:00Z\n"
    for bad, reason in [
        ("2001-01-01", "'2001-01-01' is not in the future"),
        ("soon", "'soon' is neither a duration (90m, 12h, 30d, 2w) nor a date"),
    ]:
        refused = polyptt(
            "relay", "token", "add", "X", "--can", "listen", "--expires", bad,
            "--config", str(config), check=False,
        )  # fmt: skip
        assert refused.returncode == 2
        assert reason in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    brief = TokenStore(load_config(config).tokens_path).add(
        "Brief", frozenset({"listen"}), frozenset(range(1, 51)), expires=time.time() + 1.5
    )

    async def main() -> tuple[int, int, int, bool]:
        async with app_client(settings(config, free_port())) as client:
            ok = await _status(client, "/api/v1/pages", _bearer(token))
            ws = await client.ws_connect("/api/v1/ws", headers=_bearer(brief))
            before = await _status(client, "/api/v1/pages", _bearer(brief))
            await asyncio.sleep(2.0)
            after = await _status(client, "/api/v1/pages", _bearer(brief))
            with contextlib.suppress(asyncio.TimeoutError):
                while not ws.closed:
                    await ws.receive(timeout=5)
            return ok, before, after, ws.closed

    assert asyncio.run(main()) == (200, 200, 401, True)


def test_running_out_of_files_is_logged_once_a_minute(tmp_path: Path) -> None:
    """1,100 silent connections from 20 addresses (55 each, under the per-address cap)
    against a relay limited to 1,024 open files: accept() fails with EMFILE, which the
    relay logs once (not a traceback per attempt), its log growing by under 100 KB; once
    they close, /healthz answers again."""
    relay, port = _relay_with_1024_files(tmp_path)
    opened: list[socket.socket] = []
    try:
        log_before = relay.stderr.stat().st_size
        for index in range(FLOOD):
            sock = _silent(port, f"127.0.1.{1 + index % 20}")
            if sock is not None:
                opened.append(sock)
        time.sleep(3)
        log = relay.stderr.read_bytes()[log_before:].decode()
    finally:
        for sock in opened:
            sock.close()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, AssertionError):
                if _healthz_s(port) < 1.0:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError("the relay did not recover")
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    assert len(log) < 100_000
    assert log.count("cannot accept connections: Too many open files") == 1
    assert "Traceback" not in log
