"""How soon a page's audio reaches a WebSocket listener of the relay, per message.

`follow_page` sends a real page with ``polyptt send`` (inside the test network
namespace), captures its packets on the wire (kernel receive timestamps) and, at the
same time, the relay's binary audio messages to one WebSocket listener (their arrival
times, same wall clock). `message_lags` then gives, for each 20 ms message, its arrival
minus the wire arrival of the transmit packet whose audio completed it: the delay the
relay (its receiver, decoder, resampler and framing) added to that audio. Used by
``tests/relay/test_listen_latency.py`` and ``benchmarks/relay.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.udp_capture import UdpCapture

from polyptt.protocol import DEFAULT_GROUP, TransmitPacket, parse_packet
from polyptt.relay.wire import AUDIO_HEADER, FRAME_SAMPLES, RATE

__all__ = ["FollowedPage", "follow_page", "message_lags"]


@dataclass
class FollowedPage:
    """A page as the wire and one listener saw it.

    Attributes
    ----------
    transmits : list of float
        Wire arrival of each transmit packet, in order.
    messages : list of (float, int, int)
        Arrival, frame number and audio bytes (header excluded) of each binary message.
    frame_ms : int
        Audio per transmit packet.
    audio : bytes
        The messages' PCM16LE (16 kHz) joined.
    """

    transmits: list[float]
    messages: list[tuple[float, int, int]]
    frame_ms: int
    audio: bytes


async def follow_page(
    ws_url: str, token: str, port: int, codec: str, wav: Path, frame_ms: int = 30
) -> FollowedPage:
    """Send `wav` as a page in `codec` from another serial; follow it as a listener."""
    messages: list[tuple[float, int, int]] = []
    audio: list[bytes] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(ws_url, headers=headers) as ws,
    ):
        await ws.send_json({"type": "listen"})
        while (await ws.receive_json())["type"] != "listening":
            pass
        with UdpCapture(port) as capture:
            sender = await asyncio.create_subprocess_exec(
                *polyptt_command(
                    "send",
                    "--codec",
                    codec,
                    "--frame-ms",
                    str(frame_ms),
                    "--serial",
                    "0x3000",
                    "--to",
                    f"{DEFAULT_GROUP}:{port}",
                    str(wav),
                ),
                env=polyptt_env(),
            )
            await _read_until_end(ws, messages, audio)
            assert await sender.wait() == 0
            wire = capture.wait_quiet()
    transmits = [t for t, d in wire if isinstance(parse_packet(d), TransmitPacket)]
    return FollowedPage(transmits, messages, frame_ms, b"".join(audio))


async def _read_until_end(
    ws: Any, messages: list[tuple[float, int, int]], audio: list[bytes]
) -> None:
    while True:
        message = await ws.receive(timeout=30)
        if message.type == aiohttp.WSMsgType.BINARY:
            _page, frame = AUDIO_HEADER.unpack_from(message.data)
            messages.append((time.time(), frame, len(message.data) - AUDIO_HEADER.size))
            audio.append(message.data[AUDIO_HEADER.size :])
        elif message.type == aiohttp.WSMsgType.TEXT:
            if json.loads(message.data)["type"] == "page_end":
                return
        else:
            raise AssertionError(f"the WebSocket closed: {message}")


def message_lags(page: FollowedPage) -> list[float]:
    """Each whole message's arrival minus the wire arrival of the packet completing it.

    Message ``m`` holds the page's audio up to sample ``(m + 1) * 320`` (16 kHz); packet
    ``k`` brings it up to ``(k + 1) * frame_ms * 16``. The last message (the tail, sent
    when the page ends) is left out.
    """
    per_packet = page.frame_ms * RATE // 1000
    lags = []
    for arrived, frame, size in page.messages:
        if size != FRAME_SAMPLES * 2:
            continue
        last_sample = (frame + 1) * FRAME_SAMPLES
        packet = min(len(page.transmits) - 1, -(-last_sample // per_packet) - 1)
        lags.append(arrived - page.transmits[packet])
    return lags
