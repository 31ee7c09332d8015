"""What the relay's handlers share, under one typed application key.

:class:`RelaySettings` is everything `create_app` needs (the policy from the
configuration file and the network identity from the command line); :class:`Relay` is
the running state built from it in the application's cleanup context.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from polyptt.relay.audit import AuditLog
from polyptt.relay.auth import TokenStore
from polyptt.relay.config import RelayConfig
from polyptt.relay.connections import Connection
from polyptt.relay.events import Events
from polyptt.relay.hub import Hub, Metrics
from polyptt.relay.store.database import Database
from polyptt.relay.store.sessions import Sessions
from polyptt.relay.talks import Talks
from polyptt.send.clock import MONOTONIC, Clock
from polyptt.send.pacing import Sink
from polyptt.transport import Destination

if TYPE_CHECKING:
    from polyptt.relay.sites.federation import Sites

__all__ = ["RELAY", "SETTINGS", "Relay", "RelaySettings"]

#: Addresses whose failed logins are remembered at most (memory stays bounded).
_MAX_TRACKED = 4096


@dataclass(frozen=True)
class RelaySettings:
    """Everything the relay application is made from.

    Attributes
    ----------
    config : RelayConfig
        The policy (origins, channel names, targets, limits, audit log, token store).
    destination : Destination
        Where pages go and what is listened to (its group and port).
    interface : str or None
        IPv4 address of the interface multicast uses.
    ttl : int
    serial : int
        The relay's host serial (its own pages are not heard back as LAN pages).
    frame_ms : int
        Frame length of uploaded files (live streams use 20 ms, the clients' frames).
    record : Path or None
        Record every heard page there (as ``polyptt listen --record``).
    data : Path or None
        The data directory: the database (`polyptt.relay.store`) and what it keeps.
        None keeps nothing across restarts (in memory; ``polyptt relay`` always names
        one: ``--data``, the config's ``data``, or the platform's state directory).
    tls : bool
        Served over TLS: cookies are marked Secure.
    clock : Clock
        What the relay's pages are paced on (tests pass one that only waiting moves).
    """

    config: RelayConfig
    destination: Destination
    interface: str | None
    ttl: int
    serial: int
    frame_ms: int = 30
    record: Path | None = None
    data: Path | None = None
    tls: bool = False
    clock: Clock = MONOTONIC


@dataclass
class Relay:
    """The running relay: its stores, pages, clients and counters."""

    settings: RelaySettings
    store: TokenStore
    audit: AuditLog
    hub: Hub
    talks: Talks
    metrics: Metrics
    #: The relay's SQLite database in `RelaySettings.data` (opened as the app starts).
    db: Database = field(default_factory=lambda: Database(None))
    #: What integrations hang off (`polyptt.relay.events`); the hub tells it of pages.
    events: Events = field(default_factory=Events)
    #: The bell schedules (`polyptt.relay.bells.runner.Bells`), once the app is made.
    bells: Any = None
    sinks: dict[str | None, Sink] = field(default_factory=dict)
    failures: dict[str, collections.deque[float]] = field(default_factory=dict)
    connections: collections.Counter[str] = field(default_factory=collections.Counter)
    clients: set[Connection] = field(default_factory=set)
    #: Browser sessions, kept across restarts (`polyptt.relay.store.sessions`); made
    #: with `db` by `polyptt.relay.app.create_app`.
    sessions: Sessions = field(init=False)
    #: This relay's part in a federation of sites (with ``[nats]``; `polyptt.relay.sites`).
    sites: Sites | None = None

    def __post_init__(self) -> None:
        self.sessions = Sessions(self.db)

    def banned(self, remote: str) -> bool:
        """True if `remote` failed to log in too often lately."""
        limits = self.settings.config.limits
        recent = self.failures.get(remote)
        if not recent:
            return False
        while recent and recent[0] < time.monotonic() - limits.ban_s:
            recent.popleft()
        return len(recent) >= limits.login_failures

    def login_failed(self, remote: str) -> None:
        """Count a presented-and-wrong credential from `remote`.

        The table is bounded (`_MAX_TRACKED` addresses) without forgetting a ban in
        force: when it is full, expired counters go first, then the older half of the
        counters below the ban; if only bans are left, a new address is not counted
        (its failures then cost nothing, but no earlier ban is lifted).
        """
        self.metrics.logins_refused += 1
        if remote not in self.failures and len(self.failures) >= _MAX_TRACKED:
            self._make_room()
            if len(self.failures) >= _MAX_TRACKED:
                return
        self.failures.setdefault(remote, collections.deque()).append(time.monotonic())

    def _make_room(self) -> None:
        """Forget expired counters, then the older half of those that are not bans."""
        counters = []
        for address in list(self.failures):
            if not self.banned(address):
                if self.failures[address]:
                    counters.append(address)
                else:
                    del self.failures[address]
        if len(self.failures) < _MAX_TRACKED:
            return
        counters.sort(key=lambda a: self.failures[a][-1])
        for address in counters[: max(1, len(counters) // 2)]:
            del self.failures[address]


SETTINGS = web.AppKey("settings", RelaySettings)
RELAY = web.AppKey("relay", Relay)
