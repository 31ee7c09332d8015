"""Signed webhooks: the relay's events POSTed as JSON, off the paging path.

`Webhooks` subscribes to `polyptt.relay.events`; for each ``[[webhook]]`` that wants an
event it builds the delivery's body and puts it in that webhook's bounded queue, and
returns (`Events.emit` runs on the paging path: nothing here may wait there). Each
webhook has a task of its own that delivers its queue in order, one at a time:

- a 2xx is delivered; a 4xx is the receiver refusing it: not retried (logged);
- a 3xx is not followed: the signed body goes to the configured URL only, never to
  wherever an answer points (another host); it is a failure, not retried (the URL in
  the configuration is to be corrected);
- an error (no connection, a timeout: `WebhookConfig.timeout_s` per attempt) or a 5xx is
  retried after ``min(MAX_DELAY_S, BASE_DELAY_S * 2**attempt)`` seconds, scaled by a
  random factor in [0.5, 1) (jitter: receivers coming back are not hit in step), until
  `WebhookConfig.retry_for_s` (10 minutes) after the first attempt; then it is dropped;
- a full queue drops its oldest delivery (counted in ``/metrics``; one line logged per
  run of drops, not one per drop).

The body is ``{"event", "delivery" (a UUID, the same on every retry), "at" (ISO), and
"page" (the record of ``GET /api/v1/pages``; ``recording_ready`` adds
``recording_url``), "schedule" (a bell's run) or "relay"}``, signed each attempt
(`polyptt.relay.hooks.signing`). Logs name a webhook by its number in the file, never by
its URL or secret (either may be a credential).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from polyptt import __version__
from polyptt.relay.events import RECORDING_READY, RELAY_STARTED, Event
from polyptt.relay.hooks.backoff import retry_delay
from polyptt.relay.hooks.config import WebhookConfig
from polyptt.relay.hooks.signing import SIGNATURE, TIMESTAMP, sign
from polyptt.relay.hub import Metrics

__all__ = ["BASE_DELAY_S", "MAX_DELAY_S", "Delivery", "Webhook", "Webhooks", "delivery_body"]

log = logging.getLogger("polyptt.relay.hooks.webhooks")

#: The first retry's delay (before jitter); each next one doubles, up to `MAX_DELAY_S`.
BASE_DELAY_S = 1.0
MAX_DELAY_S = 120.0
#: How long a stopping relay waits for its webhooks' queues to empty.
DRAIN_S = 2.0

Sleep = Callable[[float], Awaitable[Any]]


@dataclass
class Delivery:
    """One event on its way to one webhook."""

    id: str
    event: str
    body: bytes
    attempts: int = 0


def delivery_body(event: Event, delivery_id: str, public_url: str | None = None) -> bytes:
    """The JSON body of `event`'s delivery (see the module docstring)."""
    at = datetime.datetime.fromtimestamp(event.at, datetime.timezone.utc)
    body: dict[str, Any] = {
        "event": event.name,
        "delivery": delivery_id,
        "at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if event.name.startswith("page_") or event.name == RECORDING_READY:
        page = dict(event.payload)
        if event.name == RECORDING_READY and "wav" in page:
            page["recording_url"] = (public_url or "") + str(page["wav"])
        body["page"] = page
    elif event.name == RELAY_STARTED:
        body["relay"] = event.payload
    else:
        body["schedule"] = event.payload
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


class Webhook:
    """One ``[[webhook]]``: its queue and the task that delivers it.

    `clock` (monotonic seconds), `sleep`, `wall` (epoch seconds, for the signature's
    timestamp) and `jitter` (a number in [0, 1)) are injectable so that tests can run
    ten minutes of retries without waiting.
    """

    def __init__(
        self,
        number: int,
        config: WebhookConfig,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        wall: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.number = number
        self.config = config
        self.metrics = metrics
        self._clock, self._sleep, self._wall, self._jitter = clock, sleep, wall, jitter
        self._queue: collections.deque[Delivery] = collections.deque()
        self._ready = asyncio.Event()
        self._dropping = False
        self.task: asyncio.Task[None] | None = None
        #: A delivery is being attempted (or waits for its next attempt).
        self.busy = False

    def __repr__(self) -> str:
        return f"webhook {self.number}"

    def offer(self, delivery: Delivery) -> None:
        """Queue `delivery` (never waits): a full queue drops its oldest first."""
        if len(self._queue) >= self.config.queue:
            dropped = self._queue.popleft()
            self.metrics.webhooks_dropped += 1
            if not self._dropping:  # one line per run of drops
                self._dropping = True
                log.warning(
                    "%r: queue full (%d): dropping the oldest deliveries (first: %s %s)",
                    self,
                    self.config.queue,
                    dropped.event,
                    dropped.id,
                )
        self._queue.append(delivery)
        self._ready.set()

    def pending(self) -> int:
        """Deliveries waiting (not counting one being attempted)."""
        return len(self._queue)

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Deliver the queue in order, forever (cancel to stop)."""
        while True:
            while not self._queue:
                self._dropping = False
                self._ready.clear()
                await self._ready.wait()
            self.busy = True
            try:
                await self.deliver(session, self._queue.popleft())
            finally:
                self.busy = False

    async def deliver(self, session: aiohttp.ClientSession, delivery: Delivery) -> bool:
        """Attempt `delivery` until it is delivered, refused, or retried for too long."""
        first = self._clock()
        while True:
            delivery.attempts += 1
            outcome = await self._attempt(session, delivery)
            if outcome is None:
                self.metrics.webhooks_delivered += 1
                return True
            if outcome.startswith(("HTTP 3", "HTTP 4")):
                return self._give_up(delivery, f"{outcome}: not retried")
            delay = retry_delay(delivery.attempts - 1, BASE_DELAY_S, MAX_DELAY_S, self._jitter())
            if self._clock() + delay - first > self.config.retry_for_s:
                return self._give_up(delivery, f"{outcome}; retried for too long")
            log.debug(
                "%r: %s %s: %s; again in %.1f s", self, delivery.event, delivery.id, outcome, delay
            )
            self.metrics.webhooks_retried += 1
            await self._sleep(delay)

    async def _attempt(self, session: aiohttp.ClientSession, delivery: Delivery) -> str | None:
        """One POST; None if delivered, else what went wrong (no URL in it)."""
        stamp = int(self._wall())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"polyptt/{__version__}",
            "X-Polyptt-Event": delivery.event,
            "X-Polyptt-Delivery": delivery.id,
            TIMESTAMP: str(stamp),
            SIGNATURE: sign(self.config.secret, stamp, delivery.body),
        }
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_s)
        try:
            async with session.post(
                self.config.url,
                data=delivery.body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,  # the signed body goes to this URL only
            ) as answer:
                await answer.read()
                if 200 <= answer.status < 300:
                    return None
                if 300 <= answer.status < 400:  # its Location may name a host, a token
                    return f"HTTP {answer.status} (a redirect: not followed)"
                return f"HTTP {answer.status}"
        except (asyncio.TimeoutError, TimeoutError):
            return f"no answer within {self.config.timeout_s:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            return type(exc).__name__  # its text names the host: not logged

    def _give_up(self, delivery: Delivery, why: str) -> bool:
        self.metrics.webhooks_failed += 1
        log.warning(
            "%r: %s delivery %s dropped after %d attempts (%s)",
            self,
            delivery.event,
            delivery.id,
            delivery.attempts,
            why,
        )
        return False


class Webhooks:
    """Every ``[[webhook]]`` of the configuration: the event subscriber and the tasks."""

    def __init__(
        self,
        configs: tuple[WebhookConfig, ...],
        *,
        public_url: str | None = None,
        metrics: Metrics | None = None,
        **injected: Any,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.public_url = public_url
        self.hooks = [Webhook(i + 1, c, self.metrics, **injected) for i, c in enumerate(configs)]
        self._session: aiohttp.ClientSession | None = None

    def __call__(self, event: Event) -> None:
        """The `polyptt.relay.events` subscriber: only builds the body and queues it."""
        wanting = [h for h in self.hooks if h.config.wants(event.name, event.payload)]
        if not wanting:
            return
        delivery_id = str(uuid.uuid4())
        body = delivery_body(event, delivery_id, self.public_url)
        for hook in wanting:
            hook.offer(Delivery(delivery_id, event.name, body))

    async def start(self) -> None:
        """Start each webhook's task."""
        self._session = aiohttp.ClientSession()
        for hook in self.hooks:
            hook.task = asyncio.create_task(hook.run(self._session), name=repr(hook))

    async def close(self, drain_s: float = DRAIN_S) -> None:
        """Give the queues `drain_s` to empty (the last page's ``page_ended`` goes out
        as the relay stops), then stop the tasks (what is left is logged as lost) and
        the session."""
        deadline = time.monotonic() + drain_s
        while any(h.pending() or h.busy for h in self.hooks) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for hook in self.hooks:
            if hook.task is not None:
                hook.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await hook.task
            if hook.pending():
                log.warning("%r: %d deliveries not made (the relay stopped)", hook, hook.pending())
        if self._session is not None:
            await self._session.close()
