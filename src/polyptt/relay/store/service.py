"""The page store in the relay's life cycle: opened after the database, closed before.

`page_store` is the application's cleanup context for it: at start-up the pages a crash
interrupted are repaired (`polyptt.relay.store.pages.PageStore.open`) and retention runs
(`polyptt.relay.store.retention`), then every hour while the relay serves; at the end the
unused reserved ids are given back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from polyptt.relay.store.retention import Deleted, Retention, run_retention

__all__ = ["page_store"]


async def page_store(app: web.Application) -> AsyncIterator[None]:
    """Open the page store of the app's hub, keep it within its limits, close it."""
    from polyptt.relay.state import RELAY

    relay = app[RELAY]
    store = relay.hub.store
    if store is None:
        yield
        return
    store.open()
    config = relay.settings.config
    metrics = relay.metrics

    def counted(deleted: Deleted) -> None:
        metrics.pages_deleted += deleted.count
        metrics.recording_bytes_deleted += deleted.bytes

    retention = Retention(relay.db, config.keep_days, config.keep_gb)
    try:
        async for _ in run_retention(retention, counted):
            yield
    finally:
        store.close()
