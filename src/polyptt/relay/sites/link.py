"""The relay's NATS connection: made in the background, remade on its own.

The relay never waits for NATS to start or to page on its LAN: `Link.run` tries the
servers until one answers (then nats-py reconnects by itself whenever the connection
drops), and `Link.publish` only queues a message for the one publishing task, which
keeps their order. While the link is down, messages are dropped rather than kept: a
page's frames are worth nothing late, and a stale start must not play after a
reconnect. The state (``up``/``down``), its changes and reconnects are counted for
``/healthz`` and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from polyptt.relay.sites.config import NatsConfig

__all__ = ["Link"]

log = logging.getLogger("polyptt.relay.sites")

#: Between two attempts to reach the servers (nats-py's own reconnects use the same).
RETRY_S = 0.5
#: Messages queued for publishing at most (beyond, the oldest wait is not worth it).
QUEUE = 4096

Handler = Callable[[Any], Awaitable[None]]


class Link:
    """One NATS connection of a relay, with its subscriptions and its state."""

    def __init__(
        self,
        config: NatsConfig,
        site: str,
        subscriptions: Mapping[str, Handler],
        on_down: Callable[[], None],
    ) -> None:
        self.config = config
        self.site = site
        self.subscriptions = subscriptions
        self.on_down = on_down
        self.nc: Any = None
        self.up = False
        self.since = time.time()
        self.reconnects = 0
        self.dropped = 0
        self.queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(QUEUE)
        self.loop: asyncio.AbstractEventLoop | None = None

    def publish(self, subject: str, data: bytes) -> None:
        """Queue `data` for `subject` (from the event loop)."""
        if not self.up:
            self.dropped += 1
            return
        try:
            self.queue.put_nowait((subject, data))
        except asyncio.QueueFull:
            self.dropped += 1

    def publish_threadsafe(self, subject: str, data: bytes) -> None:
        """`publish` from another thread (the pacer's)."""
        if self.loop is not None and self.up:
            self.loop.call_soon_threadsafe(self.publish, subject, data)

    async def run(self) -> None:
        """Connect (until it works), subscribe, then publish what is queued, forever."""
        self.loop = asyncio.get_running_loop()
        await self._connect()
        while True:
            subject, data = await self.queue.get()
            if self.up:
                with contextlib.suppress(Exception):
                    await self.nc.publish(subject, data)

    async def close(self) -> None:
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()
        self._state(False)

    async def _connect(self) -> None:
        import nats

        options = self._options()
        while True:
            try:
                self.nc = await nats.connect(**options)
                break
            except Exception as exc:  # no server yet: local paging goes on meanwhile
                log.warning("NATS: cannot reach %s: %s", ", ".join(self.config.urls), exc)
                await asyncio.sleep(RETRY_S)
        for subject, handler in self.subscriptions.items():
            await self.nc.subscribe(subject, cb=handler)
        await self.nc.flush()
        self._state(True)

    def _options(self) -> dict[str, Any]:
        config = self.config

        async def down() -> None:
            self._state(False)

        async def again() -> None:
            self.reconnects += 1
            self._state(True)

        async def error(exc: Exception) -> None:
            log.info("NATS: %s", exc)

        options: dict[str, Any] = {
            "servers": list(config.urls),
            "name": f"polyptt relay {self.site}",
            "allow_reconnect": True,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": RETRY_S,
            "connect_timeout": 2,
            "ping_interval": 2,
            "max_outstanding_pings": 2,
            "disconnected_cb": down,
            "reconnected_cb": again,
            "error_cb": error,
            "pending_size": 1 << 20,
        }
        if config.credentials:
            options["user_credentials"] = config.credentials
        if config.user:
            options.update(user=config.user, password=config.password)
        if config.ca_file or any(u.startswith("tls://") for u in config.urls):
            options["tls"] = ssl.create_default_context(cafile=config.ca_file)
        return options

    def _state(self, up: bool) -> None:
        if up == self.up:
            return
        self.up = up
        self.since = time.time()
        log.warning("NATS link %s", "up" if up else "down")
        if not up:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.on_down()
