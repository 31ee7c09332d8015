"""The relay's security matrix: one rule per test, against the real application.

Handler-level cases serve the application in-process (`aiohttp.test_utils`) with its
real multicast sockets on the namespaced loopback; the binding and TLS cases run the
``polyptt relay`` process. Each test names the rule it proves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import soundfile
import trustme
from aiohttp import WSCloseCode
from tests.support.listen import polyptt
from tests.support.relay import (
    add_token,
    app_client,
    audit_events,
    revoke_token,
    settings,
    start_relay,
    write_config,
)
from tests.support.relay_audio import CHIME, frames, speech, stream_realtime
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.protocol import EndPacket, parse_packet
from polyptt.relay.state import RELAY

pytestmark = pytest.mark.network

LIMITS = """
[limits]
max_page_s = 1.0
login_failures = 3
connections_per_token = 2
max_message_bytes = 1024
"""

Check = Callable[[Any, dict[str, str]], Awaitable[None]]


def run(tmp_path: Path, check: Check, port: int | None = None) -> None:
    """Serve a relay in this process and run `check(client, tokens)` against it."""
    config = write_config(tmp_path / "relay", LIMITS)
    tokens = {
        "listen": add_token(config, "Listener", "listen"),
        "talk": add_token(config, "Talker", "talk", channels=range(26, 30)),
        "all": add_token(config, "Admin", "listen,talk,emergency"),
    }

    async def main() -> None:
        async with app_client(settings(config, port or free_port())) as client:
            await check(client, tokens)

    asyncio.run(main())


@dataclass
class Answer:
    """A response, read in full (so its connection is released, not left open)."""

    status: int
    headers: Any
    body: bytes

    async def json(self) -> Any:
        return json.loads(self.body)


async def request(client: Any, method: str, path: str, **kwargs: Any) -> Answer:
    async with client.request(method, path, **kwargs) as answer:
        return Answer(answer.status, answer.headers, await answer.read())


async def status(client: Any, path: str, **kwargs: Any) -> int:
    """The status of ``GET path``."""
    return (await request(client, "GET", path, **kwargs)).status


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def receive_until(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        event = await ws.receive_json(timeout=10)
        if event["type"] == kind:
            return event


def test_no_token_is_401(tmp_path: Path) -> None:
    async def check(client: Any, _tokens: dict[str, str]) -> None:
        answer = await request(client, "GET", "/api/v1/pages")
        assert (answer.status, answer.headers["WWW-Authenticate"]) == (401, "Bearer")

    run(tmp_path, check)


def test_unknown_token_is_401_and_audited_without_the_token(tmp_path: Path) -> None:
    async def check(client: Any, _tokens: dict[str, str]) -> None:
        assert (
            await request(client, "GET", "/metrics", headers=bearer("forged-token"))
        ).status == 401
        events = client.server.app[RELAY].audit.events
        assert events[-1]["event"] == "login_refused"
        assert "forged-token" not in str(events)

    run(tmp_path, check)


def test_repeated_failures_from_one_address_are_refused_429(tmp_path: Path) -> None:
    async def check(client: Any, tokens: dict[str, str]) -> None:
        for _ in range(3):
            assert (
                await request(client, "GET", "/api/v1/pages", headers=bearer("nope"))
            ).status == 401
        assert (
            await request(client, "GET", "/api/v1/pages", headers=bearer(tokens["listen"]))
        ).status == 429

    run(tmp_path, check)


def test_listen_only_token_may_not_page_403(tmp_path: Path) -> None:
    async def check(client: Any, tokens: dict[str, str]) -> None:
        answer = await request(
            client,
            "POST",
            "/api/v1/pages?channel=26",
            data=CHIME.read_bytes(),
            headers=bearer(tokens["listen"]),
        )
        assert answer.status == 403

    run(tmp_path, check)


def test_talk_only_token_may_not_list_pages_403(tmp_path: Path) -> None:
    async def check(client: Any, tokens: dict[str, str]) -> None:
        assert (
            await request(client, "GET", "/api/v1/pages", headers=bearer(tokens["talk"]))
        ).status == 403

    run(tmp_path, check)


def test_channel_outside_the_token_is_403(tmp_path: Path) -> None:
    async def check(client: Any, tokens: dict[str, str]) -> None:
        answer = await request(
            client,
            "POST",
            "/api/v1/pages?channel=40",
            data=CHIME.read_bytes(),
            headers=bearer(tokens["talk"]),
        )
        assert answer.status == 403

    run(tmp_path, check)


def test_target_outside_the_token_is_403_on_http_and_the_websocket(tmp_path: Path) -> None:
    config = write_config(tmp_path / "relay", '[targets]\nboss = "127.0.0.1"\n')
    token = add_token(config, "Talker", "talk")  # no --targets: none

    async def main() -> None:
        async with app_client(settings(config, free_port())) as client:
            answer = await request(
                client,
                "POST",
                "/api/v1/pages?channel=26&target=boss",
                data=CHIME.read_bytes(),
                headers=bearer(token),
            )
            assert (answer.status, await answer.json()) == (
                403,
                {"error": "this token may not page the target 'boss'"},
            )
            ws = await client.ws_connect("/api/v1/ws", headers=bearer(token))
            await ws.send_json({"type": "talk", "channel": 26, "target": "boss"})
            assert (await receive_until(ws, "error"))["code"] == "forbidden"
            await ws.close()

    asyncio.run(main())


@pytest.mark.parametrize("channel", [24, 25, 49, 50])
def test_emergency_channel_without_the_scope_is_403(tmp_path: Path, channel: int) -> None:
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Talker", "talk")

    async def main() -> None:
        async with app_client(settings(config, free_port())) as client:
            answer = await request(
                client, "POST", f"/api/v1/pages?channel={channel}", data=b"x", headers=bearer(token)
            )
            assert answer.status == 403
            assert "emergency" in (await answer.json())["error"]

    asyncio.run(main())


def test_bad_audio_is_400_and_nothing_is_sent(tmp_path: Path) -> None:
    port = free_port()

    async def check(client: Any, tokens: dict[str, str]) -> None:
        answer = await request(
            client,
            "POST",
            "/api/v1/pages?channel=26",
            data=b"RIFF not really",
            headers=bearer(tokens["talk"]),
        )
        assert answer.status == 400
        assert (await answer.json())["error"].startswith("bad audio: the uploaded audio")
        await asyncio.sleep(0.3)

    with UdpCapture(port) as capture:
        run(tmp_path, check, port)
        assert capture.packets == []


def test_second_talker_on_a_busy_channel_is_409(tmp_path: Path) -> None:
    short = tmp_path / "short.wav"
    soundfile.write(short, speech(0.8), 16000)

    async def check(client: Any, tokens: dict[str, str]) -> None:
        first = await request(
            client,
            "POST",
            "/api/v1/pages?channel=26",
            data=short.read_bytes(),
            headers=bearer(tokens["talk"]),
        )
        assert first.status == 202
        second = await request(
            client,
            "POST",
            "/api/v1/pages?channel=26",
            data=CHIME.read_bytes(),
            headers=bearer(tokens["all"]),
        )
        assert second.status == 409

    run(tmp_path, check)


def test_foreign_origin_is_refused_at_the_handshake(tmp_path: Path) -> None:
    async def check(client: Any, tokens: dict[str, str]) -> None:
        headers = {**bearer(tokens["listen"]), "Origin": "https://evil.example"}
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/api/v1/ws", headers=headers)
        assert refused.value.status == 403
        own = f"http://127.0.0.1:{client.port}"
        ws = await client.ws_connect("/api/v1/ws", headers={**headers, "Origin": own})
        assert (await ws.receive_json())["type"] == "hello"
        await ws.close()

    run(tmp_path, check)


def test_oversized_message_closes_the_connection(tmp_path: Path) -> None:
    async def check(client: Any, tokens: dict[str, str]) -> None:
        ws = await client.ws_connect("/api/v1/ws", headers=bearer(tokens["talk"]))
        await ws.receive_json()
        await ws.send_bytes(bytes(2048))
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == WSCloseCode.MESSAGE_TOO_BIG

    run(tmp_path, check)


def test_malformed_json_and_binary_before_talk_are_answered_with_errors(tmp_path: Path) -> None:
    async def check(client: Any, tokens: dict[str, str]) -> None:
        ws = await client.ws_connect("/api/v1/ws", headers=bearer(tokens["talk"]))
        await ws.receive_json()
        await ws.send_str("{not json")
        assert (await ws.receive_json())["code"] == "bad_json"
        await ws.send_bytes(bytes(640))
        assert (await ws.receive_json())["code"] == "not_talking"
        await ws.send_json({"type": "dance"})
        assert (await ws.receive_json())["code"] == "unknown_type"
        await ws.send_json({"type": "listen"})
        assert (await ws.receive_json())["code"] == "forbidden"
        assert not ws.closed
        await ws.close()

    run(tmp_path, check)


@pytest.mark.parametrize("rate", [16000, 8000])
def test_audio_faster_than_real_time_is_throttled(tmp_path: Path, rate: int) -> None:
    """3 s sent at once: what is dropped is counted in seconds at the talker's own rate
    (an 8 kHz talker's 3 s are 3 s, not 1.5)."""

    async def check(client: Any, tokens: dict[str, str]) -> None:
        loop = asyncio.get_running_loop()
        ws = await client.ws_connect("/api/v1/ws", headers=bearer(tokens["talk"]))
        started = loop.time()  # before the relay's clock for the talk starts
        await ws.send_json({"type": "talk", "channel": 26, "rate": rate})
        await receive_until(ws, "talking")
        pcm = speech(3.0)[:: 16000 // rate]
        for message in frames(pcm):  # 3 s at once: 0.5 s of slack is let through
            await ws.send_bytes(message)
        assert (await receive_until(ws, "error"))["code"] == "too_fast"
        await ws.send_json({"type": "ping?"})  # answered once every frame before it was judged
        assert (await receive_until(ws, "error"))["code"] == "unknown_type"
        elapsed = loop.time() - started
        await ws.send_json({"type": "stop"})
        stopped = await receive_until(ws, "stopped")  # every frame was judged by now
        throttled = round(client.server.app[RELAY].metrics.audio_throttled_s * rate)
        accepted = 3 * rate - throttled
        assert 0 < accepted <= (elapsed + 0.5) * rate
        assert stopped["frames"] == -(-accepted * (16000 // rate) // 320)
        await ws.close()

    run(tmp_path, check)


def test_too_long_page_is_ended_with_its_end_packets(tmp_path: Path) -> None:
    port = free_port()

    async def check(client: Any, tokens: dict[str, str]) -> None:
        ws = await client.ws_connect("/api/v1/ws", headers=bearer(tokens["talk"]))
        await ws.send_json({"type": "talk", "channel": 27})
        await receive_until(ws, "talking")
        streaming = asyncio.create_task(stream_realtime(ws, frames(speech(3.0))))
        stopped = await receive_until(ws, "stopped")
        streaming.cancel()
        assert (stopped["reason"], stopped["frames"], stopped["ends"]) == ("limit", 50, 12)
        await ws.close()

    with UdpCapture(port) as capture:
        run(tmp_path, check, port)
        datagrams = capture.wait_quiet()
    ends = [p for p in (parse_packet(d) for _, d in datagrams) if isinstance(p, EndPacket)]
    assert len(ends) == 12


def test_revoked_token_is_cut_off_mid_page(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Leaver", "talk")

    async def main() -> dict[str, Any]:
        async with app_client(settings(config, port)) as client:
            ws = await client.ws_connect("/api/v1/ws", headers=bearer(token))
            await ws.send_json({"type": "talk", "channel": 26})
            await receive_until(ws, "talking")
            streaming = asyncio.create_task(stream_realtime(ws, frames(speech(4.0))))
            await asyncio.sleep(1.5)
            revoke_token(config, "Leaver")
            while (await ws.receive(timeout=5)).type != aiohttp.WSMsgType.CLOSE:
                pass
            streaming.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await streaming
            assert ws.close_code == WSCloseCode.POLICY_VIOLATION
            assert (
                await request(client, "GET", "/api/v1/pages", headers=bearer(token))
            ).status == 401
            relay = client.server.app[RELAY]
            for _ in range(50):
                if not relay.talks.by_channel:
                    break
                await asyncio.sleep(0.05)
            return next(e for e in relay.audit.events if e["event"] == "page_end")

    with UdpCapture(port) as capture:
        page_end = asyncio.run(main())
        datagrams = capture.wait_quiet()
    assert (page_end["outcome"], page_end["ends"]) == ("revoked", 12)
    assert 0.3 < page_end["duration_s"] < 2.5  # cut off, well before its 4 s of audio
    ends = [p for p in (parse_packet(d) for _, d in datagrams) if isinstance(p, EndPacket)]
    assert len(ends) == 12


def test_connections_per_token_are_limited(tmp_path: Path) -> None:
    async def check(client: Any, tokens: dict[str, str]) -> None:
        first = await client.ws_connect("/api/v1/ws", headers=bearer(tokens["listen"]))
        second = await client.ws_connect("/api/v1/ws", headers=bearer(tokens["listen"]))
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/api/v1/ws", headers=bearer(tokens["listen"]))
        assert refused.value.status == 429
        await first.close()
        await second.close()

    run(tmp_path, check)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/pages/1.wav", "/api/v1/pages/..%2F..%2Fetc%2Fpasswd.wav", "/api/v1/pages/%2e%2e.wav"],
)
def test_path_traversal_on_recordings_is_404(tmp_path: Path, path: str) -> None:
    async def check(client: Any, tokens: dict[str, str]) -> None:
        answer = await request(client, "GET", path, headers=bearer(tokens["listen"]))
        assert answer.status == 404

    run(tmp_path, check)


def test_tokens_are_stored_hashed_and_never_logged(tmp_path: Path) -> None:
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Secret", "listen,talk")
    relay = start_relay(config, udp_port=free_port())
    try:
        assert relay.request("GET", "/api/v1/pages", token)[0] == 200
        assert relay.request("GET", f"/api/v1/ws?token={token}")[0] in (400, 426)
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    for path in config.parent.iterdir():
        assert token not in path.read_text(errors="replace"), path
    assert "GET /api/v1/ws" in relay.stderr.read_text()  # logged, without its query
    assert [e["event"] for e in audit_events(config)] == ["relay_start", "relay_stop"]


def test_non_loopback_bind_without_tls_is_refused() -> None:
    result = polyptt("relay", "--bind", "0.0.0.0:8443", check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "--insecure-http" in result.stderr


def test_tls_with_a_test_ca_serves_https_and_wss(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Remote", "listen")
    relay = start_relay(config, udp_port=free_port(), tls=(cert_file, key_file, client_context))

    async def wss() -> str:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(relay.ws_url, headers=bearer(token), ssl=client_context) as ws,
        ):
            name = str((await ws.receive_json())["name"])
        # aiohttp's advice for TLS: give the transport time to close before the loop ends
        await asyncio.sleep(0.25)
        return name

    try:
        assert relay.url.startswith("https://")
        assert relay.request("GET", "/api/v1/pages", token)[0] == 200
        assert asyncio.run(wss()) == "Remote"
        untrusting = ssl.create_default_context()  # the system's CAs only
        port = int(relay.url.rsplit(":", 1)[1])
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            untrusting.wrap_socket(raw, server_hostname="127.0.0.1")
    finally:
        assert relay.stop() == 128 + signal.SIGTERM


def test_an_upload_over_the_limit_is_413(tmp_path: Path) -> None:
    config = write_config(tmp_path / "relay", "[limits]\nmax_upload_bytes = 4096\n")
    token = add_token(config, "Talker", "talk")

    def post(url: str) -> int:
        # a plain blocking client in a thread: the relay answers 413 while the body is
        # still being sent, as it would to curl
        request = urllib.request.Request(url, data=CHIME.read_bytes(), headers=bearer(token))
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            with error:
                return error.code

    async def main() -> None:
        async with app_client(settings(config, free_port())) as client:
            url = str(client.make_url("/api/v1/pages?channel=26"))
            assert await asyncio.to_thread(post, url) == 413

    asyncio.run(main())


def test_the_session_cookie_is_strict_and_cannot_page_without_an_allowed_origin(
    tmp_path: Path,
) -> None:
    async def check(client: Any, tokens: dict[str, str]) -> None:
        answer = await request(client, "POST", "/api/v1/session", headers=bearer(tokens["all"]))
        cookie = answer.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Secure" not in cookie  # plain HTTP on loopback; set under TLS
        assert (
            await request(client, "GET", "/api/v1/pages")
        ).status == 200  # the cookie jar sends it
        ws = await client.ws_connect("/api/v1/ws")
        assert (await ws.receive_json())["name"] == "Admin"
        await ws.close()
        posted = await request(client, "POST", "/api/v1/pages?channel=26", data=CHIME.read_bytes())
        assert posted.status == 401  # no Origin (a cross-site form): the cookie cannot page
        foreign = {"Origin": "https://evil.example"}
        posted = await request(client, "POST", "/api/v1/pages?channel=26", headers=foreign)
        assert posted.status == 401
        own = {"Origin": f"http://127.0.0.1:{client.port}"}  # the web page's own upload
        posted = await request(
            client,
            "POST",
            "/api/v1/pages?channel=26&duration=0.5&wait=1",
            headers=own,
            data=CHIME.read_bytes(),
        )
        assert posted.status == 200
        assert (await posted.json())["ends"] == 12

    run(tmp_path, check)


def test_an_idle_connection_is_closed_but_a_quiet_listener_or_talker_is_not(
    tmp_path: Path,
) -> None:
    """A talker is quiet while its alerts go out and while what it said before ``stop``
    goes out (here 1.5 s, three idle periods): its page ends as asked."""
    config = write_config(tmp_path / "relay", "[limits]\nidle_s = 0.5\n")
    token = add_token(config, "Idle", "listen,talk")

    async def main() -> None:
        async with app_client(settings(config, free_port())) as client:
            idle = await client.ws_connect("/api/v1/ws", headers=bearer(token))
            listener = await client.ws_connect("/api/v1/ws", headers=bearer(token))
            talker = await client.ws_connect("/api/v1/ws", headers=bearer(token))
            await listener.send_json({"type": "listen"})
            await talker.send_json({"type": "talk", "channel": 26})
            for frame in frames(speech(0.2)):
                await talker.send_bytes(frame)
            await talker.send_json({"type": "stop"})
            await idle.receive_json()  # hello
            message = await idle.receive(timeout=5)
            assert message.type == aiohttp.WSMsgType.CLOSE
            assert idle.close_code == WSCloseCode.GOING_AWAY
            assert message.extra == "idle"
            stopped = await receive_until(talker, "stopped")
            assert (stopped["reason"], stopped["ends"]) == ("stop", 12)
            await asyncio.sleep(1.0)  # two idle periods more
            assert not listener.closed
            await listener.close()
            await talker.close()

    asyncio.run(main())


def test_a_client_that_stops_answering_pings_is_closed_within_the_heartbeat(
    tmp_path: Path,
) -> None:
    """The heartbeat (``heartbeat_s``, 0.5 s here) closes a listener whose peer is gone
    (it answers no ping) within 1.5 periods, which the idle timeout never would (a
    listener only receives); one that answers stays."""
    config = write_config(tmp_path / "relay", "[limits]\nheartbeat_s = 0.5\nidle_s = 60\n")
    token = add_token(config, "Gone", "listen")
    relay = start_relay(config, udp_port=free_port())

    async def main() -> tuple[float, int | None, bool]:
        loop = asyncio.get_running_loop()
        headers = bearer(token)

        async def keep_reading(ws: Any) -> None:  # a client answers pings as it reads
            while (await ws.receive()).type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                pass

        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(relay.ws_url, headers=headers) as answering,
        ):
            reading = asyncio.create_task(keep_reading(answering))
            silent = await session.ws_connect(relay.ws_url, headers=headers, autoping=False)
            for ws in (silent, answering):
                await ws.send_json({"type": "listen"})
            started = loop.time()
            pings = 0
            while True:
                message = await silent.receive(timeout=10)
                if message.type == aiohttp.WSMsgType.PING:
                    pings += 1  # and no pong
                elif message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    break
            closed_after = loop.time() - started
            assert pings == 1
            with contextlib.suppress(ConnectionError):
                await silent.close()  # the relay already dropped it
            await asyncio.sleep(1.5)  # three periods more
            answering_closed = answering.closed or reading.done()
            reading.cancel()
            return closed_after, silent.close_code, answering_closed

    try:
        closed_after, code, answering_closed = asyncio.run(main())
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    assert closed_after < 0.75 + 0.5  # 1.5 periods, and room for a loaded machine
    assert code == WSCloseCode.ABNORMAL_CLOSURE
    assert not answering_closed
    disconnects = [e for e in audit_events(config) if e["event"] == "disconnect"]
    assert [e["reason"] for e in disconnects] == ["no answer to pings", "closed by the client"]


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted proxy", "untrusted peer"])
def test_forwarded_proto_counts_from_a_trusted_proxy_only(tmp_path: Path, trusted: bool) -> None:
    """Behind a TLS proxy (``X-Forwarded-Proto: https`` from an address in
    ``trusted_proxies``) the cookie is Secure and the relay's own origin is https://;
    the same header from any other peer changes nothing."""
    proxies = '["127.0.0.1"]' if trusted else '["192.0.2.1"]'
    config = write_config(tmp_path / "relay", f"trusted_proxies = {proxies}\n")
    token = add_token(config, "Browser", "listen")

    async def main() -> None:
        async with app_client(settings(config, free_port())) as client:
            forwarded = {**bearer(token), "X-Forwarded-Proto": "https"}
            answer = await request(client, "POST", "/api/v1/session", headers=forwarded)
            assert answer.status == 200
            assert ("Secure" in answer.headers["Set-Cookie"]) is trusted
            own = f"127.0.0.1:{client.port}"
            accepted = {}
            for scheme in ("https", "http"):
                headers = {**forwarded, "Origin": f"{scheme}://{own}"}
                try:
                    ws = await client.ws_connect("/api/v1/ws", headers=headers)
                except aiohttp.WSServerHandshakeError as refused:
                    accepted[scheme] = refused.status  # 403 expected
                else:
                    await ws.close()
                    accepted[scheme] = 101
            assert accepted == (
                {"https": 101, "http": 403} if trusted else {"https": 403, "http": 101}
            )

    asyncio.run(main())
