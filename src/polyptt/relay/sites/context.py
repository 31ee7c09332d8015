"""The federation for the relay's lifetime: one line in `polyptt.relay.app`."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

from aiohttp import web

from polyptt.relay.sites.federation import Sites
from polyptt.relay.state import RELAY
from polyptt.relay.tasks import cancel_and_wait

#: How long closing the NATS connection may take at shutdown.
CLOSE_S = 2.0

__all__ = ["context"]


async def context(app: web.Application) -> AsyncIterator[None]:
    """The federation for the relay's lifetime (nothing without ``[nats]``)."""
    relay = app[RELAY]
    config = relay.settings.config
    if config.nats is None:
        yield
        return
    site = config.site or socket.gethostname().split(".")[0]
    sites = Sites(relay.hub, relay.talks, site, config.nats, config.share)
    relay.sites = sites
    if relay.talks.receiver is not None:
        relay.talks.receiver.subscribe(sites.shared_out)
    tasks = [asyncio.create_task(sites.link.run()), asyncio.create_task(sites.tick())]
    try:
        yield
    finally:
        await cancel_and_wait(tasks)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(sites.link.close(), CLOSE_S)
        relay.sites = None
