"""Sites in the other ways of paging (issue 23): a schedule with ``sites`` rings at
another site, and an MQTT ``page/set`` with ``"sites"`` pages there; two real relays
over a real ``nats-server``, their LANs on two multicast ports of the loopback (as in
``tests/relay/test_sites.py``), and a real mosquitto for MQTT."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from tests.support.mosquitto import Mosquitto, mosquitto  # noqa: F401 (the fixture)
from tests.support.mqtt_client import watcher
from tests.support.nats import NatsServer, nats_server  # noqa: F401 (the fixture)
from tests.support.sites import Site, joined, lan_packets, site_config
from tests.support.udp_capture import WireSniffer, free_port

from polyptt.relay.auth import ALL_CHANNELS, TokenStore
from polyptt.relay.config import load_config

pytestmark = pytest.mark.network

TOPIC = "polyptt/north"


def north_extra(folder: Path, broker: Mosquitto) -> str:
    """A tone, a schedule that rings it at south, MQTT announcing on 26."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(8000) / 8000
    soundfile.write(
        folder / "tone.wav", (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("int16"), 8000
    )
    return (
        '[audio]\ntone = "tone.wav"\n'
        f'[mqtt]\nurl = "{broker.url}"\ntopic = "{TOPIC}"\nannounce_channels = [26]\n'
        '[[schedule]]\nname = "bell"\ncron = "0 0 1 1 *"\nchannel = 26\naudio = "tone.wav"\n'
        'sites = ["south"]\n'
    )


@pytest.fixture
def two_sites(
    tmp_path: Path,
    nats_server: NatsServer,  # noqa: F811
    mosquitto: Mosquitto,  # noqa: F811
) -> Iterator[dict[str, Site]]:
    sites = {
        "north": Site("north", free_port(), site_config(tmp_path, "north", nats_server.url)),
        "south": Site("south", free_port(), site_config(tmp_path, "south", nats_server.url)),
    }
    # the tables after [nats] (site_config writes it last)
    north = sites["north"].config
    north.write_text(north.read_text() + north_extra(north.parent, mosquitto))
    with joined(sites):
        yield sites


def only_at_south(sniffer: WireSniffer, sites: dict[str, Site]) -> None:
    time.sleep(0.5)  # the last end packets
    counts = lan_packets(sniffer, sites["south"].port)
    assert (counts["AlertPacket"], counts["EndPacket"]) == (31, 12), counts
    assert counts["TransmitPacket"] > 0
    assert lan_packets(sniffer, sites["north"].port) == {}


def wait_for_ends(sniffer: WireSniffer, port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while lan_packets(sniffer, port)["EndPacket"] < 12:
        assert time.monotonic() < deadline, lan_packets(sniffer, port)
        time.sleep(0.1)


def test_a_schedule_with_sites_rings_at_the_other_site(two_sites: dict[str, Site]) -> None:
    north = two_sites["north"]
    assert north.relay is not None
    store = TokenStore(load_config(north.config).tokens_path)
    secret = store.add("Admin", frozenset({"schedule", "listen"}), ALL_CHANNELS)
    with WireSniffer() as sniffer:
        status, answer = north.relay.request("POST", "/api/v1/schedules/bell/ring", secret)
        assert status == 202, answer
        wait_for_ends(sniffer, two_sites["south"].port)
        only_at_south(sniffer, two_sites)
    # a schedule made through the API pages only the sites its token may
    body = (
        b'{"name": "drill", "cron": "0 9 * * 1", "channel": 26, "say": "Drill", "sites": ["south"]}'
    )
    status, answer = north.relay.request("POST", "/api/v1/schedules", secret, body)
    assert (status, answer) == (403, {"error": "this token may not page site 'south'"})
    south = store.add("South", frozenset({"schedule"}), ALL_CHANNELS, sites=frozenset({"south"}))
    status, answer = north.relay.request("POST", "/api/v1/schedules", south, body)
    assert status == 201, answer


def test_an_mqtt_page_with_sites_pages_the_other_site(
    two_sites: dict[str, Site],
    mosquitto: Mosquitto,  # noqa: F811
) -> None:
    async def publish(payload: bytes) -> None:
        async with watcher(mosquitto.port, f"{TOPIC}/#") as client:
            await client.topic(f"{TOPIC}/status", b"online")  # the relay's link is up
            await client.client.publish(f"{TOPIC}/page/set", payload, qos=1)
            await asyncio.sleep(0.5)

    with WireSniffer() as sniffer:
        asyncio.run(publish(b'{"channel": 26, "audio": "tone", "sites": "south"}'))
        wait_for_ends(sniffer, two_sites["south"].port)
        only_at_south(sniffer, two_sites)


def test_a_spoken_page_with_sites_is_spoken_at_the_other_site(two_sites: dict[str, Site]) -> None:
    """``POST /api/v1/pages`` with a JSON body (text to speech) takes ``sites`` too."""
    north = two_sites["north"]
    assert north.relay is not None
    store = TokenStore(load_config(north.config).tokens_path)
    secret = store.add("Office", frozenset({"talk"}), ALL_CHANNELS, sites=frozenset({"south"}))
    body = b'{"channel": 26, "say": "Fire drill in five minutes", "sites": ["south"], "wait": true}'
    request = urllib.request.Request(north.relay.url + "/api/v1/pages", data=body, method="POST")
    request.add_header("Authorization", f"Bearer {secret}")
    request.add_header("Content-Type", "application/json")
    with WireSniffer() as sniffer:
        with urllib.request.urlopen(request, timeout=60) as answer:
            assert (answer.status, json.loads(answer.read())["outcome"]) == (200, "completed")
        wait_for_ends(sniffer, two_sites["south"].port)
        only_at_south(sniffer, two_sites)
