"""The sending side: a page addressed to other sites, as its pacer puts it out.

A page with remote sites goes through the relay's one talks path like any other page
(`polyptt.relay.talks`): the pacer paces it, its listeners hear it, its record is kept.
Its sink is a `SiteSink`: each datagram goes to the LAN first (if the relay's own site
is addressed), then the page is published: its start with the first datagram (the
other sites' alerts run with this one's), each transmit's new frame with its sequence
number, and its end with the first end packet. Publishing only queues the message for
the event loop (`publish` is thread-safe): the pacing thread never waits for NATS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from polyptt.protocol import OpCode
from polyptt.relay.sites import wire

__all__ = ["NullSink", "SiteSink"]


class NullSink:
    """The LAN of a page sent to other sites only: nothing goes on it."""

    paced = True

    def send(self, datagram: bytes, offset: float) -> None:
        """Nothing: the page is not for this site's phones."""


class SiteSink:
    """Sends through `local` and publishes the page to the other sites."""

    def __init__(
        self,
        local: Any,
        publish: Callable[[bytes], None],
        start: dict[str, Any],
        frame_bytes: int,
    ) -> None:
        self.local = local
        self.paced = local.paced
        self.publish = publish
        self.start = start
        self.page_id: str = start["page"]
        self.frame_bytes = frame_bytes
        self.seq = 0
        self.begun = False
        self.over = False

    @property
    def source(self) -> tuple[str | None, int | None]:
        """Where the LAN datagrams come from (for the receiver to ignore them)."""
        source: tuple[str | None, int | None] = getattr(self.local, "source", (None, None))
        return source

    def send(self, datagram: bytes, offset: float) -> None:
        self.local.send(datagram, offset)  # the LAN first: other sites never delay it
        kind = datagram[0]
        if not self.begun:
            self.begun = True
            self.publish(wire.control(b"S", {**self.start, "sent": time.time()}))
        if kind == OpCode.TRANSMIT:
            self.publish(wire.encode_frame(self.page_id, self.seq, datagram[-self.frame_bytes :]))
            self.seq += 1
        elif kind == OpCode.END and not self.over:
            self.over = True
            self.publish(wire.control(b"E", {"page": self.page_id, "frames": self.seq}))
