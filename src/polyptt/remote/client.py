"""The relay's API from the client side: what ``send --relay`` and ``listen --relay`` use.

Plain functions over aiohttp's client: `post_page` uploads a file and waits for the
page's end; `listen` follows the WebSocket's events and audio until told to stop;
`talk` streams live audio as a page. The wire's facts (paths, message types, the audio
header and rate) come from `polyptt.relay.wire`, which loads nothing of the server.

Each of them first asks the relay who the token is (``GET /api/v1/session``, answered
within `~polyptt.remote.failures.CONNECT_TIMEOUT_S`): a URL without a scheme, a relay
that is down or does not exist, TLS spoken to a plain HTTP port (or the reverse), a
certificate this host does not trust and a token the relay does not know all fail
there, before anything is uploaded or streamed, as a `RelayClientError` whose message
says it in the user's terms (`polyptt.remote.failures`), the same for every command.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from polyptt.relay.wire import (
    AUDIO_HEADER,
    PAGES_PATH,
    RATE,
    SESSION_PATH,
    WS_PATH,
    ErrorCode,
    MessageType,
)
from polyptt.remote import failures
from polyptt.remote.failures import RelayClientError, refusal, relay_url, unreachable

__all__ = [
    "RelayClientError",
    "listen",
    "post_page",
    "relay_url",
    "talk",
]


@dataclass
class _Relay:
    """A session with the relay whose token it accepted."""

    session: aiohttp.ClientSession
    base: str
    headers: dict[str, str]
    ssl: ssl.SSLContext | bool

    @property
    def ws_url(self) -> str:
        return self.base.replace("http", "ws", 1) + WS_PATH


@contextlib.asynccontextmanager
async def _connect(
    url: str, token: str, ssl_context: ssl.SSLContext | None
) -> AsyncIterator[_Relay]:
    """A session with the relay at `url`, once it has accepted `token`.

    Every failure to reach it, in here or in the body, becomes a `RelayClientError`.
    """
    try:
        base = relay_url(url)
    except ValueError as exc:
        raise RelayClientError(str(exc), usage=True) from None
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=failures.CONNECT_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            relay = _Relay(
                session,
                base,
                {"Authorization": f"Bearer {token}"},
                ssl_context if ssl_context is not None else True,
            )
            await _check(relay)
            yield relay
    except aiohttp.WSServerHandshakeError as exc:
        raise refusal(exc.status) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise await unreachable(base, exc) from None


async def _check(relay: _Relay) -> dict[str, Any]:
    """Who the relay says the token is; `RelayClientError` if it refuses it."""
    async with relay.session.get(
        relay.base + SESSION_PATH,
        headers=relay.headers,
        ssl=relay.ssl,
        timeout=aiohttp.ClientTimeout(total=failures.CONNECT_TIMEOUT_S),
    ) as answer:
        status, data = answer.status, await _json(answer)
    if status == 404:
        raise RelayClientError(
            f"there is no polyptt relay at {relay.base} (404 for {SESSION_PATH})", 404
        )
    if status >= 400:
        raise refusal(status, data.get("error"))
    return data


async def _json(answer: aiohttp.ClientResponse) -> dict[str, Any]:
    """The answer's JSON object; a non-JSON answer as ``{"error": its first 200 characters}``."""
    text = await answer.text()
    try:
        data = json.loads(text)
    except ValueError:
        return {"error": text.strip()[:200] or None}
    return data if isinstance(data, dict) else {"error": None}


async def post_page(
    url: str,
    token: str,
    body: bytes | None,
    *,
    channel: int,
    codec: str,
    repeat: int = 1,
    gap: float | None = None,
    gain: float = 0.0,
    duration: float | None = None,
    target: str | None = None,
    speech: dict[str, Any] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    sites: str | None = None,
) -> dict[str, Any]:
    """Page `body` (an audio file) through the relay at `url`; its answer after the ends.

    `repeat`, `gap`, `gain` and `duration` mean what ``polyptt send``'s options do
    (None: the relay's default). With `speech` (``{"say": TEXT, "chime": ..., "voice":
    ..., "rate": ...}``) and no `body`, the relay speaks the text: the page's options
    and the speech go as one JSON body.

    Raises
    ------
    RelayClientError
        With the relay's error message and status, or the connection's failure.
    """
    query = {"channel": str(channel), "codec": codec, "repeat": str(repeat), "wait": "1"}
    extra = {"gap": gap, "gain": gain or None, "duration": duration, "target": target}
    extra["sites"] = sites
    query.update((k, str(v)) for k, v in extra.items() if v is not None)
    sent: dict[str, Any] = {"params": query, "data": body}
    if speech is not None:  # the same options, as JSON values
        options = {"channel": channel, "codec": codec, "repeat": repeat, "wait": True}
        options.update((k, v) for k, v in {**extra, **speech}.items() if v is not None)
        sent = {"json": options}
    async with (
        _connect(url, token, ssl_context) as relay,
        relay.session.post(
            relay.base + PAGES_PATH, headers=relay.headers, ssl=relay.ssl, **sent
        ) as answer,
    ):
        status, data = answer.status, await _json(answer)
    if status >= 400:
        raise refusal(status, data.get("error"))
    return data


async def listen(
    url: str,
    token: str,
    *,
    channels: list[int] | None,
    on_event: Callable[[dict[str, Any]], None],
    on_audio: Callable[[int, bytes], None],
    stop: asyncio.Event,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Follow the relay's pages until `stop` is set or the relay closes.

    `on_event` gets every JSON event (``page_start``, ``page_end``, ...); `on_audio` the
    page id and PCM16LE bytes (at `polyptt.relay.wire.RATE`) of every audio message.

    Raises
    ------
    RelayClientError
        The relay refused the connection or closed it with a reason.
    """
    async with (
        _connect(url, token, ssl_context) as relay,
        relay.session.ws_connect(relay.ws_url, headers=relay.headers, ssl=relay.ssl) as ws,
    ):
        await ws.send_json({"type": MessageType.LISTEN, "channels": channels})
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while True:
                receiving = asyncio.ensure_future(ws.receive())
                await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not receiving.done():
                    receiving.cancel()
                    return
                message = receiving.result()
                if message.type == aiohttp.WSMsgType.BINARY:
                    page, _frame = AUDIO_HEADER.unpack_from(message.data)
                    on_audio(page, message.data[AUDIO_HEADER.size :])
                elif message.type == aiohttp.WSMsgType.TEXT:
                    event = json.loads(message.data)
                    if event.get("type") == MessageType.ERROR:
                        raise RelayClientError(f"the relay says: {event.get('message')}")
                    on_event(event)
                else:
                    raise RelayClientError(f"the relay closed the connection ({ws.close_code})")
        finally:
            stopping.cancel()


async def talk(
    url: str,
    token: str,
    audio: Callable[[], AsyncIterator[bytes]],
    *,
    channel: int,
    codec: str,
    rate: int = RATE,
    gain: float = 0.0,
    keep_pauses: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    sites: str | None = None,
) -> dict[str, Any]:
    """Talk live on `channel` through the relay; the relay's ``stopped`` event.

    `audio` is called once the relay says the page started (its alerts are going out)
    and yields PCM16LE mono chunks at `rate`, no faster than real time; when it ends,
    the page is stopped after what was sent. The relay resamples them and applies
    `gain` (dB); it catches up with a live talker after the alerts by shortening pauses
    unless `keep_pauses` (audio from a program: every sample is sent).

    Raises
    ------
    RelayClientError
        Refused (403 scope, 409 busy, 400 bad request) or the connection failed.
    """
    request = {"channel": channel, "codec": codec, "rate": rate, "gain": gain}
    if sites is not None:
        request["sites"] = sites
    async with (
        _connect(url, token, ssl_context) as relay,
        relay.session.ws_connect(relay.ws_url, headers=relay.headers, ssl=relay.ssl) as ws,
    ):
        await ws.send_json({"type": MessageType.TALK, **request, "keep_pauses": keep_pauses})
        await _talking(ws)
        return await _stream(ws, audio)


#: HTTP status of the relay's error codes, for `RelayClientError.status` (else 400).
_STATUSES: dict[str, int] = {ErrorCode.FORBIDDEN: 403, ErrorCode.BAD_REQUEST: 400}


async def _talking(ws: Any) -> None:
    """Wait for the relay's ``talking``; `RelayClientError` for its refusal."""
    while True:
        event = await _event(ws)
        if event["type"] == MessageType.TALKING:
            return
        if event["type"] == MessageType.BUSY:
            raise RelayClientError(f"the relay says: {event.get('message')}", 409)
        if event["type"] == MessageType.ERROR:
            status = _STATUSES.get(event.get("code", ""), 400)
            raise RelayClientError(f"the relay says: {event.get('message')}", status)


async def _stream(ws: Any, audio: Callable[[], AsyncIterator[bytes]]) -> dict[str, Any]:
    """Send `audio`, then ``stop``; the relay's ``stopped`` event (which may come first:
    a limit, a revoked token)."""

    async def pump() -> None:
        async for chunk in audio():
            await ws.send_bytes(chunk)
        await ws.send_json({"type": MessageType.STOP})

    pumping = asyncio.ensure_future(pump())
    try:
        while True:
            event = await _event(ws)
            if event["type"] == MessageType.STOPPED:
                return event
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await pumping


async def _event(ws: Any) -> dict[str, Any]:
    """The next JSON event (audio is skipped); RelayClientError if the relay closed."""
    while True:
        message = await ws.receive()
        if message.type == aiohttp.WSMsgType.TEXT:
            return dict(json.loads(message.data))
        if message.type != aiohttp.WSMsgType.BINARY:
            raise RelayClientError(f"the relay closed the connection ({ws.close_code})")
