"""Payload types on the wire, through a real ``polyptt bridge`` (issue 22: RTP to Poly).

The bridge takes the static types 0, 8, 9, 10 and 11 and the one dynamic type a mapping
names; anything else (here G.729, payload type 18, which it cannot decode) is counted
as ignored and starts no page. A mapping with ``payload_type = 96`` and ``rtp_codec =
'l16/16000'`` takes big-endian 16 kHz PCM on type 96: one page whose G.722 frames hold
that audio.
"""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
from tests.support.bridge import (
    RTP_GROUP,
    RtpSender,
    poly_counts,
    start_bridge,
    start_mapping,
)
from tests.support.udp_capture import UdpCapture, free_port

from polyptt import codecs
from polyptt.bridge.rtp import RtpPacket
from polyptt.protocol import DEFAULT_GROUP, TransmitPacket, parse_packet

pytestmark = pytest.mark.network


def chirp(seconds: float, rate: int) -> np.ndarray:
    """300 Hz rising to 1500 Hz at -12 dBFS: no lag but the right one lines it up."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * (300 * t + (1500 - 300) / (2 * seconds) * t**2)
    return np.round(0.25 * 32767 * np.sin(phase)).astype(np.int16)


def best_correlation(recorded: np.ndarray, reference: np.ndarray, max_lag: int) -> float:
    """The highest normalised correlation of `reference` within `recorded` over lags 0..max_lag."""
    best = -1.0
    ref = reference.astype(np.float64)
    for lag in range(max_lag + 1):
        part = recorded[lag : lag + len(ref)].astype(np.float64)
        if len(part) < len(ref):
            break
        denominator = np.linalg.norm(part) * np.linalg.norm(ref)
        if denominator:
            best = max(best, float(part @ ref / denominator))
    return best


def test_payload_type_18_is_counted_as_ignored_and_pages_no_one(tmp_path: Path) -> None:
    poly_port, rtp_port = free_port(), free_port() & ~1
    bridge = start_mapping(tmp_path, poly_port, rtp_port)
    g729 = [RtpPacket(18, 100 + n, 160 * n, 0x1818, bytes(20), marker=n == 0) for n in range(50)]
    with UdpCapture(poly_port) as wire:
        sender = RtpSender(rtp_port)
        sender.send([bytes(p) for p in g729])
        sender.close()
        datagrams = wire.wait_quiet(1.0)  # a page would have begun at the first packet
    assert bridge.stop() == 128 + signal.SIGTERM
    assert datagrams == []
    assert bridge.pages("rtp-to-poly") == []
    (stopped,) = [e for e in bridge.events if e["event"] == "stopped"]
    (counters,) = stopped["rtp"]
    assert (counters["datagrams"], counters["ignored"], counters["streams"]) == (50, 50, 0)


def test_a_dynamic_payload_type_carries_l16_at_16_khz(tmp_path: Path) -> None:
    poly_port, rtp_port = free_port(), free_port() & ~1
    config = tmp_path / "dynamic.toml"
    config.write_text(
        f"[[bridge]]\nrtp = '{RTP_GROUP}:{rtp_port}'\nchannel = 26\n"
        "rtp_codec = 'l16/16000'\npayload_type = 96\n"
    )
    bridge = start_bridge(tmp_path, "--config", str(config), "--to", f"{DEFAULT_GROUP}:{poly_port}")
    audio = chirp(2.0, 16000)  # 100 packets of 20 ms: 320 samples, 640 bytes each
    payloads = [audio[320 * n : 320 * (n + 1)].astype(">i2").tobytes() for n in range(100)]
    stream = [
        RtpPacket(96, 7 + n, 1000 + 320 * n, 0x9696, payload, marker=n == 0)
        for n, payload in enumerate(payloads)
    ]
    with UdpCapture(poly_port) as wire:
        sender = RtpSender(rtp_port)
        sender.send([bytes(p) for p in stream])
        sender.close()
        (page,) = bridge.wait_for_pages("rtp-to-poly", 1)
        datagrams = [data for _t, data in wire.wait_quiet(0.5)]
    assert bridge.stop() == 128 + signal.SIGTERM
    assert len(bridge.pages("rtp-to-poly")) == 1
    assert (page["rtp_codec"], page["packets"], page["played"], page["ignored"]) == (
        "l16",
        100,
        100,
        0,
    )
    assert poly_counts(datagrams) == {"alerts": 31, "transmits": 100, "ends": 12}
    transmits = [p for p in map(parse_packet, datagrams) if isinstance(p, TransmitPacket)]
    assert {p.channel for p in transmits} == {26}
    heard = codecs.decode("g722", b"".join(p.audio[-160:] for p in transmits))
    assert len(heard) == len(audio)
    # G.722 delays the audio by a few dozen samples; the first and last 40 ms are left
    # out (the codec's start and the stream's flush).
    assert best_correlation(heard, audio[640:-640], 640 + 200) > 0.9
