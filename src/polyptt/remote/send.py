"""``send --relay``: page through a relay, from a file or live.

`send_file` uploads an audio file (the relay decodes, encodes and paces it) and waits
for the page's end. `send_live` streams a live source (`polyptt.remote.sources`: the
microphone or raw PCM from a pipe) over the WebSocket, starting it when the relay says
the page started (so nothing said during the alerts is lost) and sending it no faster
than real time, until its end, a duration, or SIGINT/SIGTERM (the first stops taking
audio; what was taken is still sent).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from polyptt.relay.wire import FRAME_BYTES
from polyptt.remote.client import post_page, talk
from polyptt.remote.sources import LiveSource

__all__ = ["AHEAD_S", "MESSAGE_BYTES", "Talked", "send_file", "send_live"]

#: Live audio goes to the relay in messages of at most this many bytes (one frame of
#: the wire), and at most this far ahead of real time (the relay drops what runs more
#: than its slack, 0.5 s by default, ahead).
MESSAGE_BYTES = FRAME_BYTES
AHEAD_S = 0.2


def send_file(
    url: str,
    token: str,
    body: bytes,
    *,
    channel: int,
    codec: str,
    repeat: int,
    gap: float,
    gain: float,
    duration: float | None,
) -> dict[str, Any]:
    """Page `body` (an audio file) through the relay; its answer after the end packets.

    `repeat`, `gap`, `gain` and `duration` mean what ``send``'s options do.

    Raises
    ------
    polyptt.remote.client.RelayClientError
    """
    return asyncio.run(
        post_page(
            url,
            token,
            body,
            channel=channel,
            codec=codec,
            repeat=repeat,
            gap=gap,
            gain=gain,
            duration=duration,
        )
    )


@dataclass(frozen=True)
class Talked:
    """How `send_live` ended: the relay's ``stopped`` event, and the signal that stopped
    the source (None: it ended or the duration passed)."""

    stopped: dict[str, Any]
    signal: int | None


def send_live(
    url: str,
    token: str,
    source: LiveSource,
    *,
    channel: int,
    codec: str,
    duration: float | None,
    gain: float,
    keep_pauses: bool,
) -> Talked:
    """Page live from `source` through the relay (see the module docstring).

    The relay resamples the audio and applies `gain`; unless `keep_pauses` it catches
    up after the alerts by shortening pauses. `source` is the caller's to close.

    Raises
    ------
    polyptt.remote.client.RelayClientError
    """
    received: list[int] = []
    limit = None if duration is None else round(duration * source.rate) * 2

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()

        def on_signal(signum: int) -> None:
            received.append(signum)
            stopping.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal, signum)
        return await talk(
            url,
            token,
            lambda: _paced(source, stopping, limit),
            channel=channel,
            codec=codec,
            rate=source.rate,
            gain=gain,
            keep_pauses=keep_pauses,
        )

    stopped = asyncio.run(main())
    return Talked(stopped, received[0] if received else None)


async def _next_chunk(chunks: asyncio.Queue[bytes | None], stopping: asyncio.Event) -> bytes | None:
    """The source's next chunk, or None at its end or once `stopping` is set."""
    getting = asyncio.ensure_future(chunks.get())
    waiting = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({getting, waiting}, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if getting.done():
        return getting.result()
    getting.cancel()
    return None


async def _paced(
    source: LiveSource, stopping: asyncio.Event, limit: int | None
) -> AsyncIterator[bytes]:
    """`source`'s audio in messages of `MESSAGE_BYTES`, no more than `AHEAD_S` ahead of
    real time, `limit` bytes at most; started now, stopped when this ends."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue(64)
    rate = source.rate
    pending = bytearray()
    sent = 0
    started = loop.time()
    source.start(loop, chunks)
    try:
        while limit is None or sent < limit:
            chunk = await _next_chunk(chunks, stopping)
            if chunk is None:
                pending = pending[: len(pending) - len(pending) % 2]
            else:
                pending += chunk
            while pending and (chunk is None or len(pending) >= MESSAGE_BYTES):
                piece = bytes(pending[:MESSAGE_BYTES])
                if limit is not None:
                    piece = piece[: limit - sent]
                del pending[:MESSAGE_BYTES]
                due = started + sent / 2 / rate - AHEAD_S
                await asyncio.sleep(max(0.0, due - loop.time()))
                sent += len(piece)
                yield piece
                if limit is not None and sent >= limit:
                    return
            if chunk is None:
                return
    finally:
        source.stop()
