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
import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from tests.support.listen import Listening, expected_audio, make_page_capture, start_listen
from tests.support.nats import NatsServer, nats_server  # noqa: F401 (the fixture)
from tests.support.relay_audio import SPEECH, frames, speech, stream_realtime
from tests.support.sites import (
    Site,
    health,
    joined,
    lan_packets,
    site_config,
    token,
    wait_joined,
)
from tests.support.udp_capture import WireSniffer, free_port

from polyptt.protocol import DEFAULT_GROUP, ProtocolError, parse_packet

# exclusive: three relays, nats-server and three listeners pace pages in real time; with
# four other workers on two cores a remote site's frames came later than its jitter
# buffer keeps them (120 ms of a page dropped once), which measures the load, not the code
pytestmark = [pytest.mark.network, pytest.mark.exclusive]

SITES = ("north", "south", "east")


@pytest.fixture
def federation(tmp_path: Path, nats_server: NatsServer) -> Iterator[dict[str, Site]]:  # noqa: F811
    """Three relays, north, south and east, joined through the fixture's server; east
    shares channel 27 and puts "E:" before the caller id of other sites' pages."""
    sites: dict[str, Site] = {}
    for name in SITES:
        extra, in_nats = ("share = [27]", 'caller_prefix = "E:"') if name == "east" else ("", "")
        config = site_config(tmp_path, name, nats_server.url, extra, in_nats)
        sites[name] = Site(name, free_port(), config)
    with joined(sites):
        yield sites


def listen_at(tmp_path: Path, site: Site, *args: str) -> Listening:
    tmp_path.mkdir(parents=True, exist_ok=True)
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
        caller = "E:Office" if name == "east" else "Office"  # east's prefix
        assert (meta["channel"], meta["caller_id"], meta["end_reason"]) == (
            26,
            caller,
            "end_packets",
        )
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
    # the link and each site's latency, for monitoring
    nats = health(north)["nats"]
    assert (nats["site"], nats["link"], sorted(nats["sites"])) == ("north", "up", ["east", "south"])
    assert all(0 <= s["latency_ms"] < 500 for s in nats["sites"].values()), nats
    _status, metrics = north.relay.request("GET", "/metrics", secret)
    assert "polyptt_relay_nats_up 1\n" in metrics
    assert 'polyptt_relay_site_latency_seconds{site="south"} ' in metrics


def test_a_page_to_all_sites_is_played_at_all_three(
    tmp_path: Path, federation: dict[str, Site]
) -> None:
    north = federation["north"]
    assert north.relay is not None
    secret = token(north, "Office", "all")
    listens = {s.name: listen_at(tmp_path, s, "--count", "1") for s in federation.values()}
    status, answer = north.relay.request(
        "POST", "/api/v1/pages?channel=26&sites=all&wait=1", secret, SPEECH.read_bytes()
    )
    assert status == 200, answer
    expected = reference(tmp_path, north.port)
    for name, listening in listens.items():
        assert listening.wait() == 0, (name, listening.stderr)
        ((meta, audio),) = listening.recordings().values()
        caller = "E:Office" if name == "east" else "Office"
        assert (meta["caller_id"], meta["end_reason"]) == (caller, "end_packets"), name
        np.testing.assert_array_equal(audio, expected)


async def _talk(
    site: Site, secret: str, pcm: np.ndarray, times: dict[str, float], **talk: Any
) -> list[dict[str, Any]]:
    """Talk `pcm` in real time; `times` gets when it began talking and when it stopped
    (wall clock, as the sniffer's)."""
    assert site.relay is not None
    headers = {"Authorization": f"Bearer {secret}"}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(site.relay.ws_url, headers=headers) as ws,
    ):
        await ws.send_json({"type": "talk", "channel": 26, "codec": "g722", **talk})
        events = [await ws.receive_json(), await ws.receive_json()]  # hello, talking
        times["talking"] = time.time()
        await stream_realtime(ws, frames(pcm))
        times["stop"] = time.time()
        await ws.send_json({"type": "stop"})
        events.append(await ws.receive_json(timeout=10))  # stopped
        return events


def test_a_websocket_talker_at_north_is_heard_live_at_south(
    tmp_path: Path, federation: dict[str, Site]
) -> None:
    """Every sample goes out (keep_pauses) so that the whole speech can be compared.
    Live: south's first transmit goes out while the talker still talks, about the
    alerts' second after it began (not after it stopped)."""
    north, south = federation["north"], federation["south"]
    secret = token(north, "Browser", "south")
    pcm = speech(3.0)
    lan = listen_at(tmp_path, south, "--count", "1")
    times: dict[str, float] = {}
    with WireSniffer() as sniffer:
        _hello, talking, stopped = asyncio.run(
            _talk(north, secret, pcm, times, sites=["south"], keep_pauses=True)
        )
        assert lan.wait() == 0, lan.stderr
    first = wire_times(sniffer, south.port, "TransmitPacket")[0]
    assert first < times["stop"] - 1.0, (first - times["talking"], times["stop"] - first)
    assert first - times["talking"] < 2.0, first - times["talking"]
    assert (talking["type"], stopped["reason"], stopped["ends"]) == ("talking", "stop", 12)
    ((meta, audio),) = lan.recordings().values()
    assert (meta["caller_id"], meta["frame_ms"], meta["end_reason"]) == (
        "Browser",
        20,
        "end_packets",
    )
    assert meta["frames"] == stopped["frames"]
    from tests.support.audio_devices import align

    _lag, corr = align(audio, pcm[:-800])  # room for the codec's delay
    assert corr > 0.95


def test_a_token_without_south_is_refused_and_nothing_is_sent(
    tmp_path: Path, federation: dict[str, Site]
) -> None:
    north = federation["north"]
    assert north.relay is not None
    secret = token(north, "Office", "east")
    with WireSniffer() as sniffer:
        status, answer = north.relay.request(
            "POST", "/api/v1/pages?channel=26&sites=south,east&wait=1", secret, SPEECH.read_bytes()
        )
        everyone, answer_all = north.relay.request(
            "POST", "/api/v1/pages?channel=26&sites=all&wait=1", secret, SPEECH.read_bytes()
        )
        time.sleep(1.5)  # anything sent would be on some LAN by now
    assert (status, answer) == (403, {"error": "this token may not page site 'south'"})
    assert (everyone, answer_all) == (403, {"error": "this token may not page all sites"})
    for site in federation.values():
        assert lan_packets(sniffer, site.port) == {}, site.name
    _status, pages = north.relay.request("GET", "/api/v1/pages", secret)
    assert pages["pages"] == []
    for site in (federation["south"], federation["east"]):
        assert site.relay is not None
        _status, there = site.relay.request("GET", "/api/v1/pages", token(site, "Watch", None))
        assert there["pages"] == [], site.name


def wire_times(sniffer: WireSniffer, port: int, kind: str) -> list[float]:
    """When each datagram of `kind` (``EndPacket``...) went to the group at `port`."""
    import socket
    import struct

    times = []
    for when, frame in sniffer._collector.snapshot():
        header = (frame[0] & 0x0F) * 4
        to_port = struct.unpack("!H", frame[header + 2 : header + 4])[0]
        if to_port != port or socket.inet_ntoa(frame[16:20]) != DEFAULT_GROUP:
            continue
        with_kind = frame[header + 8 :]
        try:
            if type(parse_packet(with_kind)).__name__ == kind:
                times.append(when)
        except ProtocolError:
            continue
    return times


def wait_pages(site: Site, secret: str, ready: Any, timeout: float = 15) -> list[dict[str, Any]]:
    assert site.relay is not None
    deadline = time.monotonic() + timeout
    while True:
        _status, answer = site.relay.request("GET", "/api/v1/pages", secret)
        if ready(answer["pages"]):
            return answer["pages"]  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, answer
        time.sleep(0.05)


def hold_channel_26(site: Site) -> subprocess.Popen[bytes]:
    """A phone ("Holder", serial 0x300) paging the speech on channel 26 of `site`'s LAN,
    1.5 s under way: the channel is busy there."""
    from tests.support.processes import polyptt_command, polyptt_env

    holder = subprocess.Popen(
        polyptt_command(
            "send", "-q", "--to", f"{DEFAULT_GROUP}:{site.port}", "-c", "26",
            "--caller-id", "Holder", "--serial", "0x300", str(SPEECH),
        ),
        env=polyptt_env(),
    )  # fmt: skip
    time.sleep(1.5)  # the holder's page is on the LAN
    return holder


@contextlib.contextmanager
def remote_page_under_way(
    tmp_path: Path, north: Site, south: Site
) -> Iterator[tuple[WireSniffer, Listening, int, str, str]]:
    """A long page (the speech three times) posted at north for south, 1.5 s into its
    audio at south: a sniffer of every LAN, south's listener, the answer's status,
    north's token and a listening token of south's, for a test that then breaks the link."""
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
        yield sniffer, lan, status, secret, watcher


def test_nats_killed_mid_page_ends_it_at_south_and_north_pages_on(
    tmp_path: Path,
    federation: dict[str, Site],
    nats_server: NatsServer,  # noqa: F811
) -> None:
    north, south = federation["north"], federation["south"]
    assert north.relay is not None
    assert south.relay is not None
    with remote_page_under_way(tmp_path, north, south) as (sniffer, lan, status, secret, watcher):
        killed = time.time()
        nats_server.kill()
        assert lan.wait() == 0, lan.stderr
        # north pages its own LAN while the link is down
        home = listen_at(tmp_path, north, "--count", "1")
        local, local_answer = north.relay.request(
            "POST", "/api/v1/pages?channel=27&wait=1", secret, SPEECH.read_bytes()
        )
        assert home.wait() == 0, home.stderr
        assert health(north)["nats"]["link"] == "down"
        nats_server.start()
        wait_joined(federation)
        time.sleep(1.0)  # anything held back over the reconnect would come now
    assert status == 202
    ends = wire_times(sniffer, south.port, "EndPacket")
    ((meta, _audio),) = lan.recordings().values()
    assert meta["end_reason"] == "end_packets"
    assert len(ends) == 12
    assert ends[-1] - killed < 1.0, [e - killed for e in ends]
    assert (local, local_answer["outcome"], local_answer["ends"]) == (200, "completed", 12)
    ((home_meta, _),) = home.recordings().values()
    assert home_meta["channel"] == 27
    # no duplicate: the one page south played, and nothing more on its LAN
    pages = wait_pages(south, watcher, lambda pages: True)
    assert [(p["via"], p["end_reason"]) for p in pages] == [("site", "link")]
    assert len(wire_times(sniffer, south.port, "AlertPacket")) == 31
    # the federation works again
    again = listen_at(tmp_path / "again", south, "--count", "1")
    status, answer = north.relay.request(
        "POST", "/api/v1/pages?channel=26&sites=south&wait=1", secret, SPEECH.read_bytes()
    )
    assert (status, answer["outcome"]) == (200, "completed")
    assert again.wait() == 0, again.stderr
    ((meta, _),) = again.recordings().values()
    assert meta["end_reason"] == "end_packets"
    assert health(north)["nats"]["reconnects"] >= 1
    _status, sent = north.relay.request("GET", "/api/v1/pages", secret)
    reasons = [(p["channel"], p["end_reason"]) for p in reversed(sent["pages"])]
    assert reasons == [(26, "link"), (27, "completed"), (26, "completed")]


def test_a_page_shared_at_east_is_heard_at_north_labelled_east(
    tmp_path: Path, federation: dict[str, Site]
) -> None:
    """East shares channel 27: a phone's page on east's LAN reaches ``listen --relay`` at
    north, with east as its site; it is not replayed on any other LAN."""
    import json
    import subprocess

    from tests.support.processes import polyptt_command, polyptt_env

    north, east = federation["north"], federation["east"]
    assert north.relay is not None
    listener = token(north, "Hall", None)
    folder = tmp_path / "remote"
    command = polyptt_command(
        "listen",
        "--relay",
        north.relay.url,
        "--json",
        "--no-play",
        "--count",
        "1",
        "--timeout",
        "30",
        "--record",
        str(folder),
    )
    follower = subprocess.Popen(
        command,
        env={**polyptt_env(), "POLYPTT_TOKEN": listener},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # it follows the relay
    with WireSniffer() as sniffer:
        subprocess.run(
            polyptt_command(
                "send",
                "-q",
                "--to",
                f"{DEFAULT_GROUP}:{east.port}",
                "-c",
                "27",
                "--caller-id",
                "Gym",
                "--serial",
                "0x300",
                str(SPEECH),
            ),
            env=polyptt_env(),
            check=True,
            timeout=30,
        )
        _out, err = follower.communicate(timeout=30)
        time.sleep(0.3)
    assert follower.returncode == 0, err
    (recording,) = folder.glob("*.json")
    record = json.loads(recording.read_text())
    assert (record["site"], record["source"], record["caller_id"]) == ("east", "site:east", "Gym")
    assert (record["channel"], record["direction"]) == (27, "heard")
    import soundfile
    from tests.support.audio_devices import assert_speech_whole, talkspurts

    audio, rate = soundfile.read(recording.with_suffix(".wav"), dtype="int16")
    expected = reference(tmp_path, east.port)  # as a listener on east's LAN hears it
    assert rate == 16000
    assert len(talkspurts(expected, rate)) == 3
    assert_speech_whole(audio, expected, starts_within_s=1.0, rate=rate)
    for site in (north, federation["south"]):
        assert lan_packets(sniffer, site.port) == {}, site.name


def test_send_through_the_relay_to_a_site(tmp_path: Path, federation: dict[str, Site]) -> None:
    """``polyptt send --relay URL --sites east``: the remote client addresses sites too;
    ``--sites`` without ``--relay`` is a usage error (2) before anything is sent."""
    import subprocess

    from tests.support.processes import polyptt_command, polyptt_env

    north, east = federation["north"], federation["east"]
    assert north.relay is not None
    secret = token(north, "Desk", "east")
    lan = listen_at(tmp_path, east, "--count", "1")
    sent = subprocess.run(
        polyptt_command("send", "--relay", north.relay.url, "--sites", "east", "-q", str(SPEECH)),
        env={**polyptt_env(), "POLYPTT_TOKEN": secret},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    assert lan.wait() == 0, lan.stderr
    ((meta, _audio),) = lan.recordings().values()
    assert (meta["caller_id"], meta["end_reason"]) == ("E:Desk", "end_packets")
    local = subprocess.run(
        polyptt_command("send", "--sites", "east", str(SPEECH)),
        env=polyptt_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert local.returncode == 2
    assert local.stderr == "Error: --sites goes with --relay (see 'polyptt send --help')\n"


def test_a_busy_channel_delays_the_remote_page_and_the_sender_is_told(
    tmp_path: Path, federation: dict[str, Site]
) -> None:
    """South's channel 26 carries a phone's page: east plays north's page at once, south
    once the channel is free (within wait_s), every frame of it; north's record says
    when each site played it."""
    import datetime

    north, south = federation["north"], federation["south"]
    assert north.relay is not None
    secret = token(north, "Office", "south,east")
    lan = listen_at(tmp_path, south, "--count", "2")
    holder = hold_channel_26(south)
    status, answer = north.relay.request(
        "POST", "/api/v1/pages?channel=26&sites=south,east&wait=1", secret, SPEECH.read_bytes()
    )
    assert holder.wait(timeout=30) == 0
    assert status == 200, answer
    assert lan.wait() == 0, lan.stderr
    heard = sorted(lan.recordings().values(), key=lambda r: r[0]["start"])
    assert [meta["caller_id"] for meta, _ in heard] == ["Holder", "Office"]
    np.testing.assert_array_equal(heard[1][1], reference(tmp_path, north.port))
    time.sleep(0.5)  # the results reached north
    _status, pages = north.relay.request("GET", "/api/v1/pages", secret)
    sites = pages["pages"][0]["sites"]
    assert {v["state"] for v in sites.values()} == {"played"}, sites
    at = {k: datetime.datetime.fromisoformat(v["at"]) for k, v in sites.items()}
    assert (at["south"] - at["east"]).total_seconds() > 2.0  # after the holder's page


async def _shared_subjects(url: str, during: Any) -> list[str]:
    """The subjects of the shared pages' messages crossing NATS while `during` runs (in
    a thread), and for 1 s after it."""
    import nats

    nc = await nats.connect(url)
    subjects: list[str] = []

    async def heard(msg: Any) -> None:
        subjects.append(msg.subject)

    await nc.subscribe("district.shared.*", cb=heard)
    await nc.flush()
    try:
        await asyncio.to_thread(during)
        await asyncio.sleep(1.0)
        return subjects
    finally:
        await nc.close()


def test_a_page_played_for_another_site_is_never_shared_again(
    tmp_path: Path,
    federation: dict[str, Site],
    nats_server: NatsServer,  # noqa: F811
) -> None:
    """North pages east on channel 27, which east shares: east plays it on its LAN but
    never shares it (nothing under ``shared`` crosses NATS, and neither north's nor
    south's listeners hear a page from east); a phone's page on east's LAN on 27 then
    is shared (the same watch sees it: it would have seen a loop)."""
    import subprocess

    from tests.support.processes import polyptt_command, polyptt_env

    north, south, east = (federation[n] for n in SITES)
    assert north.relay is not None
    secret = token(north, "Office", "east")
    lan = listen_at(tmp_path, east, "--count", "1")
    answers: list[tuple[int, Any]] = []

    def page_east() -> None:
        answers.append(
            north.relay.request(  # type: ignore[union-attr]
                "POST", "/api/v1/pages?channel=27&sites=east&wait=1", secret, SPEECH.read_bytes()
            )
        )
        assert lan.wait() == 0, lan.stderr

    def phone_at_east() -> None:
        subprocess.run(
            polyptt_command(
                "send", "-q", "--to", f"{DEFAULT_GROUP}:{east.port}", "-c", "27",
                "--caller-id", "Gym", "--serial", "0x300", str(SPEECH),
            ),
            env=polyptt_env(),
            check=True,
            timeout=30,
        )  # fmt: skip

    with WireSniffer() as sniffer:
        looped = asyncio.run(_shared_subjects(nats_server.url, page_east))
    ((status, answer),) = answers
    assert status == 200, answer
    ((meta, _audio),) = lan.recordings().values()
    assert (meta["channel"], meta["caller_id"]) == (27, "E:Office")  # east played it
    assert lan_packets(sniffer, east.port)["AlertPacket"] == 31
    assert looped == []
    heard = {s.name: token(s, "Hall", None) for s in (north, south)}
    for site in (north, south):
        pages = wait_pages(site, heard[site.name], lambda pages: True)
        assert [p for p in pages if p.get("site") == "east"] == [], site.name
    shared = asyncio.run(_shared_subjects(nats_server.url, phone_at_east))
    assert len(shared) > 10  # a start, its audio, an end
    assert set(shared) == {"district.shared.east"}
    for site in (north, south):
        pages = wait_pages(
            site, heard[site.name], lambda pages: any(p.get("site") == "east" for p in pages)
        )
        assert [p["caller_id"] for p in pages if p.get("site") == "east"] == ["Gym"]
