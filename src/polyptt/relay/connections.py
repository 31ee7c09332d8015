"""One WebSocket client's outgoing side: a bounded queue and the task that drains it.

Everything the relay tells a client (events, audio) is offered to its queue without
waiting; a client that does not keep up fills its queue and is dropped, with the reason
logged, so a stalled browser never delays the other listeners or a page's pacing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Protocol

from aiohttp import WSCloseCode, web

from polyptt.relay.auth import Grant

__all__ = ["Connection", "Endable"]

_CLOSE = object()


class Endable(Protocol):
    """A connection's page in progress, as far as the connection knows it
    (`polyptt.relay.talks.Talk`: this module is below it)."""

    def end(self, reason: str) -> None: ...


class Connection:
    """A connected WebSocket.

    Parameters
    ----------
    ws : web.WebSocketResponse
        Prepared.
    grant : Grant
        What its token allows.
    digest : str
        Its token's hash (checked again to cut it off when the token is revoked).
    remote : str
        Its address, for the audit log.
    queue_size : int
        Messages held before it is dropped as too slow.

    Attributes
    ----------
    channels : frozenset of int or None
        Channels it listens to (None: all), once it asked to listen; `listening` says if.
    dropped : str or None
        Why the relay closed it, if it did.
    """

    def __init__(
        self, ws: web.WebSocketResponse, grant: Grant, digest: str, remote: str, queue_size: int
    ) -> None:
        self.ws = ws
        self.grant = grant
        self.digest = digest
        self.remote = remote
        self.listening = False
        self.channels: frozenset[int] | None = None
        self.dropped: str | None = None
        self.talk: Endable | None = None
        self.close_code: int = WSCloseCode.OK
        self._queue: asyncio.Queue[Any] = asyncio.Queue(queue_size)
        self._writer = asyncio.create_task(self._write())

    def hears(self, channel: int) -> bool:
        return self.listening and (self.channels is None or channel in self.channels)

    def offer(self, message: dict[str, Any] | bytes) -> bool:
        """Queue `message` (JSON object or binary frame); False if the client was dropped."""
        if self.dropped is not None:
            return False
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.drop("send queue full (a slow or stalled listener)", WSCloseCode.TRY_AGAIN_LATER)
            return False
        return True

    def drop(self, reason: str, code: int = WSCloseCode.POLICY_VIOLATION) -> None:
        """Close the connection for `reason` (it is told in the close frame)."""
        if self.dropped is None:
            self.dropped = reason
            self.close_code = code
            # whatever is queued is abandoned: the close goes first
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(_CLOSE)

    async def finish(self) -> None:
        """Stop the writer (after what is queued) and wait for it."""
        if self.dropped is None:
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(_CLOSE)
        try:
            await asyncio.wait_for(asyncio.shield(self._writer), 2.0)
        except (asyncio.TimeoutError, Exception):
            self._writer.cancel()

    async def _write(self) -> None:
        ws = self.ws
        while True:
            message = await self._queue.get()
            if message is _CLOSE:
                break
            try:
                if isinstance(message, bytes):
                    await ws.send_bytes(message)
                else:
                    await ws.send_str(json.dumps(message))
            except (ConnectionError, RuntimeError):
                return
        if self.dropped is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.close(code=self.close_code, message=self.dropped.encode()[:120])
