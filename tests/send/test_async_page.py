"""One asyncio loop sends a page and hears it: the core serves live audio and asyncio.

The asyncio pacer pages over a real multicast socket while the asyncio receive driver,
in the same event loop, listens on the same host and port (as ``loop`` and the relay
do); the audio heard equals the encoded input sample for sample.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import soundfile
from tests.support.udp_capture import free_port

from polyptt import codecs, protocol
from polyptt.audio.framer import Framer
from polyptt.receive.inbound import open_sockets, parse_endpoint, serve_async
from polyptt.receive.receiver import Receiver
from polyptt.send import PageParams, send_page_async
from polyptt.transport import Destination, UdpSink

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech16k.wav"


class Heard:
    def __init__(self) -> None:
        self.audio: list[np.ndarray] = []
        self.ended: list[object] = []

    def page_started(self, page: object) -> None:
        pass

    def page_audio(self, page: object, pcm: np.ndarray, now: float) -> None:
        self.audio.append(pcm)

    def page_ended(self, page: object) -> None:
        self.ended.append(page)


@pytest.mark.network
@pytest.mark.parametrize(("codec", "frame_ms"), [("g722", 20), ("g726qi", 30)])
def test_one_loop_sends_and_hears_a_page_sample_for_sample(codec: str, frame_ms: int) -> None:
    pcm, _rate = soundfile.read(SPEECH, dtype="int16")
    pcm = pcm[: 16000 * 2]
    if codecs.info(codec).sample_rate == 8000:
        pcm = pcm[::2].copy()
    framer = Framer(codec, frame_ms)
    frames = framer.push(pcm) + framer.flush()
    expected = codecs.decode(codec, b"".join(frames))

    port = free_port()
    heard = Heard()
    receiver = Receiver([heard])
    sockets = open_sockets([parse_endpoint(f"224.0.1.116:{port}")], "127.0.0.1")
    sink = UdpSink(Destination("224.0.1.116", port), interface="127.0.0.1", ttl=0)

    async def main() -> object:
        stop = asyncio.Event()
        listening = asyncio.create_task(serve_async(sockets, receiver, stop=stop))
        params = PageParams(26, 0x0A1B2C3D, "asyncio", protocol.CodecId[codec.upper()], frame_ms)
        report = await send_page_async(frames, params, sink=sink)
        for _ in range(100):  # the end packets close the page
            if heard.ended:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await listening
        return report

    try:
        report = asyncio.run(main())
    finally:
        sink.close()
        for sock in sockets:
            sock.close()
    assert report.transmits == len(frames)
    assert len(heard.ended) == 1
    page = heard.ended[0]
    assert page.end_reason == "end_packets"
    assert page.stats.frames == len(frames)
    assert page.stats.frames_repaired == page.stats.frames_concealed == 0
    assert page.key.source[1] == port  # sent from the group's port, as phones do
    np.testing.assert_array_equal(np.concatenate(heard.audio), expected)
