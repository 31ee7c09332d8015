"""The relay's API from the client side: what ``send --relay`` and ``listen --relay`` use.

Plain functions over aiohttp's client: `post_page` uploads a file and waits for the
page's end; `listen` follows the WebSocket's events and audio until told to stop;
`talk` streams live audio as a page. The wire's facts (paths, message types, the audio
header and rate) come from `polyptt.relay.wire`, which loads nothing of the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp

from polyptt.relay.wire import AUDIO_HEADER, PAGES_PATH, RATE, WS_PATH, ErrorCode, MessageType

__all__ = ["RelayClientError", "listen", "post_page", "talk"]


class RelayClientError(Exception):
    """The relay refused (`status` is its HTTP status) or could not be reached (0)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _base(url: str) -> str:
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise RelayClientError(f"{url!r}: the relay's URL starts with https:// (or http://)")
    return url


async def post_page(
    url: str,
    token: str,
    body: bytes,
    *,
    channel: int,
    codec: str,
    repeat: int = 1,
    gap: float | None = None,
    gain: float = 0.0,
    duration: float | None = None,
    target: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> dict[str, Any]:
    """Page `body` (an audio file) through the relay at `url`; its answer after the ends.

    `repeat`, `gap`, `gain` and `duration` mean what ``polyptt send``'s options do
    (None: the relay's default).

    Raises
    ------
    RelayClientError
        With the relay's error message and status, or the connection's failure.
    """
    query = {"channel": str(channel), "codec": codec, "repeat": str(repeat), "wait": "1"}
    extra = {"gap": gap, "gain": gain or None, "duration": duration, "target": target}
    query.update((k, str(v)) for k, v in extra.items() if v is not None)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                _base(url) + PAGES_PATH,
                params=query,
                data=body,
                headers=headers,
                ssl=ssl_context if ssl_context is not None else True,
            ) as answer,
        ):
            text = await answer.text()
            status = answer.status
    except aiohttp.ClientError as exc:
        raise RelayClientError(f"cannot reach the relay at {url}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = {"error": text.strip()[:200] or f"HTTP {status}"}
    if status >= 400:
        raise RelayClientError(f"the relay refused ({status}): {data.get('error')}", status)
    return dict(data)


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
    ws_url = _base(url).replace("http", "ws", 1) + WS_PATH
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                ws_url, headers=headers, ssl=ssl_context if ssl_context is not None else True
            ) as ws,
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
                        reason = ws.close_code
                        raise RelayClientError(f"the relay closed the connection ({reason})")
            finally:
                stopping.cancel()
    except aiohttp.WSServerHandshakeError as exc:
        refusal = f"the relay refused ({exc.status}): {exc.message}"
        raise RelayClientError(refusal, exc.status) from None
    except aiohttp.ClientError as exc:
        raise RelayClientError(f"cannot reach the relay at {url}: {exc}") from None


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
    ws_url = _base(url).replace("http", "ws", 1) + WS_PATH
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                ws_url, headers=headers, ssl=ssl_context if ssl_context is not None else True
            ) as ws,
        ):
            await ws.send_json(
                {
                    "type": MessageType.TALK,
                    "channel": channel,
                    "codec": codec,
                    "rate": rate,
                    "gain": gain,
                    "keep_pauses": keep_pauses,
                }
            )
            await _talking(ws)
            return await _stream(ws, audio)
    except aiohttp.WSServerHandshakeError as exc:
        refusal = f"the relay refused ({exc.status}): {exc.message}"
        raise RelayClientError(refusal, exc.status) from None
    except aiohttp.ClientError as exc:
        raise RelayClientError(f"cannot reach the relay at {url}: {exc}") from None


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
