"""Remote pages waiting for a busy channel at a receiving site (issue 23): the most
urgent plays first once channels free up.

`Sites` here has a stand-in for the relay's talks path (it says `Busy` for the channels
the test holds, and notes what it starts): on a real relay two channels cannot be
freed in the same 100 ms tick on purpose, which is when the order is the rule's to
decide (the busy outcomes over real relays are in ``test_sites_faults.py``).
"""

from __future__ import annotations

import time
from typing import Any

from polyptt.relay.sites.config import NatsConfig
from polyptt.relay.sites.federation import Sites
from polyptt.relay.talks import Busy


class Done:
    """A talk's task that never ends (the test needs only its callback hook)."""

    def add_done_callback(self, _callback: Any) -> None:
        return None


class Talk:
    task = Done()


class Talks:
    """Busy on `busy` channels; notes the channels of the pages it starts, in order."""

    def __init__(self) -> None:
        self.busy: set[int] = set()
        self.started: list[int] = []

    def start(self, _source: Any, *, channel: int, **_fields: Any) -> Talk:
        if channel in self.busy:
            raise Busy(f"channel {channel} is busy", channel, "Holder")
        self.started.append(channel)
        return Talk()


def start(page: str, channel: int) -> dict[str, Any]:
    return {
        "page": page, "from": "north", "to": ["south"], "channel": channel,
        "codec": "g722", "frame_ms": 20, "caller_id": "Office", "sent": time.time(),
    }  # fmt: skip


def test_two_waiting_pages_the_emergency_one_plays_first() -> None:
    """Channel 26's page came first, 50's (emergency) after: both wait while their
    channels are busy; freed together, 50 plays first."""
    talks = Talks()
    config = NatsConfig(urls=("nats://127.0.0.1:1",), wait_s=10)
    sites = Sites(object(), talks, "south", config, ())  # type: ignore[arg-type]
    talks.busy = {26, 50}
    sites._start("north", start("a" * 16, 26))
    sites._start("north", start("b" * 16, 50))
    sites._serve_waiting(time.monotonic())
    assert (talks.started, [w.page for w in sites.waiting]) == ([], ["a" * 16, "b" * 16])
    talks.busy.clear()
    sites._serve_waiting(time.monotonic())
    assert (talks.started, sites.waiting) == ([50, 26], [])
    assert sites.counts["played"] == 2
