"""A webhook receiver for tests: an aiohttp server on 127.0.0.1 that checks every
delivery's signature the way docs/webhooks.md tells users to, and can fail or hang.

`Receiver.deliveries` holds the verified JSON bodies in arrival order; a delivery whose
signature or timestamp is wrong is kept in `Receiver.forged` (and answered 401), so a
test that expects none asserts it is empty.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from polyptt.relay.hooks.signing import SIGNATURE, TIMESTAMP, verify

__all__ = ["SECRET", "Receiver", "receiver"]

SECRET = "a test secret, 32 characters...."


@dataclass
class Receiver:
    """What the receiver got, and how it answers (`fail` 5xx answers first, or `hang`,
    after `delay` seconds; `hangs`: the first so many attempts get no answer; `redirect`:
    every answer is `status` (a 3xx) with this Location)."""

    url: str = ""
    fail: int = 0
    status: int = 500
    hang: bool = False
    hangs: int = 0
    redirect: str | None = None
    delay: float = 0.0
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    forged: list[bytes] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.attempts.append((time.monotonic(), dict(request.headers)))
        stamp, signature = request.headers.get(TIMESTAMP, ""), request.headers.get(SIGNATURE, "")
        if not verify(SECRET, stamp, signature, body, now=time.time()):
            self.forged.append(body)
            return web.Response(status=401)
        if self.hang:
            await asyncio.sleep(3600)
        if self.hangs:
            self.hangs -= 1
            await asyncio.sleep(3600)
        if self.redirect is not None:
            return web.Response(status=self.status, headers={"Location": self.redirect})
        await asyncio.sleep(self.delay)
        if self.fail:
            self.fail -= 1
            return web.Response(status=self.status)
        self.deliveries.append(json.loads(body))
        self.arrived.set()
        return web.Response(status=204)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The deliveries once there are `count` (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count:
            self.arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{len(self.deliveries)} deliveries of {count}")
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except asyncio.TimeoutError:
                continue
        return self.deliveries


@asynccontextmanager
async def receiver(**behaviour: Any) -> AsyncIterator[Receiver]:
    """A `Receiver` served on a free port of 127.0.0.1 in this loop."""
    state = Receiver(**behaviour)
    app = web.Application()
    app.router.add_post("/hook", state.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield state
    finally:
        await runner.cleanup()
