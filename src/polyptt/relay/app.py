"""The relay as an aiohttp application: `create_app` and its life cycle.

Resources live in the application's cleanup context, in the order they are needed and
closed in reverse: the database (`polyptt.relay.store.database`), the page store
(`polyptt.relay.store.service`: interrupted pages repaired, retention), the audit log, the
multicast sink pages go out of, the receive sockets with the async receive driver
(`polyptt.receive.inbound.serve_async`) feeding the hub (and the recorder with
``--record``), and a watcher that cuts off connections and pages whose token was
revoked. ``on_shutdown`` closes every WebSocket and ends every page in progress with its
end packets before anything is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web

from polyptt.relay import api, hooks, webpage
from polyptt.relay.audit import AuditLog
from polyptt.relay.auth import TokenStore
from polyptt.relay.bells import api as bells
from polyptt.relay.bridges import bridges
from polyptt.relay.connections import Connection
from polyptt.relay.events import RELAY_STARTED, Events
from polyptt.relay.hub import HeardPages, Hub, Metrics
from polyptt.relay.security import auth_middleware
from polyptt.relay.sites.context import context as sites_context
from polyptt.relay.state import RELAY, SETTINGS, Relay, RelaySettings
from polyptt.relay.store.database import DATABASE_NAME, Database
from polyptt.relay.store.pages import PageStore
from polyptt.relay.store.recordings import RelayRecorder, recordings_dir
from polyptt.relay.store.service import page_store
from polyptt.relay.talks import Talks
from polyptt.relay.wire import WS_PATH
from polyptt.relay.ws import websocket
from polyptt.send.pacing import Sink

__all__ = ["REVOCATION_CHECK_S", "create_app"]

log = logging.getLogger("polyptt.relay")

#: How often open connections and pages are checked against the token store.
REVOCATION_CHECK_S = 0.5


def create_app(settings: RelaySettings) -> web.Application:
    """The relay application for `settings`; nothing is opened until it starts.

    Raises (when started)
    ---------------------
    polyptt.transport.NetworkError, OSError
        The multicast sink or the receive sockets cannot be opened, or the audit log
        cannot be written.
    """
    limits = settings.config.limits
    app = web.Application(middlewares=[auth_middleware], client_max_size=limits.max_upload_bytes)
    metrics = Metrics()
    audit = AuditLog(settings.config.audit_log)
    events = Events()
    db = Database(None if settings.data is None else settings.data / DATABASE_NAME)
    hub = Hub(
        settings.config.channel_names,
        metrics,
        _recorder(settings),
        events=events,
        store=PageStore(db),
    )
    relay = Relay(
        settings=settings,
        db=db,
        store=TokenStore(settings.config.tokens_path),
        audit=audit,
        hub=hub,
        talks=Talks(
            lambda target: _sink(relay, target), settings.serial, hub, audit, settings.clock
        ),
        metrics=metrics,
        events=events,
    )

    def dropped(client: Connection) -> None:
        audit.log("listener_dropped", who=client.grant.name, reason="send queue full")

    hub.on_drop = dropped
    app[SETTINGS] = settings
    app[RELAY] = relay
    app.add_routes([*api.routes(), web.get(WS_PATH, websocket)])
    webpage.setup(app)  # the web page at /
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(page_store)  # pages repaired, retention: after the database
    app.cleanup_ctx.append(_audit_log)
    app.cleanup_ctx.append(_multicast)
    app.cleanup_ctx.append(bridges)  # [[bridge]] mappings (polyptt.relay.bridges)
    app.cleanup_ctx.append(hooks.context)  # webhooks, MQTT (after the sockets they page on)
    app.cleanup_ctx.append(_revocations)
    app.cleanup_ctx.append(sites_context)  # other sites over NATS, with [nats]
    bells.setup(app)  # schedules: their tables, routes and task (after the sinks)
    app.on_startup.append(_started)
    app.on_shutdown.append(_end_everything)
    return app


def _recorder(settings: RelaySettings) -> RelayRecorder | None:
    """The recorder of the directions the config records, in ``--record`` or the data
    directory (`polyptt.relay.store.recordings`); None if nothing is recorded."""
    directory = recordings_dir(settings.record, settings.data)
    if directory is None or not settings.config.record:
        return None
    return RelayRecorder(directory, settings.config.record)


async def _started(app: web.Application) -> None:
    """``relay_started``: after every resource is open (startup runs after the cleanup
    contexts' setup)."""
    relay = app[RELAY]
    relay.events.emit(RELAY_STARTED, {"serial": f"0x{relay.settings.serial:08X}"})


def _sink(relay: Relay, target: str | None) -> Sink:
    """The sink for `target` (a named phone) or the group; opened once, kept."""
    from polyptt.transport import Destination, UdpSink

    sink = relay.sinks.get(target)
    if sink is None:
        settings = relay.settings
        destination = settings.destination
        if target is not None:
            address = settings.config.targets[target]
            destination = Destination(address, destination.port)
        sink = UdpSink(destination, interface=settings.interface, ttl=settings.ttl)
        relay.sinks[target] = sink
    return sink


async def _database(app: web.Application) -> AsyncIterator[None]:
    """The database first (everything that keeps a record writes to it), closed last."""
    relay = app[RELAY]
    relay.db.open()
    relay.sessions.load()
    yield
    relay.db.close()


async def _audit_log(app: web.Application) -> AsyncIterator[None]:
    relay = app[RELAY]
    relay.audit.open()
    relay.audit.log("relay_start", serial=f"0x{relay.settings.serial:08X}")
    yield
    relay.audit.log("relay_stop")
    relay.audit.close()


async def _multicast(app: web.Application) -> AsyncIterator[None]:
    from polyptt.receive.driver import COALESCE_PLAYING_S
    from polyptt.receive.inbound import Endpoint, open_sockets, serve_async
    from polyptt.receive.receiver import Receiver

    relay = app[RELAY]
    settings = relay.settings
    _sink(relay, None)  # fails now, not at the first page
    destination = settings.destination
    endpoint = Endpoint(destination.address, destination.port)
    sockets = open_sockets([endpoint], settings.interface)
    receiver = Receiver([HeardPages(relay.hub)])  # the hub also drives the recorder
    relay.talks.receiver = receiver  # our own pages are listed as sent, not heard
    stop = asyncio.Event()
    # the short pause after each read, as for a page played: listeners hear the audio
    # as it arrives (with the 40 ms one, it reached them up to 40 ms late)
    serving = asyncio.create_task(
        serve_async(sockets, receiver, stop=stop, coalesce_s=COALESCE_PLAYING_S)
    )
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await serving
        relay.talks.receiver = None
        receiver.close(time.time())
        for sock in sockets:
            sock.close()
        for sink in relay.sinks.values():
            sink.close()  # type: ignore[attr-defined]
        relay.sinks.clear()


async def _revocations(app: web.Application) -> AsyncIterator[None]:
    relay = app[RELAY]

    async def watch() -> None:
        while True:
            await asyncio.sleep(REVOCATION_CHECK_S)
            cut_off(relay)

    task = asyncio.create_task(watch())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def cut_off(relay: Relay) -> None:
    """End the pages and close the connections of revoked tokens."""
    store = relay.store
    try:
        for talk in list(relay.talks.by_channel.values()):
            if talk.digest and store.check_digest(talk.digest) is None:
                talk.end("revoked")  # (no digest: the relay's own page, a bell's)
        for client in list(relay.clients):
            if store.check_digest(client.digest) is None:
                if client.talk is not None:
                    client.talk.end("revoked")
                relay.hub.clients.discard(client)
                client.drop("token revoked")
        for digest in list(relay.sessions.digests()):
            if store.check_digest(digest) is None:
                relay.sessions.end_where(digest)  # revoked or expired: signed out
    except Exception as exc:  # a store being rewritten by hand: try again next time
        log.warning("cannot check the token store: %s", exc)


async def _end_everything(app: web.Application) -> None:
    relay = app[RELAY]
    relay.talks.closing = True
    for client in list(relay.clients):
        client.drop("the relay is shutting down", WSCloseCode.GOING_AWAY)
    await relay.talks.shutdown()
