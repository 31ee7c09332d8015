"""Relays joined over NATS (issue 23), with a real ``nats-server`` and three relays.

Each site's LAN is the namespace's loopback with its own multicast port (one group,
ports apart): the three relays and the ``polyptt listen`` of each site hear only their
own port, which keeps the LANs apart as routers would (the namespace has one loopback;
veth namespaces per site would add nothing the ports do not show here). The NATS
server is Debian's, started by the fixture on 127.0.0.1 (`tests.support.nats`).
Every datagram on loopback is sniffed to count what went on each LAN.
"""

from __future__ import annotations

import asyncio
import collections
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from tests.support.listen import Listening, expected_audio, make_page_capture, start_listen
from tests.support.nats import NatsServer, nats_server  # noqa: F401 (the fixture)
from tests.support.relay import RelayProcess, add_token, start_relay, write_config
from tests.support.relay_audio import SPEECH, frames, speech, stream_realtime
from tests.support.udp_capture import WireSniffer, free_port

from polyptt.protocol import DEFAULT_GROUP, ProtocolError, parse_packet
from polyptt.relay.auth import ALL_CHANNELS, TokenStore
from polyptt.relay.config import load_config

pytestmark = pytest.mark.network

SITES = ("north", "south", "east")


@dataclass
class Site:
    name: str
    port: int
    config: Path
    relay: RelayProcess | None = None


def site_config(folder: Path, name: str, nats: str, extra: str = "") -> Path:
    text = f'site = "{name}"\n{extra}\n[nats]\nurl = "{nats}"\nname = "district"\n'
    return write_config(folder / name, text)


@pytest.fixture
def federation(tmp_path: Path, nats_server: NatsServer) -> Iterator[dict[str, Site]]:  # noqa: F811
    """Three relays, north, south and east, joined through the fixture's server; east
    shares channel 27."""
    sites: dict[str, Site] = {}
    for name in SITES:
        extra = "share = [27]" if name == "east" else ""
        sites[name] = Site(name, free_port(), site_config(tmp_path, name, nats_server.url, extra))
    try:
        for site in sites.values():
            site.relay = start_relay(site.config, udp_port=site.port)
        wait_joined(sites)
        yield sites
    finally:
        for site in sites.values():
            if site.relay is not None:
                site.relay.stop()


def health(site: Site) -> dict[str, Any]:
    assert site.relay is not None
    _status, answer = site.relay.request("GET", "/healthz")
    return answer  # type: ignore[no-any-return]


def wait_joined(sites: dict[str, Site], timeout: float = 15) -> None:
    """Until every relay's link is up and it has heard from the two others."""
    deadline = time.monotonic() + timeout
    while True:
        states = {name: health(site).get("nats", {}) for name, site in sites.items()}
        if all(
            s.get("link") == "up" and len(s.get("sites", {})) == len(sites) - 1
            for s in states.values()
        ):
            return
        assert time.monotonic() < deadline, states
        time.sleep(0.1)


def token(site: Site, name: str, sites: str | None) -> str:
    """A talk token at `site` that may page `sites` (None: its own only)."""
    store = TokenStore(load_config(site.config).tokens_path)
    granted = frozenset() if sites is None else (None if sites == "all" else frozenset(sites.split(",")))
    return store.add(name, frozenset({"talk", "listen"}), ALL_CHANNELS, frozenset(), None, granted)


def lan_packets(sniffer: WireSniffer, port: int) -> collections.Counter[str]:
    """Kinds of the paging datagrams sent to the group at `port` (one site's LAN)."""
    counts: collections.Counter[str] = collections.Counter()
    for _source, address, to_port, payload in sniffer.sent:
        if (address, to_port) != (DEFAULT_GROUP, port):
            continue
        try:
            counts[type(parse_packet(payload)).__name__] += 1
        except ProtocolError:
            continue
    return counts


def listen_at(tmp_path: Path, site: Site, *args: str) -> Listening:
    return start_listen(tmp_path / f"rec-{site.name}", "--timeout", "40", *args, port=site.port)


def reference(tmp_path: Path, port: int) -> np.ndarray:
    """The audio of SPEECH paged by one relay on its own LAN (what every site must play)."""
    capture = make_page_capture(tmp_path / "ref.pcap", channel=26, audio=SPEECH, port=port)
    return expected_audio(d for _, d in capture)[1]


def test_a_page_to_two_sites_is_played_there_and_not_at_home(
    tmp_path: Path, federation: dict[str, Site]
) -> None:
    north, south, east = (federation[n] for n in SITES)
    assert north.relay is not None
    secret = token(north, "Office", "south,east")
    listens = {s.name: listen_at(tmp_path, s, "--count", "1") for s in (south, east)}
    with WireSniffer() as sniffer:
        status, answer = north.relay.request(
            "POST", "/api/v1/pages?channel=26&sites=south,east&wait=1", secret, SPEECH.read_bytes()
        )
        for listening in listens.values():
            assert listening.wait() == 0, listening.stderr
        time.sleep(0.3)
    assert status == 200, answer
    expected = reference(tmp_path, north.port)
    for name, listening in listens.items():
        ((meta, audio),) = listening.recordings().values()
        assert (meta["channel"], meta["caller_id"], meta["end_reason"]) == (26, "Office", "end_packets")
        assert meta["frames_concealed"] == 0, name
        np.testing.assert_array_equal(audio, expected)  # the same frames: every stretch whole
    for site in (south, east):
        counts = lan_packets(sniffer, site.port)
        assert (counts["AlertPacket"], counts["EndPacket"]) == (31, 12), (site.name, counts)
        assert counts["TransmitPacket"] == answer["transmits"]
    assert lan_packets(sniffer, north.port) == {}  # nothing on north's LAN
    _status, pages = north.relay.request("GET", "/api/v1/pages", secret)
    sent = pages["pages"][0]
    assert set(sent["sites"]) == {"south", "east"}
    assert {v["state"] for v in sent["sites"].values()} == {"played"}
