"""What the bells' tests share: a wall clock the test sets, and a relay to run them on."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from tests.support.relay import settings

from polyptt.protocol import AlertPacket, parse_packet
from polyptt.relay import create_app
from polyptt.relay.events import Event
from polyptt.relay.state import RELAY, Relay


class SetClock:
    """Seconds since the epoch, as the test sets them (`polyptt.relay.bells.runner.WallClock`)."""

    def __init__(self, now: float) -> None:
        self.time = now

    def now(self) -> float:
        return self.time


@contextlib.asynccontextmanager
async def bells_relay(
    config: Path, port: int, data: Path, clock: Any, events: list[Event] | None = None
) -> AsyncIterator[tuple[TestClient[Any, Any], Relay]]:
    """The relay served in this loop with `clock` for its bells (set before it starts:
    its start-up looks for missed runs); `events` collects what it tells."""
    app = create_app(settings(config, port, data=data))
    relay = app[RELAY]
    relay.bells.clock = clock
    if events is not None:
        relay.events.subscribe(events.append)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, relay
    finally:
        await client.close()


def alert_callers(packets: list[tuple[float, bytes]]) -> list[str]:
    """The caller id of each alert among `packets`."""
    parsed = [parse_packet(data) for _, data in packets]
    return [p.caller_id for p in parsed if isinstance(p, AlertPacket)]
