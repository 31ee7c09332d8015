"""The relay's events (relay/events.py): what integrations hang off, told in order with
the page's record, and never able to stop a page."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import soundfile
from tests.support.clocks import VirtualClock
from tests.support.relay import add_token, app_client, settings, write_config
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.relay.events import EVENTS, Event, Events
from polyptt.relay.state import RELAY

pytestmark = pytest.mark.network


def test_a_failing_subscriber_is_counted_and_the_others_still_hear() -> None:
    events = Events()
    heard: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("a webhook's bug")

    events.subscribe(broken)
    unsubscribe = events.subscribe(heard.append)
    payload = {"id": 7, "nested": {"a": 1}}
    events.emit("page_started", payload)
    payload["nested"]["a"] = 2  # the subscriber got a copy
    events.emit("page_ended", payload)
    unsubscribe()
    events.emit("page_ended", payload)
    assert [e.name for e in heard] == ["page_started", "page_ended"]
    assert heard[0].payload == {"id": 7, "nested": {"a": 1}}
    assert events.errors == 3
    with pytest.raises(ValueError, match="unknown event 'page_begun'"):
        events.emit("page_begun", {})
    assert "relay_started" in EVENTS


def test_a_relayed_page_tells_started_ended_and_recording_ready(tmp_path: Path) -> None:
    rate = 8000
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate) * 32767).astype(np.int16)
    wav = tmp_path / "tone.wav"
    soundfile.write(wav, tone, rate, subtype="PCM_16")
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Talker", "talk")
    port = free_port()
    heard: list[Event] = []

    async def main() -> None:
        relay_settings = settings(config, port, clock=VirtualClock(), record=tmp_path / "rec")
        async with app_client(relay_settings) as client:
            relay = client.server.app[RELAY]
            relay.events.subscribe(lambda event: 1 / 0)  # never stops the page
            relay.events.subscribe(heard.append)
            answer = await client.post(
                "/api/v1/pages?channel=27&codec=g711u&wait=1",
                data=wav.read_bytes(),
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status == 200
            assert (await answer.json())["outcome"] == "completed"

    with UdpCapture(port):
        asyncio.run(main())
    names = [e.name for e in heard]
    assert names == ["page_started", "page_ended", "recording_ready"]
    started, ended, ready = (e.payload for e in heard)
    assert started["id"] == ended["id"] == ready["id"]
    assert (started["channel"], started["caller_id"]) == (27, "Talker")
    assert started["direction"] == "sent"
    assert "end" not in started
    assert "end" in ended
    assert ready["wav"] == f"/api/v1/pages/{ready['id']}.wav"
