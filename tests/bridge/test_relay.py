"""``polyptt relay`` runs ``[[bridge]]`` mappings from its configuration (issue 22).

One service for a site: the relay carries an RTP stream to its Poly group as a page,
hears that page like any other (it is in ``GET /api/v1/pages``, under the bridge's
marked serial), and audits it; a mistake in a ``[[bridge]]`` table stops the relay
from starting, in one line.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from tests.support.bridge import RTP_GROUP, RtpSender, poly_counts, rtp_stream
from tests.support.listen import make_page_capture, replay
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.relay import (
    RELAY_SERIAL,
    add_token,
    app_client,
    audit_events,
    settings,
    start_relay,
    write_config,
)
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.bridge.marks import is_marked, marked
from polyptt.bridge.rtp import RtpPacket
from polyptt.relay.events import Event
from polyptt.relay.state import RELAY


@pytest.mark.network
def test_the_relay_carries_an_rtp_stream_to_its_poly_group(tmp_path: Path) -> None:
    poly_port, rtp_port = free_port(), free_port() & ~1
    config = write_config(
        tmp_path / "relay",
        f"[[bridge]]\nrtp = '{RTP_GROUP}:{rtp_port}'\nchannel = 27\ncaller_id = 'Yealinks'\n",
    )
    token = add_token(config, "ops", "listen")
    relay = start_relay(config, udp_port=poly_port)
    try:
        with UdpCapture(poly_port) as wire:
            sender = RtpSender(rtp_port)
            sender.send([bytes(p) for p in rtp_stream(np.full(8000, 3000, np.int16), ssrc=77)])
            sender.close()
            deadline = time.monotonic() + 15
            while not [e for e in audit_events(config) if e["event"] == "bridge_page"]:
                assert time.monotonic() < deadline, relay.stderr.read_text()
                time.sleep(0.05)
            datagrams = [data for _t, data in wire.wait_quiet(0.5)]
        _status, answer = relay.request("GET", "/api/v1/pages", token)
    finally:
        assert relay.stop(signal.SIGTERM) == 128 + signal.SIGTERM
    assert poly_counts(datagrams) == {"alerts": 31, "transmits": 50, "ends": 12}
    (page,) = answer["pages"]
    assert (page["channel"], page["caller_id"]) == (27, "Yealinks")
    assert page["serial"] == marked(RELAY_SERIAL)
    (audited,) = [e for e in audit_events(config) if e["event"] == "bridge_page"]
    assert (audited["direction"], audited["ssrc"], audited["transmits"]) == ("rtp-to-poly", 77, 50)


def test_a_bad_bridge_table_stops_the_relay_in_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path / "relay", "[[bridge]]\nrtp = '239.1.2.3:5004'\n")
    result = subprocess.run(
        polyptt_command("relay", "--config", str(config), "--bind", "127.0.0.1:8765"),
        capture_output=True,
        text=True,
        env=polyptt_env(),
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert (
        "[[bridge]] 1: channel: the Poly channel is required (1-50, page:N or ptt:N)"
        in result.stderr
    )


@pytest.mark.network
def test_a_both_ways_bridge_in_the_relay_carries_each_side_to_the_other(tmp_path: Path) -> None:
    """``direction = 'both'`` in the relay: a phone's page on channel 27 leaves as one RTP
    stream (marked SSRC, a packet per frame); an RTP stream becomes a page the relay hears
    and tells as ``page_started`` with ``"via": "bridge"`` (and the bridge's serial), and
    that page is not carried back to RTP."""
    poly_port, rtp_port = free_port(), free_port() & ~1
    config = write_config(
        tmp_path / "relay",
        f"[[bridge]]\nrtp = '{RTP_GROUP}:{rtp_port}'\nchannel = 27\ndirection = 'both'\n",
    )
    phone = make_page_capture(
        tmp_path / "phone.pcap", frame_ms=20, channel=27, serial=0x1234, port=poly_port
    )
    frames = sum(data[0] == 0x10 for _t, data in phone)
    heard: list[Event] = []

    async def main() -> list[RtpPacket]:
        async with app_client(settings(config, poly_port)) as client:
            client.server.app[RELAY].events.subscribe(heard.append)
            with UdpCapture(poly_port), UdpCapture(rtp_port, RTP_GROUP) as rtp:
                await asyncio.to_thread(replay, phone, poly_port)
                await _until(lambda: _ended(heard) == 1)
                sender = RtpSender(rtp_port)
                stream = rtp_stream(np.full(8000, 3000, np.int16), ssrc=77)
                await asyncio.to_thread(sender.send, [bytes(p) for p in stream])
                sender.close()
                await _until(lambda: _ended(heard) == 2)
                await asyncio.sleep(0.5)  # an echo of the second page would be out by now
                return [RtpPacket.parse(data) for _t, data in rtp.packets]

    on_rtp = asyncio.run(main())
    bridged = [p for p in on_rtp if p.ssrc != 77]
    (ssrc,) = {p.ssrc for p in bridged}  # the phone's page, and nothing of the RTP one
    assert is_marked(ssrc)
    assert len(bridged) == frames
    started = [e.payload for e in heard if e.name == "page_started"]
    assert [(p["channel"], p["serial"], p.get("via")) for p in started] == [
        (27, 0x1234, None),
        (27, marked(RELAY_SERIAL), "bridge"),
    ]


def _ended(events: list[Event]) -> int:
    return sum(e.name == "page_ended" for e in events)


async def _until(done: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
