"""A ``say`` bell: synthesized before it is due (espeak-ng), it pages speech that is
espeak-ng's own rendering of its text after the codec (every voiced stretch correlates
above 0.9, `tests.support.speech`), with the chime first if asked."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.relay.bells.clock import SetClock, bells_relay
from tests.relay.bells.test_runner import EIGHT
from tests.support.listen import expected_audio
from tests.support.relay import write_config
from tests.support.speech import TEXT, assert_spoken
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.protocol import parse_packet

pytestmark = pytest.mark.network


@pytest.mark.parametrize("chime", [False, True], ids=["speech", "chime"])
def test_a_say_bell_pages_espeak_ngs_speech(tmp_path: Path, chime: bool) -> None:
    config = write_config(
        tmp_path / "relay",
        f'[[schedule]]\nname = "drill"\ncron = "0 8 * * *"\ntimezone = "Europe/Berlin"\n'
        f'channel = 27\nsay = "{TEXT}"\nchime = {str(chime).lower()}\n',
    )
    port = free_port()
    clock = SetClock(EIGHT - 10)

    async def main() -> bool:
        async with bells_relay(config, port, tmp_path / "data", clock) as (_, relay):
            ready = relay.bells.get("drill").frames is not None  # before it is due
            clock.time = EIGHT
            await relay.bells.step()
            await relay.talks.by_channel[27].wait()
            return ready

    with UdpCapture(port) as capture:
        ready = asyncio.run(main())
        datagrams = [d for _, d in capture.wait_quiet(0.3, timeout=10)]
    assert ready
    assert parse_packet(datagrams[0]).channel == 27  # type: ignore[union-attr]
    assert parse_packet(datagrams[0]).caller_id == "drill"  # type: ignore[union-attr]
    _codec, audio, _frames = expected_audio(datagrams)
    assert_spoken(audio, chime=chime)
