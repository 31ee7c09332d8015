"""An MQTT client that stands in for Home Assistant (or Node-RED) in tests.

`Watcher` subscribes to some topics of a real broker and keeps every message it gets,
in order, with its retain flag; `Watcher.wait` waits for one that matches.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiomqtt

__all__ = ["Got", "Watcher", "watcher"]


@dataclass(frozen=True)
class Got:
    topic: str
    payload: bytes
    retain: bool


@dataclass
class Watcher:
    client: aiomqtt.Client
    messages: list[Got] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(
        self, match: Callable[[Got], bool], timeout: float = 10.0, after: int = 0
    ) -> Got:
        """The first message from index `after` on that `match`es (AssertionError after
        `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            for got in self.messages[after:]:
                if match(got):
                    return got
            left = deadline - time.monotonic()
            if left <= 0:
                seen = [(g.topic, g.payload[:80]) for g in self.messages[after:]]
                raise AssertionError(f"no such message; got {seen}")
            self.arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), min(left, 0.2))

    async def topic(self, topic: str, payload: bytes | None = None, **kw: float) -> Got:
        """The first message on `topic` (with `payload`, if given)."""
        return await self.wait(
            lambda g: g.topic == topic and (payload is None or g.payload == payload), **kw
        )

    def on(self, topic: str) -> list[Got]:
        return [g for g in self.messages if g.topic == topic]


@contextlib.asynccontextmanager
async def watcher(port: int, *topics: str) -> AsyncIterator[Watcher]:
    """A client of the broker on 127.0.0.1:`port` subscribed to `topics`."""
    async with aiomqtt.Client("127.0.0.1", port) as client:
        state = Watcher(client)
        for topic in topics:
            await client.subscribe(topic, qos=1)

        async def collect() -> None:
            async for message in client.messages:
                payload = message.payload
                data = payload if isinstance(payload, bytes) else str(payload or "").encode()
                state.messages.append(Got(message.topic.value, data, bool(message.retain)))
                state.arrived.set()

        task = asyncio.create_task(collect())
        try:
            yield state
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task
