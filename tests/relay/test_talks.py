"""The relay's own pages (relay/talks.py): each is sent as its PageParams say, on the
relay's clock."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from tests.support.clocks import VirtualClock
from tests.support.pages import split_page
from tests.support.relay import RELAY_SERIAL, add_token, app_client, settings, write_config
from tests.support.udp_capture import UdpCapture, free_port

from polyptt import protocol
from polyptt.audio.framer import Framer
from polyptt.send import page_length

pytestmark = pytest.mark.network


def test_a_posted_page_is_sent_as_its_params_say_on_the_relays_clock(tmp_path: Path) -> None:
    """2 s of audio, 3.3 s on the wire, sent in a moment on a virtual clock: whole, on the
    asked channel and codec, from the relay's serial with the token's name."""
    rate = 8000
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * rate) / rate) * 32767).astype(np.int16)
    wav = tmp_path / "tone.wav"
    soundfile.write(wav, tone, rate, subtype="PCM_16")
    framer = Framer("g711u", 30)
    expected = framer.push(tone) + framer.flush()
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Talker", "talk")
    port = free_port()
    clock = VirtualClock()

    async def main() -> dict:
        async with app_client(settings(config, port, clock=clock)) as client:
            answer = await client.post(
                "/api/v1/pages?channel=27&codec=g711u&wait=1",
                data=wav.read_bytes(),
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status == 200
            return await answer.json()

    with UdpCapture(port) as capture:
        started = time.monotonic()
        answer = asyncio.run(main())
        took = time.monotonic() - started
        datagrams = capture.wait_for(31 + len(expected) + 12, timeout=10)
    assert (answer["alerts"], answer["transmits"], answer["ends"]) == (31, len(expected), 12)
    assert answer["outcome"] == "completed"
    page = split_page(datagrams, step=240)
    assert page.frames == expected
    first = page.transmits[0][1]
    assert (first.channel, first.serial, first.caller_id) == (27, RELAY_SERIAL, "Talker")
    assert first.codec == protocol.CodecId.G711U
    assert page_length(len(expected), 30) > 3.2
    assert took < 2.0  # less than the page's length: its waits were the clock's
    assert clock.waits >= 31 + len(expected) + 12 - 1
