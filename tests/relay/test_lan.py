"""The relay and the pages it hears on the LAN, with a real ``polyptt relay`` process.

A page heard on the LAN makes its channel busy for the relay's clients as it does for
``polyptt loop`` (`polyptt.receive.busy`): HTTP is answered 409 and a WebSocket talk
``busy``, both naming the caller, and nothing of the relay's goes on the wire (every
datagram on loopback is sniffed). A priority channel is never busy. And a page from
another polyptt on this host, under the same serial and from the same address and port,
is heard and listed: the relay ignores only the page it is sending itself.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.relay import RELAY_SERIAL, RelayProcess, add_token, start_relay, write_config
from tests.support.relay_audio import CHIME, SPEECH
from tests.support.udp_capture import WireSniffer, free_port

from polyptt.protocol import DEFAULT_GROUP, ProtocolError, parse_packet

pytestmark = pytest.mark.network


def send_process(port: int, *args: str) -> subprocess.Popen[str]:
    """``polyptt send`` to the relay's group and port, in the background."""
    return subprocess.Popen(
        polyptt_command("send", "--to", f"{DEFAULT_GROUP}:{port}", "-q", *args),
        env=polyptt_env(),
        stderr=subprocess.PIPE,
        text=True,
    )


def succeeded(sender: subprocess.Popen[str]) -> bool:
    _out, errors = sender.communicate(timeout=30)
    print(errors)
    return sender.returncode == 0


def wait_for_pages(
    relay: RelayProcess, token: str, ready: Any, timeout: float = 15
) -> list[dict[str, Any]]:
    """``GET /api/v1/pages`` until `ready(pages)` (oldest first) is true; the pages."""
    deadline = time.monotonic() + timeout
    while True:
        _status, answer = relay.request("GET", "/api/v1/pages", token)
        pages = list(reversed(answer["pages"]))
        if ready(pages):
            return pages
        assert time.monotonic() < deadline, pages
        time.sleep(0.05)


def heard_open(pages: list[dict[str, Any]]) -> set[int]:
    return {p["channel"] for p in pages if p["direction"] == "heard" and "end" not in p}


async def _ws_talk(relay: RelayProcess, token: str, channel: int) -> list[dict[str, Any]]:
    """The relay's answers to a WebSocket talk on `channel`: hello, then talking or busy."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(relay.ws_url, headers={"Authorization": f"Bearer {token}"}) as ws,
    ):
        await ws.send_json({"type": "talk", "channel": channel, "codec": "g722"})
        return [await ws.receive_json(timeout=10), await ws.receive_json(timeout=10)]


def relay_packets(sniffer: WireSniffer, port: int) -> Counter[tuple[int, str]]:
    """(channel, kind) of every datagram the relay (its serial) sent to the group."""
    counts: Counter[tuple[int, str]] = Counter()
    for _source, address, to_port, payload in sniffer.sent:
        if (address, to_port) != (DEFAULT_GROUP, port):
            continue
        try:
            packet = parse_packet(payload)
        except ProtocolError:
            continue
        if packet.serial == RELAY_SERIAL:
            counts[packet.channel, type(packet).__name__] += 1
    return counts


def test_a_lan_page_makes_its_channel_busy_for_http_and_websocket(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Reception", "listen,talk,emergency")
    relay = start_relay(config, udp_port=port)
    try:
        with WireSniffer() as sniffer:
            lan = ["--caller-id", "Holder", "--serial", "0x100", str(SPEECH)]
            holder = send_process(port, "-c", "27", *lan)
            alarm = send_process(port, "-c", "49", *lan[2:])  # the same, on a priority channel
            wait_for_pages(relay, token, lambda pages: heard_open(pages) == {27, 49})
            status, answer = relay.request(
                "POST", "/api/v1/pages?channel=27&wait=1", token, CHIME.read_bytes()
            )
            hello, busy = asyncio.run(_ws_talk(relay, token, 27))
            assert holder.poll() is None  # both refused while the LAN page went on
            # a priority channel is never busy: the relay pages over the LAN page on 49
            urgent_status, urgent = relay.request(
                "POST", "/api/v1/pages?channel=49&wait=1", token, CHIME.read_bytes()
            )
            assert succeeded(holder)
            assert succeeded(alarm)
            time.sleep(0.3)  # the last datagrams reach the sniffer
        counts = relay_packets(sniffer, port)
    finally:
        relay.stop()
    message = "channel 27 is busy (Holder is talking)"
    assert (status, answer) == (409, {"error": message, "channel": 27, "caller_id": "Holder"})
    assert hello["type"] == "hello"
    assert busy == {"type": "busy", "channel": 27, "caller_id": "Holder", "message": message}
    assert (urgent_status, urgent["outcome"]) == (200, "completed"), urgent
    # nothing of the relay's on 27; its whole page on 49
    assert counts == {
        (49, "AlertPacket"): 31,
        (49, "TransmitPacket"): urgent["transmits"],
        (49, "EndPacket"): 12,
    }


def test_a_page_from_this_host_under_the_same_serial_is_listed(tmp_path: Path) -> None:
    """The relay and ``polyptt send`` both without --serial (this host's), sending from the
    same address and port: while the relay pages on 27, the bell on 26 is heard and
    listed; the relay's own page is listed once, as sent."""
    port = free_port()
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Reception", "listen,talk")
    relay = start_relay(config, udp_port=port, serial=None)
    try:
        status, answer = relay.request(
            "POST", "/api/v1/pages?channel=27", token, SPEECH.read_bytes()
        )
        bell = send_process(port, "-c", "26", "--caller-id", "bell", str(CHIME))
        assert succeeded(bell)
        pages = wait_for_pages(
            relay, token, lambda pages: len(pages) >= 2 and all("end" in p for p in pages)
        )
    finally:
        relay.stop()
    assert status == 202, answer
    summary = [(p["direction"], p["channel"], p["caller_id"]) for p in pages]
    assert summary == [("sent", 27, "Reception"), ("heard", 26, "bell")]
    sent, heard = pages
    assert heard["serial"] == sent["serial"]  # this host's, for both
    assert heard["end_reason"] == "end_packets"
    assert heard["source"] == f"127.0.0.1:{port}"  # where the relay sends from too
