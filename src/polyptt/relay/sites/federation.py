"""The relay as one site of many: pages to and from other sites, shared pages, health.

`Sites` is made by the application's cleanup context (`polyptt.relay.sites.context`)
when the configuration has ``[nats]``; it hangs on the relay state as ``relay.sites``.

Sending: `Sites.sink` gives a page addressed to other sites its `SiteSink`.

Receiving (`Incoming`): a start addressed to this site (by name or ``all``) from
another site becomes a page of this relay's talks path (``via: site``): its own alerts,
pacing, serial, end packets, and the caller id of the original behind ``caller_prefix``;
its frames go through a `JitterSource`. A channel busy here delays it up to ``wait_s``
(the most urgent channel first, then the oldest), after which it is refused; the
sender is told either way (``NAME.result.SITE``) and writes it in its page's record
(``sites``: per site, ``played`` or ``refused`` and when). A page id seen once is never
started again (exactly once per site, also across a reconnect: the ids are kept), and a
start older than `STALE_S` is ignored: its age is how much later than the sender's
hellos it took to arrive (`Clocks`), so that the sites' clocks need not agree. A page
ends with its end packets when its sender ends it, when nothing came from the sender
for `VANISHED_S`, or at once when the link drops.

Sharing: pages heard on the LAN on the ``share`` channels are published with their
audio; other relays' hubs tell them to their listeners as heard pages labelled with
their ``site``. A page this relay re-emits from another site is its own page, never
heard back (`polyptt.relay.talks`), so it is never shared again: no loops.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polyptt.protocol import channel_priority, fit_caller_id
from polyptt.receive.recorder import iso_utc
from polyptt.relay.sites import wire
from polyptt.relay.sites.config import ALL, NatsConfig
from polyptt.relay.sites.jitter import JitterSource
from polyptt.relay.sites.link import Handler, Link
from polyptt.relay.sites.sender import NullSink, SiteSink
from polyptt.relay.sites.shared import SharedIn, SharedOut

if TYPE_CHECKING:
    from polyptt.relay.hub import Hub
    from polyptt.relay.talks import Talk, Talks

__all__ = ["STALE_S", "VANISHED_S", "Sites"]

log = logging.getLogger("polyptt.relay.sites")

#: Nothing from a page's sender for this long: it vanished (a WAN cut on its side), and
#: the page ends here. The sender says something every 250 ms of a page at most (a frame
#: every 20-30 ms, a keep-alive during its alerts), so 0.7 s is three keep-alives lost,
#: and the end packets (checked every 100 ms) still start within 1 s of its last message.
#: The jitter buffer (up to 300 ms) delays playing, not hearing: it does not count here.
VANISHED_S = 0.7
#: Nothing of another site's shared page for this long: it is over (no keep-alives).
SHARED_QUIET_S = 1.0
STALE_S = 5.0
KEEPALIVE_S = 0.25
HELLO_S = 1.0
_SEEN = 10000
#: Hellos kept per site to measure its clock against this one's (about 16 s of them).
_HELLOS = 16


class Clocks:
    """How far each site's clock is from this one's, as its messages show.

    A site's ``sent`` (its wall clock) differs from this relay's arrival time by the
    clocks' difference plus the message's delay; the least of it over the last hellos
    is the difference plus the shortest delay. A message's age is then its own
    difference beyond that least one: how much later than the quickest hello it came,
    whatever the two clocks say (NTP or not). A site not heard from yet has no
    measure: its age is the clocks' plain difference (right only if they agree).
    """

    def __init__(self) -> None:
        self.offsets: dict[str, collections.deque[float]] = {}

    def hello(self, site: str, sent: float, now: float) -> None:
        kept = self.offsets.setdefault(site, collections.deque(maxlen=_HELLOS))
        kept.append(now - sent)

    def age(self, site: str, sent: float, now: float) -> float:
        kept = self.offsets.get(site)
        return now - sent - (min(kept) if kept else 0.0)


@dataclass(eq=False)
class Incoming:
    """A page from another site, waiting for its channel or playing here."""

    page: str
    sender: str
    start: dict[str, Any]
    source: JitterSource
    heard: float = field(default_factory=time.monotonic)
    since: float = field(default_factory=time.monotonic)
    talk: Talk | None = None

    @property
    def rank(self) -> tuple[int, float]:
        return (-int(channel_priority(int(self.start["channel"]))), self.since)


class Sites:
    """This relay's part in its federation (see the module docstring)."""

    def __init__(
        self, hub: Hub, talks: Talks, site: str, config: NatsConfig, share: tuple[int, ...]
    ) -> None:
        self.hub = hub
        self.talks = talks
        self.site = site
        self.config = config
        self.prefix = config.name
        self.incoming: dict[str, Incoming] = {}
        self.waiting: list[Incoming] = []
        self.seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.outgoing: dict[str, tuple[SiteSink, Talk]] = {}
        #: Page id at the other sites -> this relay's record of it (for their results).
        self.records: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self.latency: dict[str, float] = {}
        self.last_hello: dict[str, float] = {}
        self.clocks = Clocks()
        self.counts: collections.Counter[str] = collections.Counter()
        handlers: dict[str, Handler] = {
            wire.subject(self.prefix, "page", "*"): self._on_page,
            wire.subject(self.prefix, "result", "*"): self._on_result,
            wire.subject(self.prefix, "hello", "*"): self._on_hello,
        }
        self.shared_in = SharedIn(hub, self.site)
        handlers[wire.subject(self.prefix, "shared", "*")] = self.shared_in.on_message
        if config.members is not None:
            handlers = {s: self._members_only(h) for s, h in handlers.items()}
        self.link = Link(config, site, handlers, self._link_down)
        self.shared_out = SharedOut(
            share,
            lambda data: self.link.publish(self._mine("shared"), data),
        )

    def _members_only(self, handler: Handler) -> Handler:
        """`handler` for the messages of ``[nats] members`` (and this site's own, which
        the handlers ignore themselves); the others are counted and dropped."""
        members = self.config.members or frozenset()

        async def gate(msg: Any) -> None:
            sender = wire.sender(msg)
            if sender in members or sender == self.site:
                await handler(msg)
            else:
                self.counts["outsider"] += 1

        return gate

    def _mine(self, kind: str) -> str:
        return wire.subject(self.prefix, kind, self.site)

    # ------------------------------------------------------------ sending

    def remote(self, sites: frozenset[str]) -> bool:
        """Whether `sites` names any site but this one."""
        return ALL in sites or bool(sites - {self.site})

    def here(self, sites: frozenset[str]) -> bool:
        """Whether `sites` names this one."""
        return ALL in sites or self.site in sites

    def sink(self, sites: frozenset[str], local: Any, fields: dict[str, Any]) -> SiteSink:
        """The sink of a page to `sites` (`local`: the LAN's sink, used if this site is
        among them); `fields`: channel, codec, frame_ms, caller_id."""
        from polyptt.codecs import info

        here = self.here(sites)
        start = {
            "page": wire.new_page_id(),
            "from": self.site,
            "to": sorted(sites),
            **fields,
        }
        frame_bytes = info(fields["codec"]).frame_bytes(fields["frame_ms"])
        subject = self._mine("page")
        return SiteSink(
            local if here else NullSink(),
            lambda data: self.link.publish_threadsafe(subject, data),
            start,
            frame_bytes,
        )

    def started(self, sink: SiteSink, talk: Talk) -> None:
        """`talk` goes out through `sink`: follow it for keep-alives and results."""
        self.outgoing[sink.page_id] = (sink, talk)
        record = self.hub.recent.get(talk.page_id)
        if record is not None:
            record["sites"] = {}
            self.records[sink.page_id] = record
            while len(self.records) > _SEEN:
                self.records.popitem(last=False)
        assert talk.task is not None
        talk.task.add_done_callback(lambda _t: self.outgoing.pop(sink.page_id, None))

    async def _on_result(self, msg: Any) -> None:
        data = json.loads(msg.data)
        record = self.records.get(str(data.get("page")))
        if data.get("to") != self.site or record is None:
            return
        site = wire.sender(msg)
        entry = {"state": data["state"], "at": data["at"]}
        if data.get("reason"):
            entry["reason"] = data["reason"]
        record.setdefault("sites", {})[site] = entry
        store = self.hub.store
        if data["page"] not in self.outgoing and store is not None:
            store.rewrite(record)  # over: its row was written without this answer

    # ------------------------------------------------------------ receiving

    async def _on_page(self, msg: Any) -> None:
        heard = wire.from_other_site(msg, self.site)
        if heard is None:
            return
        sender, data = heard
        kind = data[:1]
        if kind == b"F":
            page, seq, sent, frame = wire.decode_frame(data)
            incoming = self.incoming.get(page)
            if incoming is not None:
                incoming.heard = time.monotonic()
                incoming.source.put(seq, frame)
                self._latency(sender, sent)
        elif kind == b"S":
            self._start(sender, wire.decode_control(data))
        elif kind == b"K":
            incoming = self.incoming.get(data[1:].decode())
            if incoming is not None:
                incoming.heard = time.monotonic()
        elif kind == b"E":
            end = wire.decode_control(data)
            incoming = self.incoming.get(end["page"])
            if incoming is not None:
                incoming.heard = time.monotonic()
                incoming.source.close(int(end["frames"]))

    def _latency(self, site: str, sent: float) -> None:
        delay = max(0.0, time.time() - sent)
        old = self.latency.get(site)
        self.latency[site] = delay if old is None else old + (delay - old) / 16

    def _start(self, sender: str, start: dict[str, Any]) -> None:
        page = str(start.get("page"))
        to = set(start.get("to", ()))
        if (self.site not in to and ALL not in to) or page in self.seen:
            return
        self.seen[page] = None
        while len(self.seen) > _SEEN:
            self.seen.popitem(last=False)
        if self.clocks.age(sender, float(start.get("sent", 0)), time.time()) > STALE_S:
            self._result(page, sender, "refused", "stale")
            return
        incoming = Incoming(page, sender, start, JitterSource(int(start["frame_ms"])))
        self.incoming[page] = incoming
        if not self._play(incoming):
            incoming.source.delayed = True
            self.waiting.append(incoming)

    def _play(self, incoming: Incoming) -> bool:
        """Start `incoming` on this LAN now; False if its channel is busy."""
        from polyptt.relay.auth import Grant
        from polyptt.relay.talks import Busy

        start = incoming.start
        caller, _cut = fit_caller_id(self.config.caller_prefix + str(start.get("caller_id", "")))
        grant = Grant(caller, frozenset({"talk", "emergency"}))
        try:
            talk = self.talks.start(
                incoming.source,
                grant=grant,
                digest="",
                channel=int(start["channel"]),
                codec=str(start["codec"]),
                frame_ms=int(start["frame_ms"]),
                via="site",
                remote=f"site:{incoming.sender}",
                extra={"site": incoming.sender, "site_page": incoming.page},
            )
        except Busy:
            return False
        except Exception as exc:  # a codec or a channel this relay cannot page
            self.incoming.pop(incoming.page, None)
            self._result(incoming.page, incoming.sender, "refused", str(exc))
            return True
        incoming.talk = talk
        self._result(incoming.page, incoming.sender, "played")
        assert talk.task is not None
        talk.task.add_done_callback(lambda _t: self.incoming.pop(incoming.page, None))
        return True

    def _result(self, page: str, sender: str, state: str, reason: str | None = None) -> None:
        self.counts[state] += 1
        answer = {"page": page, "to": sender, "state": state, "at": iso_utc(time.time())}
        if reason:
            answer["reason"] = reason
        self.link.publish(self._mine("result"), json.dumps(answer).encode())

    def _link_down(self) -> None:
        """The link dropped: every page from another site ends now, with its ends, and
        so does every page of this relay's for other sites only (nobody hears it)."""
        for incoming in list(self.incoming.values()):
            self._end(incoming, "link")
        for sink, talk in list(self.outgoing.values()):
            if isinstance(sink.local, NullSink):
                talk.end("link")

    def _end(self, incoming: Incoming, reason: str) -> None:
        incoming.source.abort()
        if incoming.talk is not None:
            incoming.talk.end(reason)
        else:
            self.incoming.pop(incoming.page, None)
            if incoming in self.waiting:
                self.waiting.remove(incoming)
            self._result(incoming.page, incoming.sender, "refused", reason)

    async def _on_hello(self, msg: Any) -> None:
        site = wire.sender(msg)
        if site != self.site:
            self.last_hello[site] = time.monotonic()
            sent = float(json.loads(msg.data)["sent"])
            self.clocks.hello(site, sent, time.time())
            self._latency(site, sent)

    # ------------------------------------------------------------ the clock

    async def tick(self) -> None:
        """Every 100 ms: vanished senders, waiting pages, keep-alives, hellos."""
        last_keep = last_hello = 0.0
        while True:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            for incoming in list(self.incoming.values()):
                if not incoming.source.ended and now - incoming.heard > VANISHED_S:
                    self._end(incoming, "vanished")
            self._serve_waiting(now)
            self.shared_in.expire(now, SHARED_QUIET_S)
            if now - last_keep >= KEEPALIVE_S:
                last_keep = now
                for sink, _talk in list(self.outgoing.values()):
                    if sink.begun and not sink.over:
                        self.link.publish(self._mine("page"), b"K" + sink.page_id.encode())
            if now - last_hello >= HELLO_S:
                last_hello = now
                hello = json.dumps({"site": self.site, "sent": time.time()}).encode()
                self.link.publish(self._mine("hello"), hello)

    def _serve_waiting(self, now: float) -> None:
        """Start the waiting pages whose channel is free, most urgent first; refuse
        those that waited `wait_s`."""
        for incoming in sorted(self.waiting, key=lambda i: i.rank):
            if incoming not in self.waiting:
                continue
            if self._play(incoming):
                self.waiting.remove(incoming)
            elif now - incoming.since >= self.config.wait_s:
                self.waiting.remove(incoming)
                self.incoming.pop(incoming.page, None)
                self._result(incoming.page, incoming.sender, "refused", "busy")

    # ------------------------------------------------------------ health

    def health(self) -> dict[str, Any]:
        """The link's state and each site's latency, for ``/healthz``."""
        now = time.monotonic()
        return {
            "site": self.site,
            "link": "up" if self.link.up else "down",
            "since": iso_utc(self.link.since),
            "reconnects": self.link.reconnects,
            "sites": {
                site: {
                    "latency_ms": round(self.latency.get(site, 0.0) * 1000, 1),
                    "seen_s_ago": round(now - at, 1),
                }
                for site, at in sorted(self.last_hello.items())
            },
        }

    def metrics(self) -> list[tuple[str, str, str, float, str]]:
        """(name, kind, help, value, labels) for ``/metrics``."""
        counts, link = self.counts, self.link
        lines = [
            ("nats_up", "gauge", "1 if the NATS link is up.", float(link.up), ""),
            ("nats_reconnects_total", "counter", "NATS reconnects.", link.reconnects, ""),
            ("site_pages_played_total", "counter", "Remote pages played.", counts["played"], ""),
            ("site_pages_refused_total", "counter", "Remote pages refused.", counts["refused"], ""),
        ]
        for site, delay in sorted(self.latency.items()):
            help_text = "Latency from each site (seconds)."
            lines.append(("site_latency_seconds", "gauge", help_text, delay, f'{{site="{site}"}}'))
        return lines
