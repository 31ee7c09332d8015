"""What the network does to RTP, through a real ``polyptt bridge`` (issue 22, item 3).

`RtpSender` (built on `polyptt.bridge.rtp`) sends a scripted stream 20 ms a packet: 5 %
loss, reordering within 3 packets, duplicates, a sequence and timestamp wrap, an SSRC
change mid-stream and an RTCP BYE. The audio is a steady tone at -12 dBFS, which is
never quiet, so a page catching up skips none of it: every 20 ms RTP packet is exactly
one 20 ms Poly frame, lost ones concealed, and the counts can be exact.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.support.bridge import (
    RtpSender,
    poly_counts,
    rtp_stream,
    start_mapping,
)
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.bridge.rtp import RtpPacket
from polyptt.protocol import TransmitPacket, parse_packet

pytestmark = pytest.mark.network

PACKETS = 200  # 4 s


def tone(packets: int = PACKETS) -> np.ndarray:
    t = np.arange(packets * 160) / 8000
    return np.round(0.25 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def run(
    tmp_path: Path, order: list[RtpPacket], *, bye: int | None = None
) -> tuple[list[dict[str, Any]], list[bytes]]:
    """Send `order` through a bridge (then a BYE for SSRC `bye`); its page events and
    the Poly datagrams on the wire."""
    poly_port, rtp_port = free_port(), free_port() & ~1
    bridge = start_mapping(tmp_path, poly_port, rtp_port)
    sender = RtpSender(rtp_port)
    with UdpCapture(poly_port) as wire:
        sender.send([bytes(p) for p in order])
        if bye is not None:
            sender.bye(bye)
        sender.close()
        pages = len({p.ssrc for p in order})
        events = bridge.wait_for_pages("rtp-to-poly", pages)
        datagrams = [data for _t, data in wire.wait_quiet(0.3)]
    assert bridge.stop() == 128 + signal.SIGTERM
    return events, datagrams


def check_page(datagrams: list[bytes], transmits: int, pages: int = 1) -> None:
    assert poly_counts(datagrams) == {
        "alerts": 31 * pages,
        "transmits": transmits,
        "ends": 12 * pages,
    }
    steps = set()
    previous = None
    for packet in map(parse_packet, datagrams):  # within each page's run of transmits
        count = packet.sample_count if isinstance(packet, TransmitPacket) else None
        if previous is not None and count is not None:
            steps.add((count - previous) % 2**32)
        previous = count
    assert steps == {160}  # 20 ms frames, none missing: the concealed ones are there


def test_five_percent_loss_is_concealed_packet_for_packet(tmp_path: Path) -> None:
    stream = rtp_stream(tone(), ssrc=0x1111)
    lost = set(range(10, PACKETS - 1, 20))  # 10 single losses: 5 %
    events, datagrams = run(tmp_path, [p for n, p in enumerate(stream) if n not in lost])
    (page,) = events
    assert len(lost) == PACKETS // 20
    assert (page["packets"], page["played"], page["lost"], page["concealed"]) == (190, 190, 10, 10)
    assert (page["late"], page["duplicates"], page["reordered"]) == (0, 0, 0)
    check_page(datagrams, PACKETS)


def test_reordering_within_three_packets_loses_nothing(tmp_path: Path) -> None:
    stream = rtp_stream(tone(), ssrc=0x2222)
    order = list(stream)
    for start in range(5, PACKETS - 5, 10):  # k+1, k+2, k+3 before k, then a swap
        order[start : start + 4] = [
            stream[start + 1],
            stream[start + 2],
            stream[start + 3],
            stream[start],
        ]
    events, datagrams = run(tmp_path, order)
    (page,) = events
    swaps = len(range(5, PACKETS - 5, 10))
    assert (page["packets"], page["played"], page["lost"], page["late"]) == (PACKETS, PACKETS, 0, 0)
    assert page["reordered"] == swaps
    check_page(datagrams, PACKETS)


def test_duplicates_are_dropped(tmp_path: Path) -> None:
    stream = rtp_stream(tone(), ssrc=0x3333)
    order: list[RtpPacket] = []
    for n, packet in enumerate(stream):
        order += [packet, packet] if n % 7 == 3 else [packet]
    events, datagrams = run(tmp_path, order)
    (page,) = events
    copies = len(order) - PACKETS
    assert (page["packets"], page["played"], page["duplicates"], page["lost"]) == (
        len(order),
        PACKETS,
        copies,
        0,
    )
    check_page(datagrams, PACKETS)


def test_sequence_and_timestamp_wrap_in_one_stream(tmp_path: Path) -> None:
    start_ts = 2**32 - 160 * 50  # wraps at packet 50
    stream = rtp_stream(tone(), ssrc=0x4444, seq=65536 - 100, ts=start_ts)  # seq wraps at 100
    order = [p for n, p in enumerate(stream) if n not in (51, 101)]  # a loss just after each wrap
    events, datagrams = run(tmp_path, order)
    (page,) = events
    assert (page["packets"], page["lost"], page["concealed"], page["late"]) == (
        PACKETS - 2,
        2,
        2,
        0,
    )
    check_page(datagrams, PACKETS)


def test_an_ssrc_change_mid_stream_is_a_new_page(tmp_path: Path) -> None:
    first = rtp_stream(tone(100), ssrc=0x5555)
    second = rtp_stream(tone(100), ssrc=0x6666, seq=7, ts=99)
    events, datagrams = run(tmp_path, first + second)
    assert [(e["ssrc"], e["reason"], e["transmits"]) for e in events] == [
        (0x5555, "ssrc", 100),
        (0x6666, "idle", 100),
    ]
    check_page(datagrams, 200, pages=2)
    kinds = [data[0] for data in datagrams]
    last_end_of_first = 31 + 100 + 12 - 1
    assert kinds[last_end_of_first] == 0xFF
    assert (
        kinds[last_end_of_first + 1 : last_end_of_first + 32] == [0x0F] * 31
    )  # one page after the other


def test_an_rtcp_bye_ends_the_page_before_the_stream_would_idle(tmp_path: Path) -> None:
    stream = rtp_stream(tone(100), ssrc=0x7777)
    began = time.monotonic()
    events, datagrams = run(tmp_path, stream, bye=0x7777)
    (page,) = events
    assert (page["reason"], page["transmits"], page["ends"]) == ("bye", 100, 12)
    check_page(datagrams, 100)
    assert time.monotonic() - began < 2 + 0.93 + 0.5 + 3


def test_a_bye_of_another_source_is_ignored(tmp_path: Path) -> None:
    events, _datagrams = run(tmp_path, rtp_stream(tone(50), ssrc=0x8888), bye=0x9999)
    assert [e["reason"] for e in events] == ["idle"]
