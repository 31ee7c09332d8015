"""The WebSocket ``/api/v1/ws``: talk and listen live.

Sequence (JSON text messages; audio as binary messages):

1. The client connects with its token (``Authorization: Bearer``, the session cookie
   or ``?token=``); a browser's Origin must be allowed, else 403 before any upgrade.
   The relay says ``{"type": "hello", "name", "scopes", "channels", "targets"}``
   (``targets``: the named targets this token may page).
2. ``{"type": "listen", "channels": [26, 27]}`` (channels optional: all) subscribes:
   ``page_start`` / ``page_end`` events (id, channel, caller_id, codec, source...) and
   each page's audio, heard on the LAN or sent through the relay (never a talker's own
   page to its own connection, whose events say ``"own": true``): binary messages of a
   header (page id, frame number) then PCM16LE mono, one 20 ms frame each
   (`polyptt.relay.wire`), each sent as soon as a packet completes it.
3. ``{"type": "talk", "channel": 26, "codec": "g722"}`` (optional ``"target"``: a
   named phone, paged by unicast, if the token was granted it) starts a page: the relay
   answers ``talking`` (with the page id) or ``busy`` (with ``caller_id``, who has the
   channel: a talker of the relay or a page heard on the LAN); binary messages are then
   the talker's audio (PCM16LE mono at the wire's rate unless the talk message says
   ``"rate"``, no header, 20 ms each is best), no faster than real time; an optional
   ``"gain"`` (dB) is applied before encoding. ``{"type": "stop"}`` ends it after what
   was sent, and the relay says ``stopped`` with the reason (``completed``, ``stop``,
   ``limit``, ``silence``...). A live page ends ``max_page_s`` after its audio began
   (wall-clock time: frames that do not come still count) and when no audio message
   came for ``talk_silence_s`` (`polyptt.relay.talks.LiveLimits`).
   What is said during the alerts is sent after them, and the page then catches up
   with the talker by shortening pauses; ``"keep_pauses": true`` in the talk message
   keeps them. A talker whose messages come late now and then (a network's jitter) is
   kept more audio waiting, up to ``MAX_KEEP_S``, so that the phones hear no gaps.
   The request takes the same path as an upload's (`polyptt.relay.requests`).

Errors are messages ``{"type": "error", "code", "message"}``, not silent closes; the
connection is closed only for a message too big (1009), a revoked token, a listener too
slow, idleness (``idle_s`` without a message, for a connection that neither listens nor
has a page going out: answering pings is not using the relay; code 1001, reason
``idle``), a client that stops answering the
pings sent every ``heartbeat_s`` (it has half a period to answer: a dead peer is
noticed within 1.5 periods, listeners included), or shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from polyptt.relay import requests
from polyptt.relay.connections import Connection
from polyptt.relay.requests import LIVE_FRAME_MS, MAX_KEEP_S
from polyptt.relay.security import client_address, grant_of, json_error, origin_allowed
from polyptt.relay.state import RELAY, Relay
from polyptt.relay.talks import LiveLimits, Talk
from polyptt.relay.wire import IDLE_CLOSE_CODE, IDLE_REASON, RATE, ErrorCode, MessageType

__all__ = ["LIVE_FRAME_MS", "MAX_KEEP_S", "websocket"]


async def websocket(request: web.Request) -> web.StreamResponse:
    relay = request.app[RELAY]
    limits = relay.settings.config.limits
    grant, digest = grant_of(request)
    remote = client_address(request)
    if not origin_allowed(request, relay.settings.config.origins):
        relay.audit.log(
            "origin_refused", who=grant.name, origin=request.headers.get("Origin"), remote=remote
        )
        return json_error(403, "this Origin may not use the relay")
    if relay.connections[grant.name] >= limits.connections_per_token:
        return json_error(429, "too many connections for this token")
    ws = web.WebSocketResponse(
        compress=False,
        max_msg_size=limits.max_message_bytes,
        heartbeat=limits.heartbeat_s,
    )
    await ws.prepare(request)
    client = Connection(ws, grant, digest, remote, limits.send_queue)
    relay.clients.add(client)
    relay.connections[grant.name] += 1
    relay.audit.log("connect", who=grant.name, remote=remote)
    session = _Session(relay, client)
    client.offer(
        {
            "type": MessageType.HELLO,
            "name": grant.name,
            "scopes": sorted(grant.scopes),
            "channels": {str(k): v for k, v in relay.settings.config.channel_names.items()},
            "targets": sorted(t for t in relay.settings.config.targets if grant.may_page(t)),
        }
    )
    reason = "closed by the client"
    try:
        reason = await _converse(ws, session, limits.idle_s)
    finally:
        session.close()
        relay.hub.clients.discard(client)
        relay.clients.discard(client)
        relay.connections[grant.name] -= 1
        await client.finish()
        relay.audit.log(
            "disconnect",
            who=grant.name,
            remote=remote,
            reason=client.dropped or reason,
            close_code=ws.close_code,
        )
    return ws


async def _converse(ws: web.WebSocketResponse, session: _Session, idle_s: float) -> str:
    """Hand the client's messages to `session` until the connection ends; why it did.

    Idle means no message from the client, no listen subscription and no talk of its
    own going out, for `idle_s`. Pongs do not count: a browser answers pings by itself,
    so they show that a client is there, not that it uses the relay (the heartbeat
    closes clients that stop answering). A listener waits for pages and a talk is ended
    by its own limits, so neither is idle.
    """
    loop = asyncio.get_running_loop()
    while not ws.closed:
        busy = session.client.listening or session.talk is not None
        wait = idle_s if busy else session.active + idle_s - loop.time()
        if wait <= 0:
            session.client.drop(IDLE_REASON, IDLE_CLOSE_CODE)
            return IDLE_REASON
        try:  # not receive(timeout=): aiohttp starts that again at every pong
            message = await asyncio.wait_for(ws.receive(), wait)
        except asyncio.TimeoutError:
            continue  # checked again above: busy now, or idle
        if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            session.active = loop.time()
        if message.type == WSMsgType.TEXT:
            session.on_text(message.data)
        elif message.type == WSMsgType.BINARY:
            session.on_binary(message.data)
        elif message.type == WSMsgType.ERROR:
            error = ws.exception()
            # aiohttp's heartbeat: a ping went unanswered for half a period
            unanswered = isinstance(error, asyncio.TimeoutError)
            return "no answer to pings" if unanswered else f"error: {error}"
        elif message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            break
    return "closed by the client"


class _Session:
    """One connection's conversation: its listening and its talk, if any."""

    def __init__(self, relay: Relay, client: Connection) -> None:
        self.relay = relay
        self.client = client
        self.talk: Talk | None = None
        self._fed = 0
        self._rate = RATE
        self._started = 0.0
        self._warned = False
        #: When the client last did something (a message, its talk's end): idleness
        #: counts from here (`_converse`).
        self.active = asyncio.get_running_loop().time()

    def error(self, code: str, message: str) -> None:
        self.client.offer({"type": MessageType.ERROR, "code": code, "message": message})

    def on_text(self, text: str) -> None:
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):  # nested ~1,900 deep: RecursionError
            self.error(ErrorCode.BAD_JSON, "text messages must be JSON objects")
            return
        if not isinstance(message, dict):
            self.error(ErrorCode.BAD_JSON, "text messages must be JSON objects")
            return
        kind = message.get("type")
        handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            MessageType.TALK: self._talk,
            MessageType.STOP: self._stop,
            MessageType.LISTEN: self._listen,
        }
        handler = handlers.get(kind if isinstance(kind, str) else "")
        if handler is None:
            self.error(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r}")
            return
        handler(message)

    def on_binary(self, data: bytes) -> None:
        talk = self.talk
        if talk is None or talk.live is None or talk.live.closed:
            self.error(ErrorCode.NOT_TALKING, "send {'type': 'talk', ...} before audio")
            return
        talk.heard_audio()
        if len(data) % 2:
            self.error(ErrorCode.BAD_AUDIO, "audio is PCM16LE: an even number of bytes")
            return
        samples = len(data) // 2
        loop = asyncio.get_running_loop()
        slack = self.relay.settings.config.limits.realtime_slack_s
        allowed = (loop.time() - self._started + slack) * self._rate
        if self._fed + samples > allowed:
            self.relay.metrics.audio_throttled_s += samples / self._rate
            if not self._warned:
                self._warned = True
                self.error(ErrorCode.TOO_FAST, "audio faster than real time is dropped")
            return
        self._fed += samples
        talk.live.feed(np.frombuffer(data, dtype="<i2"))

    def close(self) -> None:
        if self.talk is not None:
            self.talk.end("disconnect")

    def _listen(self, message: dict[str, Any]) -> None:
        if "listen" not in self.client.grant.scopes:
            self.error(ErrorCode.FORBIDDEN, "this token may not listen")
            return
        channels = message.get("channels")
        if channels is not None:
            try:
                from polyptt.protocol import parse_channel

                self.client.channels = frozenset(parse_channel(str(c)) for c in channels)
            except (TypeError, ValueError) as exc:
                self.error(ErrorCode.BAD_REQUEST, f"channels: {exc}")
                return
        self.client.listening = True
        self.relay.hub.clients.add(self.client)
        self.client.offer(
            {"type": MessageType.LISTENING, "channels": _sorted(self.client.channels)}
        )

    def _talk(self, message: dict[str, Any]) -> None:
        """The WebSocket face of `polyptt.relay.requests`: a live page from this client."""
        if self.talk is not None:
            self.error(ErrorCode.ALREADY_TALKING, "send stop first")
            return
        relay, client = self.relay, self.client
        try:
            page = requests.talk_request(message)
            requests.admit(relay, client.grant, page, client.remote)
            limits = relay.settings.config.limits
            max_s = limits.max_page_s
            talk = requests.start(
                relay,
                requests.live_frames(page),
                page,
                grant=client.grant,
                digest=client.digest,
                frame_ms=LIVE_FRAME_MS,
                via="websocket",
                remote=client.remote,
                max_frames=max(1, math.ceil(max_s * 1000 / LIVE_FRAME_MS)),
                talker=client,
                live_limits=LiveLimits(max_s, limits.talk_silence_s),
            )
        except requests.Refused as exc:
            if exc.code == requests.BUSY:
                busy = {"type": MessageType.BUSY, "channel": page.channel}
                client.offer({**busy, "caller_id": exc.caller_id, "message": exc.message})
            else:
                self.error(exc.code, exc.message)
            return
        self.talk = talk
        self._rate = page.rate
        self._fed = 0
        self._warned = False
        self._started = asyncio.get_running_loop().time()
        client.talk = talk
        client.offer(
            {
                "type": MessageType.TALKING,
                "page": talk.page_id,
                "channel": page.channel,
                "codec": page.codec,
            }
        )
        assert talk.task is not None
        talk.task.add_done_callback(lambda _task: self._talk_over(talk))

    def _talk_over(self, talk: Talk) -> None:
        self.active = asyncio.get_running_loop().time()
        if self.talk is talk:
            self.talk = None
            self.client.talk = None
        with contextlib.suppress(Exception):
            self.client.offer(
                {
                    "type": MessageType.STOPPED,
                    "page": talk.page_id,
                    "channel": talk.channel,
                    "reason": talk.outcome,
                    "frames": talk.report.transmits,
                    "ends": talk.report.ends,
                    "clipped_samples": talk.live.framer.clipped if talk.live else 0,
                }
            )

    def _stop(self, _message: dict[str, Any]) -> None:
        if self.talk is None:
            self.error(ErrorCode.NOT_TALKING, "nothing to stop")
            return
        self.talk.end("stop")


def _sorted(channels: frozenset[int] | None) -> list[int] | None:
    return None if channels is None else sorted(channels)
