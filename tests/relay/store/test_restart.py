"""The issue's first must-show: a real relay killed with SIGKILL mid-page keeps its record.

Pages go through a ``polyptt relay --data DIR`` process on the namespaced loopback; the
process is killed while a long page is on the wire and started again on the same data
directory: the earlier pages are listed with the same ids, records and WAV bytes, the
cut-off one as ``interrupted`` with a WAV that holds what went out up to the last
second, and the next page gets an id never handed out before.
"""

from __future__ import annotations

import io
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from tests.support.relay import add_token, start_relay, write_config
from tests.support.relay_audio import CHIME, speech
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.protocol import TransmitPacket, parse_packet

pytestmark = pytest.mark.network


def _transmits(capture: UdpCapture, channel: int) -> int:
    """Transmit packets seen on `channel` (each carries one new frame)."""
    count = 0
    for _, datagram in capture.packets:
        packet = parse_packet(datagram)
        count += isinstance(packet, TransmitPacket) and packet.channel == channel
    return count


def test_a_relay_killed_mid_page_lists_its_pages_again_and_repairs_the_cut_one(
    tmp_path: Path,
) -> None:
    port = free_port()
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Reception", "listen,talk")
    data = tmp_path / "data"
    long_page = tmp_path / "long.wav"
    soundfile.write(long_page, np.tile(speech(4.79), 2), 16000)  # 9.6 s
    args = ["--data", str(data)]
    relay = start_relay(config, udp_port=port, args=args)
    with UdpCapture(port) as capture:
        try:
            earlier = []
            for channel in (26, 27):
                status, answer = relay.request(
                    "POST", f"/api/v1/pages?channel={channel}&wait=1", token, CHIME.read_bytes()
                )
                assert status == 200, answer
                earlier.append(answer["page"])
            _, listed = relay.request("GET", "/api/v1/pages", token)
            records = {page["id"]: page for page in listed["pages"]}
            wavs = {page_id: relay.fetch(records[page_id]["wav"], token) for page_id in earlier}
            status, answer = relay.request(
                "POST", "/api/v1/pages?channel=28", token, long_page.read_bytes()
            )
            assert status == 202, answer
            cut = answer["page"]
            deadline = time.monotonic() + 20
            while _transmits(capture, 28) < 120 and time.monotonic() < deadline:  # 3.6 s
                time.sleep(0.01)
        finally:
            assert relay.stop(signal.SIGKILL) == -signal.SIGKILL
        time.sleep(0.2)
        went_out = _transmits(capture, 28)
    assert 120 <= went_out < 300  # killed mid-page: not all of its 320 frames went out

    relay = start_relay(config, udp_port=port, args=args)
    try:
        _, listed = relay.request("GET", "/api/v1/pages", token)
        again = {page["id"]: page for page in listed["pages"]}
        assert sorted(again) == sorted([*earlier, cut])
        for page_id in earlier:
            assert again[page_id] == records[page_id]
            assert relay.fetch(again[page_id]["wav"], token) == wavs[page_id]
        interrupted = again[cut]
        assert (interrupted["end_reason"], interrupted["channel"]) == ("interrupted", 28)
        audio, rate = soundfile.read(io.BytesIO(relay.fetch(interrupted["wav"], token)))
        sent_s = went_out * interrupted["frame_ms"] / 1000
        assert rate == 16000
        assert sent_s - 1.0 <= len(audio) / rate <= sent_s
        assert interrupted["duration_s"] == pytest.approx(len(audio) / rate, abs=0.001)
        status, answer = relay.request(
            "POST", "/api/v1/pages?channel=26&wait=1", token, CHIME.read_bytes()
        )
        assert status == 200, answer
        assert answer["page"] not in again
        assert answer["page"] > cut
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
