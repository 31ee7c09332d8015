"""The relay runs the bridge's mappings too (``[[bridge]]`` in its configuration).

A site that runs ``polyptt relay`` then needs no second service to carry RTP paging to
Poly phones and back: the mappings (`polyptt.bridge.config`) are served from the
relay's event loop by the same `polyptt.bridge.serve.Bridge` that ``polyptt bridge``
runs, on the relay's Poly group, interface, TTL and serial (marked as a bridge's,
`polyptt.bridge.marks`). Pages from RTP go out on the LAN and the relay hears them like
any other page (page list, recordings, events: they show the bridge's serial); each
page or stream the bridge carried is one ``bridge_page`` line in the audit log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from polyptt.relay.state import RELAY

__all__ = ["bridges"]


async def bridges(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: serve the configured mappings while the relay runs."""
    from polyptt.bridge.config import BridgeJob
    from polyptt.bridge.serve import Bridge

    relay = app[RELAY]
    settings = relay.settings
    mappings = settings.config.bridges
    if not mappings:
        yield
        return
    job = BridgeJob(
        mappings, settings.destination, settings.interface, settings.ttl, settings.serial
    )

    def audit(event: dict[str, Any]) -> None:
        if event.get("event") == "page_end":
            relay.audit.log("bridge_page", **{k: v for k, v in event.items() if k != "event"})

    bridge = Bridge(job, audit)
    bridge.start()
    try:
        yield
    finally:
        await bridge.stop()
