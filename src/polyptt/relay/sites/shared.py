"""Pages heard on one site's LAN, heard at every site.

`SharedOut` listens to the relay's receiver: a page heard on a ``share`` channel is
published (start, its audio as the relay's listeners get it, end) under
``NAME.shared.SITE``. `SharedIn` gives another site's shared pages to the relay's hub
as heard pages with ``site`` (and ``source`` ``site:NAME``) in their record, so that
``listen --relay``, the web page and ``GET /api/v1/pages`` show where they were heard.
They never make a channel busy here: they are not on this LAN.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from polyptt.receive.session import Page
from polyptt.relay.sites import wire

__all__ = ["SharedIn", "SharedOut"]


class SharedOut:
    """A listener of the relay's receiver that publishes the pages of `channels`."""

    def __init__(self, channels: tuple[int, ...], publish: Callable[[bytes], None]) -> None:
        self.channels = frozenset(channels)
        self.publish = publish
        self.ids: dict[int, str] = {}

    def page_started(self, page: Page) -> None:
        if page.channel not in self.channels:
            return
        self.ids[id(page)] = page_id = wire.new_page_id()
        start = {
            "page": page_id,
            "channel": page.channel,
            "caller_id": page.caller_id,
            "serial": page.serial,
            "sent": time.time(),
        }
        self.publish(wire.control(b"S", start))

    def page_audio(self, page: Page, pcm: Any, now: float) -> None:
        page_id = self.ids.get(id(page))
        if page_id is not None:
            data = np.asarray(pcm, dtype="<i2").tobytes()
            self.publish(wire.encode_audio(page_id, page.codec.sample_rate, data))

    def page_ended(self, page: Page) -> None:
        page_id = self.ids.pop(id(page), None)
        if page_id is not None:
            codec = page.codec.name if page.codec is not None else None
            self.publish(wire.control(b"E", {"page": page_id, "codec": codec}))


class SharedIn:
    """Other sites' shared pages, told to the hub as pages heard there."""

    def __init__(self, hub: Any, site: str) -> None:
        self.hub = hub
        self.site = site
        self.open: dict[str, float] = {}

    async def on_message(self, msg: Any) -> None:
        heard = wire.from_other_site(msg, self.site)
        if heard is None:
            return
        sender, data = heard
        kind = data[:1]
        if kind == b"A":
            page_id, rate, pcm = wire.decode_audio(data)
            if page_id in self.open:
                self.open[page_id] = time.monotonic()
                self.hub.audio(("site", page_id), np.frombuffer(pcm, "<i2"), rate)
        elif kind == b"S":
            start = wire.decode_control(data)
            self.open[start["page"]] = time.monotonic()
            fields = {
                "channel": int(start["channel"]),
                "caller_id": start.get("caller_id"),
                "serial": start.get("serial"),
                "source": f"site:{sender}",
                "site": sender,
                "codec": None,
            }
            self.hub.started(("site", start["page"]), "heard", fields)
        elif kind == b"E":
            end = wire.decode_control(data)
            if self.open.pop(end["page"], None) is not None:
                fields = {"end_reason": "end_packets", "codec": end.get("codec")}
                self.hub.ended(("site", end["page"]), fields)

    def expire(self, now: float, after_s: float) -> None:
        """End the shared pages nothing came of for `after_s`."""
        for page_id, heard in list(self.open.items()):
            if now - heard > after_s:
                del self.open[page_id]
                self.hub.ended(("site", page_id), {"end_reason": "timeout"})
