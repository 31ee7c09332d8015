"""Sites (issue 23) when only one side's WAN fails, and the rules a receiving site
keeps: two real relays over a real ``nats-server``, their LANs on two multicast ports
of the loopback (as in ``tests/relay/test_sites.py``).

North reaches the server through `TcpProxy`, which the test cuts without a word to
either side (a WAN cable pulled at north): south's own link stays up, so south learns
of the cut only from north's silence.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.relay.test_sites import listen_at, wait_pages, wire_times
from tests.support.nats import NatsServer, nats_server  # noqa: F401 (the fixture)
from tests.support.relay_audio import SPEECH
from tests.support.sites import Site, joined, site_config, token
from tests.support.tcp_proxy import TcpProxy
from tests.support.udp_capture import WireSniffer, free_port

pytestmark = pytest.mark.network


@pytest.fixture
def proxy(nats_server: NatsServer) -> Iterator[TcpProxy]:  # noqa: F811
    with TcpProxy(nats_server.port) as running:
        yield running


@pytest.fixture
def cut_off(
    tmp_path: Path,
    nats_server: NatsServer,  # noqa: F811
    proxy: TcpProxy,
) -> Iterator[dict[str, Site]]:
    """North (through the proxy) and south (straight to the server), joined."""
    sites = {
        "north": Site("north", free_port(), site_config(tmp_path, "north", proxy.url)),
        "south": Site("south", free_port(), site_config(tmp_path, "south", nats_server.url)),
    }
    with joined(sites):
        yield sites


def test_north_cut_off_mid_page_south_ends_it_within_1_s(
    tmp_path: Path, cut_off: dict[str, Site], proxy: TcpProxy
) -> None:
    """South's link stays up: the page ends there because north went silent, with its
    12 end packets, the first of them within 1 s of the cut (north's last message)."""
    north, south = cut_off["north"], cut_off["south"]
    assert north.relay is not None
    secret = token(north, "Office", "south")
    watcher = token(south, "Watch", None)
    lan = listen_at(tmp_path, south, "--count", "1")
    with WireSniffer() as sniffer:
        status, _answer = north.relay.request(
            "POST", "/api/v1/pages?channel=26&sites=south&repeat=3", secret, SPEECH.read_bytes()
        )
        wait_pages(south, watcher, lambda pages: any(p.get("frames") is None for p in pages))
        time.sleep(1.5)  # the audio is under way
        cut = time.time()
        proxy.cut()
        assert lan.wait() == 0, lan.stderr
        time.sleep(0.3)
    assert status == 202
    ends = wire_times(sniffer, south.port, "EndPacket")
    transmits = wire_times(sniffer, south.port, "TransmitPacket")
    assert len(ends) == 12
    assert transmits[-1] < ends[0]
    assert ends[0] - cut < 1.0, [round(e - cut, 3) for e in ends]
    ((meta, _audio),) = lan.recordings().values()
    assert meta["end_reason"] == "end_packets"
    pages = wait_pages(south, watcher, lambda pages: pages[0].get("end_reason") is not None)
    assert [(p["via"], p["end_reason"]) for p in pages] == [("site", "vanished")]
