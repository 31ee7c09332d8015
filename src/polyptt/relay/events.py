"""What happened at the relay, told to whatever hangs off it: webhooks, MQTT, other sites.

Integrations must never delay or lose a page, so they are not called from the paging
path with any work to do: `Events.emit` hands each subscriber an `Event` synchronously,
on the event loop, and a subscriber only puts it in a bounded queue of its own and
returns (its own task does the slow part: HTTP, a broker). A subscriber that raises is
logged once per subscriber and counted (`Events.errors`); the page goes on.

The payload of a page's events is its record as ``GET /api/v1/pages`` lists it (a copy:
the hub goes on filling its own), so that a webhook, an MQTT message and the API agree.

Example::

    def enqueue(event: Event) -> None:
        queue.put_nowait(event)       # never blocks; the queue drops its oldest when full

    unsubscribe = relay.events.subscribe(enqueue)
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EVENTS",
    "PAGE_ENDED",
    "PAGE_STARTED",
    "RECORDING_READY",
    "RELAY_STARTED",
    "SCHEDULE_MISSED",
    "SCHEDULE_RANG",
    "Event",
    "Events",
    "Subscriber",
]

log = logging.getLogger("polyptt.relay.events")

PAGE_STARTED = "page_started"
PAGE_ENDED = "page_ended"
RECORDING_READY = "recording_ready"
SCHEDULE_RANG = "schedule_rang"
SCHEDULE_MISSED = "schedule_missed"
RELAY_STARTED = "relay_started"
#: Every event's name, in the order a page's happen (the relay's own last).
EVENTS = (PAGE_STARTED, PAGE_ENDED, RECORDING_READY, SCHEDULE_RANG, SCHEDULE_MISSED, RELAY_STARTED)


@dataclass(frozen=True)
class Event:
    """One thing that happened.

    Attributes
    ----------
    name : str
        One of `EVENTS`.
    payload : dict
        A page's record (``page_*``, ``recording_ready``, with the recording's ``wav``
        URL path), a schedule's run (``schedule_*``), or the relay's identity.
    at : float
        When, in seconds since the epoch.
    """

    name: str
    payload: dict[str, Any]
    at: float = field(default_factory=time.time)


Subscriber = Callable[[Event], None]


class Events:
    """The relay's events, fanned out to subscribers that must not block."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._failed: set[int] = set()
        #: Subscriber calls that raised (each subscriber's first is logged).
        self.errors = 0

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber` with every event from now on; returns what unsubscribes it."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def emit(self, name: str, payload: dict[str, Any]) -> None:
        """Tell every subscriber that `name` happened (`payload` is copied first)."""
        if name not in EVENTS:
            raise ValueError(f"unknown event {name!r} (expected one of {', '.join(EVENTS)})")
        if not self._subscribers:
            return
        event = Event(name, copy.deepcopy(payload))
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                self.errors += 1
                if id(subscriber) not in self._failed:
                    self._failed.add(id(subscriber))
                    log.exception("an event subscriber failed (%s); the page goes on", name)
