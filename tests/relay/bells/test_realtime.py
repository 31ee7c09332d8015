"""On the real clock: a bell due at the next whole second rings within 50 ms of it,
measured by the kernel's arrival stamp of its first alert (``SO_TIMESTAMPNS``).

Cron has minutes, not seconds: the bells' clock is the real one shifted by whole
seconds (`ShiftedClock`), so that 08:00:00 on its wall clock is a whole second of the
real one a moment from now. Everything else is real: the relay's task sleeps until
then, and the page leaves on the loopback group.
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import pytest
from tests.relay.bells.clock import bells_relay
from tests.relay.bells.test_runner import EIGHT, MORNING
from tests.support.relay import write_config
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.protocol import AlertPacket, parse_packet

pytestmark = [pytest.mark.network, pytest.mark.exclusive]

#: How late the first alert may leave after the due second.
WITHIN_S = 0.050


class ShiftedClock:
    """The real clock, moved by `shift` seconds."""

    def __init__(self, shift: float) -> None:
        self.shift = shift

    def now(self) -> float:
        return time.time() + self.shift


def test_a_bell_rings_within_50_ms_of_its_due_second(tmp_path: Path) -> None:
    config = write_config(tmp_path / "relay", MORNING)
    port = free_port()
    due = math.ceil(time.time()) + 2  # a whole second, after the relay has started
    clock = ShiftedClock(EIGHT - due)

    async def main() -> None:
        async with bells_relay(config, port, tmp_path / "data", clock) as (_, relay):
            assert time.time() < due - 0.2, "the relay took too long to start"
            while not relay.hub.recent:
                await asyncio.sleep(0.05)
            talk = relay.talks.by_channel.get(26)
            if talk is not None:
                await talk.wait()

    with UdpCapture(port) as capture:
        asyncio.run(main())
        packets = capture.wait_for(1)
    first, data = packets[0]
    assert isinstance(parse_packet(data), AlertPacket)
    assert 0 <= first - due < WITHIN_S, f"first alert {first - due:+.4f} s after its due second"
