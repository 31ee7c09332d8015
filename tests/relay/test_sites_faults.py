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
from tests.relay.test_sites import hold_channel_26, remote_page_under_way, wait_pages, wire_times
from tests.support.nats import NatsServer, nats_server  # noqa: F401 (the fixture)
from tests.support.relay_audio import SPEECH
from tests.support.sites import Site, joined, site_config, token
from tests.support.tcp_proxy import TcpProxy
from tests.support.udp_capture import WireSniffer, free_port

# exclusive: the end packets are timed against the cut (0.2 s to spare), as in test_sites
pytestmark = [pytest.mark.network, pytest.mark.exclusive]


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
    with remote_page_under_way(tmp_path, north, south) as (sniffer, lan, status, _, watcher):
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


async def _west(url: str, behind_s: float) -> list[dict[str, object]]:
    """A site "west" whose clock is `behind_s` behind: it says hello for 2.5 s, then
    sends two starts to south, one just now (by its clock) and one 6 s old; south's
    answers to west."""
    import asyncio
    import json

    import nats

    nc = await nats.connect(url)
    answers: list[dict[str, object]] = []

    async def answer(msg: object) -> None:
        data = json.loads(msg.data)  # type: ignore[attr-defined]
        if data.get("to") == "west":
            answers.append(data)

    await nc.subscribe("district.result.south", cb=answer)
    try:
        for _ in range(6):
            hello = {"site": "west", "sent": time.time() - behind_s}
            await nc.publish("district.hello.west", json.dumps(hello).encode())
            await asyncio.sleep(0.5)
        for page, channel, old in (("a" * 16, 26, 0.0), ("b" * 16, 27, 6.0)):
            start = {
                "page": page, "from": "west", "to": ["south"], "channel": channel,
                "codec": "g722", "frame_ms": 20, "caller_id": "West",
                "sent": time.time() - behind_s - old,
            }  # fmt: skip
            await nc.publish("district.page.west", b"S" + json.dumps(start).encode())
        await nc.flush()
        deadline = time.monotonic() + 5
        while len(answers) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return sorted(answers, key=lambda a: str(a["page"]))
    finally:
        await nc.close()


@pytest.mark.parametrize("behind_s", [0.0, 3600.0])
def test_a_start_is_stale_by_its_delay_not_by_the_senders_clock(
    tmp_path: Path,
    nats_server: NatsServer,  # noqa: F811
    behind_s: float,
) -> None:
    """South plays a start sent just now by a site whose clock is an hour behind (it
    measures west's clock by its hellos), and refuses one sent 6 s ago (> 5 s: stale)."""
    import asyncio

    south = Site("south", free_port(), site_config(tmp_path, "south", nats_server.url))
    with joined({"south": south}):
        answers = asyncio.run(_west(nats_server.url, behind_s))
    assert [(a["page"], a["state"], a.get("reason")) for a in answers] == [
        ("a" * 16, "played", None),
        ("b" * 16, "refused", "stale"),
    ]


def test_a_page_kept_waiting_past_wait_s_is_refused_and_the_sender_is_told(
    tmp_path: Path,
    nats_server: NatsServer,  # noqa: F811
) -> None:
    """South's channel 26 carries a phone's page longer than south's ``wait_s = 1``:
    north's page is refused there (nothing of it on south's LAN), and north's record
    says ``refused``, ``busy``, about a second after the page reached south."""
    import datetime

    from tests.support.sites import lan_packets

    sites = {
        "north": Site("north", free_port(), site_config(tmp_path, "north", nats_server.url)),
        "south": Site(
            "south",
            free_port(),
            site_config(tmp_path, "south", nats_server.url, in_nats="wait_s = 1"),
        ),
    }
    with joined(sites), WireSniffer() as sniffer:
        north, south = sites["north"], sites["south"]
        assert north.relay is not None
        secret = token(north, "Office", "south")
        holder = hold_channel_26(south)
        posted = datetime.datetime.now(datetime.timezone.utc)
        status, answer = north.relay.request(
            "POST", "/api/v1/pages?channel=26&sites=south&wait=1", secret, SPEECH.read_bytes()
        )
        assert holder.wait(timeout=30) == 0
        pages = wait_pages(north, secret, lambda pages: "south" in pages[0].get("sites", {}))
        time.sleep(0.5)
    assert status == 200, answer
    south_said = pages[0]["sites"]["south"]
    assert (south_said["state"], south_said["reason"]) == ("refused", "busy")
    waited = (datetime.datetime.fromisoformat(south_said["at"]) - posted).total_seconds()
    assert 0.9 < waited < 2.5, waited
    counts = lan_packets(sniffer, south.port)
    assert (counts["AlertPacket"], counts["EndPacket"]) == (31, 12)  # the holder's only
    assert lan_packets(sniffer, north.port) == {}
