"""The relay on an MQTT broker: its state and events out, pages and bells in.

Topics under the base ``<topic>`` (``[mqtt] topic``, default ``polyptt/<site>``):

===============================  ====  ======================================================
``status``                       out   ``online`` / ``offline`` (retained; the last will)
``channel/<n>/state``            out   ``idle`` / ``paging`` (retained)
``channel/<n>/page``             out   the current (or last) page's record, JSON (retained)
``event/<name>``                 out   every event, as the webhooks' body (unsigned)
``error``                        out   a refused command: ``{"error", "topic"}``
``page/set``                     in    ``{"channel": 26, "say": "...", "chime": true}`` or
                                       ``{"channel": 26, "audio": "NAME"}``
``channel/<n>/say``              in    plain text, spoken on channel n (Home Assistant's
                                       notify entity)
``schedule/<name>/ring``         in    ring that bell now
``schedule/<name>/enabled/set``  in    ``ON`` / ``OFF``: resume / pause it (state on
                                       ``schedule/<name>/enabled``, retained)
===============================  ====  ======================================================

Only ``announce_channels`` are paged from MQTT: a schedule is rung, paused or resumed
(and has Home Assistant entities) only if its channel is one of them; others are refused
on ``error`` like a page on another channel. With ``commands = false`` nothing is
listened to, and Home Assistant gets only the sensors (no notify, button or switch that
could do nothing).

The link never stands in a page's way. The event subscriber updates what the link knows
and queues messages (a bounded outbox that drops its oldest); one task owns the
connection and reconnects forever, with backoff and jitter, while the relay pages as
usual. On each connection it says ``online``, republishes every channel's state and the
Home Assistant discovery (`polyptt.relay.hooks.discovery`), then the events that queued
while the broker was away (each says when it happened, ``at``; the outbox keeps the
newest `OUTBOX`). A retained command is ignored: a broker replaying it at every
reconnect must not page again.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
import ssl
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiomqtt

from polyptt.relay.events import PAGE_ENDED, PAGE_STARTED, RELAY_STARTED, Event
from polyptt.relay.hooks import discovery, pages
from polyptt.relay.hooks.backoff import retry_delay
from polyptt.relay.hooks.config import MqttConfig, default_topic
from polyptt.relay.hooks.webhooks import delivery_body
from polyptt.relay.requests import Refused
from polyptt.relay.tasks import cancel_and_wait
from polyptt.relay.wire import ErrorCode

if TYPE_CHECKING:
    from polyptt.relay.state import Relay

__all__ = ["MqttLink"]

log = logging.getLogger("polyptt.relay.hooks.mqtt")

#: Messages kept for the broker at most (the oldest go first).
OUTBOX = 1000
#: Reconnection delays: the first, and at most (doubling between, jittered).
FIRST_RETRY_S, MAX_RETRY_S = 0.5, 15.0
#: How long retained discovery configs are collected after connecting before those of
#: channels and schedules no longer configured are removed.
SCAN_S = 1.0
#: How often the schedules are compared with what was published (API changes).
SCHEDULES_CHECK_S = 2.0
#: How long a stopping relay waits for what it queued to reach the broker.
DRAIN_S = 1.0

Outgoing = tuple[str, str, bool]  # topic, payload, retained


class MqttLink:
    """The relay's MQTT connection (see the module docstring)."""

    def __init__(self, relay: Relay, config: MqttConfig) -> None:
        self.relay = relay
        self.config = config
        hooks = relay.settings.config.hooks
        self.topic = config.topic or default_topic(getattr(relay.settings.config, "site", None))
        self.identity = discovery.Identity(self.topic, config.discovery_prefix, hooks.public_url)
        self.states: dict[int, str] = dict.fromkeys(config.announce_channels, "idle")
        self.pages: dict[int, dict[str, Any]] = {}
        self.connected = asyncio.Event()
        self._outbox: asyncio.Queue[Outgoing] = asyncio.Queue(OUTBOX)
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
        #: Set by ``relay_started``: every part of the relay (the bells) is up.
        self._started = asyncio.Event()

    # ------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Listen to the relay's events and start connecting (never waits for the broker)."""
        self._unsubscribe = self.relay.events.subscribe(self._event)
        self._task = asyncio.create_task(self._run(), name="mqtt")

    async def close(self) -> None:
        """Say ``offline`` (if connected) and disconnect."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        client = self._client
        deadline = asyncio.get_running_loop().time() + DRAIN_S
        while self.connected.is_set() and not self._outbox.empty():  # the last states
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)
        if client is not None and self.connected.is_set():
            with contextlib.suppress(aiomqtt.MqttError, asyncio.TimeoutError):
                await client.publish(
                    f"{self.topic}/status", "offline", qos=1, retain=True, timeout=2
                )
        await cancel_and_wait([self._task, *self._tasks])

    def _client_for(self) -> aiomqtt.Client:
        host, port, tls = self.config.address
        context = None
        if tls:
            context = ssl.create_default_context(
                cafile=None if self.config.ca_file is None else str(self.config.ca_file)
            )
        return aiomqtt.Client(
            host,
            port,
            username=self.config.username,
            password=self.config.password,
            identifier=self.config.client_id,
            will=aiomqtt.Will(f"{self.topic}/status", "offline", qos=1, retain=True),
            tls_context=context,
            keepalive=30,
            timeout=10,
        )

    async def _run(self) -> None:
        """Connect, serve the connection, and again after any loss: forever."""
        await self._started.wait()  # the schedules are loaded: discovery lists them
        attempt = 0
        while True:
            try:
                async with self._client_for() as client:
                    attempt = 0
                    self._client = client
                    await self._serve(client)
            except aiomqtt.MqttError as exc:
                if attempt == 0:  # one line per outage, not one per retry
                    was = (
                        "lost the broker" if self.connected.is_set() else "cannot reach the broker"
                    )
                    log.warning("MQTT: %s (%s); retrying, paging goes on", was, exc)
            finally:
                self.connected.clear()
                self._client = None
            delay = retry_delay(attempt, FIRST_RETRY_S, MAX_RETRY_S, random.random())
            attempt += 1
            await self._sleep(delay)

    async def _serve(self, client: aiomqtt.Client) -> None:
        """One connection: announce, republish, subscribe, then publish and listen."""
        waiting = [self._outbox.get_nowait() for _ in range(self._outbox.qsize())]
        for queued in waiting:  # events wait; the retained state is republished below
            if not queued[2]:
                self._outbox.put_nowait(queued)
        self.relay.metrics.mqtt_connects += 1
        for topic in self._subscriptions():  # before "online": then commands are heard
            await client.subscribe(topic, qos=1)
        await client.publish(f"{self.topic}/status", "online", qos=1, retain=True)
        for channel in sorted(self.states):
            await self._publish_channel(client, channel)
        self.connected.set()
        log.info("MQTT: connected as %s", self.topic)
        seen: set[str] = set()
        if self.config.discovery_prefix:
            await self._discover(client)
            self._spawn(self._remove_stale(client, seen))
        else:
            await self._publish_schedules(client)
        helpers = [asyncio.create_task(self._publish_outbox(client))]
        helpers.append(asyncio.create_task(self._follow_schedules(client)))
        try:
            async for message in client.messages:
                self._received(client, message, seen)
        finally:
            for helper in helpers:
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await helper

    def _subscriptions(self) -> list[str]:
        topics = []
        if self.config.commands:
            topics += [f"{self.topic}/page/set", f"{self.topic}/channel/+/say"]
            topics += [f"{self.topic}/schedule/+/ring", f"{self.topic}/schedule/+/enabled/set"]
        if self.config.discovery_prefix:
            topics += [f"{self.config.discovery_prefix}/status", self.identity.scan]
        return topics

    async def _publish_outbox(self, client: aiomqtt.Client) -> None:
        while True:
            topic, payload, retain = await self._outbox.get()
            await client.publish(topic, payload, qos=1, retain=retain)

    def _send(self, topic: str, payload: str, retain: bool = False) -> None:
        """Queue a message (never waits; a full outbox drops its oldest)."""
        if self._outbox.full():
            self._outbox.get_nowait()
        self._outbox.put_nowait((topic, payload, retain))

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ out

    def _event(self, event: Event) -> None:
        """The `polyptt.relay.events` subscriber: remember, queue, return."""
        if event.name == RELAY_STARTED:
            self._started.set()
        self._send(
            f"{self.topic}/event/{event.name}", delivery_body(event, str(uuid.uuid4())).decode()
        )
        channel = event.payload.get("channel")
        if event.name not in (PAGE_STARTED, PAGE_ENDED) or not isinstance(channel, int):
            return
        self.states[channel] = "paging" if event.name == PAGE_STARTED else "idle"
        self.pages[channel] = event.payload
        self._send(f"{self.topic}/channel/{channel}/state", self.states[channel], retain=True)
        self._send(f"{self.topic}/channel/{channel}/page", json.dumps(event.payload), retain=True)

    async def _publish_channel(self, client: aiomqtt.Client, channel: int) -> None:
        base = f"{self.topic}/channel/{channel}"
        await client.publish(f"{base}/state", self.states[channel], qos=1, retain=True)
        if channel in self.pages:
            await client.publish(
                f"{base}/page", json.dumps(self.pages[channel]), qos=1, retain=True
            )

    def _schedules(self) -> list[tuple[str, bool]]:
        """(name, rings) of the schedules MQTT may ring: those on announce channels."""
        return _schedules(self.relay, self.config.announce_channels)

    def _discovery(self) -> dict[str, dict[str, Any]]:
        return self._discovery_of(self._schedules())

    def _discovery_of(self, schedules: list[tuple[str, bool]]) -> dict[str, dict[str, Any]]:
        names = self.relay.settings.config.channel_names
        channels = {c: names.get(c, f"channel {c}") for c in self.config.announce_channels}
        found = discovery.configs(
            self.identity, channels, [n for n, _ in schedules] if self.config.commands else []
        )
        if self.config.commands:
            return found
        return {t: p for t, p in found.items() if "command_topic" not in p}

    async def _discover(self, client: aiomqtt.Client) -> None:
        """Publish every entity's config, and each schedule's enabled state."""
        for topic, payload in self._discovery().items():
            await client.publish(topic, json.dumps(payload), qos=1, retain=True)
        await self._publish_schedules(client)

    async def _publish_schedules(self, client: aiomqtt.Client) -> None:
        """Each schedule's enabled state (retained; with or without discovery)."""
        for name, enabled in self._schedules():
            state = f"{self.topic}/schedule/{discovery.schedule_topic(name)}/enabled"
            await client.publish(state, "ON" if enabled else "OFF", qos=1, retain=True)

    async def _follow_schedules(self, client: aiomqtt.Client) -> None:
        """Schedules added, removed, paused or resumed by the HTTP API: every
        `SCHEDULES_CHECK_S`, their entities and switch states are brought up to date."""
        known = self._schedules()
        while True:
            await asyncio.sleep(SCHEDULES_CHECK_S)
            now = self._schedules()
            if now == known:
                continue
            if self.config.discovery_prefix:
                before = set(self._discovery_of(known))
                await self._discover(client)
                for topic in sorted(before - set(self._discovery())):
                    await client.publish(topic, b"", qos=1, retain=True)
            else:
                for name, enabled in set(now) - set(known):
                    state = f"{self.topic}/schedule/{discovery.schedule_topic(name)}/enabled"
                    await client.publish(state, "ON" if enabled else "OFF", qos=1, retain=True)
            known = now

    async def _remove_stale(self, client: aiomqtt.Client, seen: set[str]) -> None:
        """After `SCAN_S` of retained configs, empty those of entities gone from the
        configuration (Home Assistant then removes them), and stop scanning."""
        await asyncio.sleep(SCAN_S)
        with contextlib.suppress(aiomqtt.MqttError):
            await client.unsubscribe(self.identity.scan)
            for topic in sorted(seen - set(self._discovery())):
                log.info("MQTT: removing the Home Assistant entity of %s", topic)
                await client.publish(topic, b"", qos=1, retain=True)

    # ------------------------------------------------------------ in

    def _received(self, client: aiomqtt.Client, message: aiomqtt.Message, seen: set[str]) -> None:
        topic = message.topic.value
        payload = (
            message.payload
            if isinstance(message.payload, bytes)
            else str(message.payload or "").encode()
        )
        if topic.endswith("/config"):
            if message.retain and payload:
                seen.add(topic)
            return
        if topic == f"{self.config.discovery_prefix}/status":
            if payload == b"online":  # Home Assistant (re)started: tell it again
                self._spawn(self._discover(client))
            return
        if message.retain:
            self._refuse(topic, "a retained command is ignored (publish commands without retain)")
            return
        self._spawn(self._command(topic[len(self.topic) + 1 :], payload))

    async def _command(self, command: str, payload: bytes) -> None:
        """Carry out a command; a refusal goes to ``<topic>/error``."""
        full = f"{self.topic}/{command}"
        try:
            parts = command.split("/")
            if command == "page/set":
                message = pages.page_request(payload, self.config.announce_channels)
            elif parts[0] == "channel" and parts[2:] == ["say"]:
                text = payload.decode("utf-8", "replace")
                body = json.dumps({"channel": parts[1], "say": text}).encode()
                message = pages.page_request(body, self.config.announce_channels)
            else:
                await self._schedule_command(parts[1], parts[2:], payload)
                return
            talk = await pages.start_page(
                self.relay, message, self.relay.settings.config.hooks.audio
            )
            log.info("MQTT: page %d on channel %d (%s)", talk.page_id, message["channel"], full)
        except Refused as exc:
            self._refuse(full, exc.message)
        except Exception:  # a bug must not go unseen, nor stop the link
            log.exception("MQTT: %s failed", full)
            self._refuse(full, "the relay failed to carry it out (see its log)")

    async def _schedule_command(self, name: str, rest: list[str], payload: bytes) -> None:
        """Ring, pause or resume a schedule of an announce channel (`Refused` else)."""
        bells = getattr(self.relay, "bells", None)
        every = [] if bells is None else bells.schedules()
        found = {discovery.schedule_topic(str(s["name"])): s for s in every}
        if bells is None or name not in found:
            raise Refused(404, "not_found", f"no schedule named {name!r}")
        schedule, channel = str(found[name]["name"]), found[name]["channel"]
        if channel not in self.config.announce_channels:
            allowed = ", ".join(map(str, self.config.announce_channels)) or "none"
            why = f"schedule {schedule!r} rings channel {channel}, which is not announced"
            raise Refused(403, ErrorCode.FORBIDDEN, f"{why} over MQTT ({allowed})")
        if rest == ["ring"]:
            await _maybe_await(bells.ring(schedule))
            return
        on = payload.strip().upper()
        if on not in (b"ON", b"OFF"):
            raise Refused(400, ErrorCode.BAD_REQUEST, "send ON or OFF")
        await _maybe_await((bells.resume if on == b"ON" else bells.pause)(schedule))
        state = f"{self.topic}/schedule/{name}/enabled"
        self._send(state, on.decode(), retain=True)

    def _refuse(self, topic: str, why: str) -> None:
        self.relay.metrics.mqtt_refused += 1
        log.info("MQTT: refused %s: %s", topic, why)
        self._send(f"{self.topic}/error", json.dumps({"error": why, "topic": topic}))


def _schedules(relay: Relay, channels: tuple[int, ...]) -> list[tuple[str, bool]]:
    """(name, rings: enabled and not paused) of the relay's bell schedules on `channels`
    (`polyptt.relay.bells.runner.Bells.schedules`); none without bells."""
    bells = getattr(relay, "bells", None)
    if bells is None:
        return []
    return [
        (str(s["name"]), bool(s.get("enabled", True)) and not s.get("paused", False))
        for s in bells.schedules()
        if s.get("channel") in channels
    ]


async def _maybe_await(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result
