"""A Poly page as an RTP stream, packet by packet (issue 22: Poly to RTP).

A page written by ``polyptt send --pcap`` (speech twice over, 9.6 s, G.722 in 20 ms
frames) is replayed over real multicast to a ``polyptt bridge --direction poly-to-rtp``,
with two packets in a row lost so that one frame is gone for good (the receiver conceals
it). The RTP stream must be one packet per frame, concealed frame included: one SSRC
marked as a bridge's, consecutive sequence numbers, timestamps 160 apart, the marker
bit on the first packet only; and on the RTCP port a sender report after 5 s, then a
report and a BYE at the end, whose counts are the stream's.

The same holds for every RTP format and packet length, with the payload type, payload
size and timestamp step each implies: G.722's RTP clock runs at 8000 Hz over 16 kHz
audio (160 ticks and 160 bytes for 20 ms), static L16 is 44.1 kHz (882 samples, 1764
bytes), and a 30 or 40 ms packet carries one and a half or two Poly frames.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from tests.support.bridge import RTP_GROUP, start_bridge, start_mapping
from tests.support.listen import make_page_capture, replay
from tests.support.relay_audio import CHIME, SPEECH
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.bridge.rtp import Bye, RtpPacket, SenderReport, parse_rtcp
from polyptt.protocol import DEFAULT_GROUP

pytestmark = pytest.mark.network


#: --rtp-codec, --rtp-ptime, and the payload type, payload bytes and timestamp step.
FORMATS = [
    ("pcmu", 20, 0, 160, 160),
    ("pcma", 20, 8, 160, 160),
    ("g722", 20, 9, 160, 160),
    ("l16", 20, 11, 1764, 882),
    ("pcmu", 40, 0, 320, 320),
    ("g722", 30, 9, 240, 240),
]


@pytest.mark.parametrize(
    ("codec", "ptime", "payload_type", "size", "step"),
    FORMATS,
    ids=[f"{c}-{p}ms" for c, p, *_ in FORMATS],
)
def test_a_page_with_a_lost_frame_becomes_one_continuous_stream(
    tmp_path: Path, codec: str, ptime: int, payload_type: int, size: int, step: int
) -> None:
    poly_port, rtp_port = free_port(), free_port() & ~1
    twice = ["--repeat", "2", "--gap", "0"]
    page = make_page_capture(
        tmp_path / "p.pcap", frame_ms=20, port=poly_port, audio=SPEECH, extra=twice
    )
    transmits = [n for n, (_t, d) in enumerate(page) if d[0] == 0x10]
    lost = {transmits[100], transmits[101]}  # frame 100 is in no packet that arrives
    options = ["--direction", "poly-to-rtp", "--rtp-codec", codec, "--rtp-ptime", str(ptime)]
    bridge = start_mapping(tmp_path, poly_port, rtp_port, *options)
    with UdpCapture(rtp_port, RTP_GROUP) as rtp, UdpCapture(rtp_port + 1, RTP_GROUP) as rtcp:
        replay([item for n, item in enumerate(page) if n not in lost], poly_port)
        packets = [RtpPacket.parse(d) for _t, d in rtp.wait_quiet(1.0)]
        reports = [parse_rtcp(d) for _t, d in rtcp.wait_quiet(0.5)]
    assert bridge.stop() == 128 + signal.SIGTERM
    # a packet per ptime of the 20 ms frames (the concealed one too), the last one
    # completed with silence (479 frames: 239.5 packets of 40 ms, 319.33 of 30 ms)
    assert len(packets) == -(-len(transmits) * 20 // ptime)
    (ssrc,) = {p.ssrc for p in packets}
    assert ssrc >> 16 == 0xBD6E
    assert {p.payload_type for p in packets} == {payload_type}
    assert {len(p.payload) for p in packets} == {size}
    assert [p.marker for p in packets] == [True] + [False] * (len(packets) - 1)
    first = packets[0]
    for n, packet in enumerate(packets):
        assert packet.sequence == (first.sequence + n) % 2**16
        assert packet.timestamp == (first.timestamp + step * n) % 2**32
    *during, last = reports
    assert len(during) == 1  # one report 5 s into the 9.6 s stream
    (midway,) = during[0]
    assert isinstance(midway, SenderReport)
    assert midway.ssrc == ssrc
    assert abs(midway.packets * ptime - 5000) <= 100  # 5 s of packets after the first
    final, bye = last
    assert final == SenderReport(
        ssrc,
        final.ntp,
        (first.timestamp + step * len(packets)) % 2**32,
        len(packets),
        size * len(packets),
    )
    assert bye == Bye((ssrc,))
    (event,) = bridge.pages("poly-to-rtp")
    assert (event["ssrc"], event["packets"], event["reports"], event["bye"]) == (
        ssrc,
        len(packets),
        2,
        True,
    )


EMERGENCY_GROUP = "239.1.2.50"


def test_each_channel_pages_only_its_own_rtp_group(tmp_path: Path) -> None:
    """Priority: channel 50 (emergency) goes to its own RTP group, channel 26 to another,
    from one ``--config``; the two pages are on the air at once, on the same port, and
    each group hears exactly its channel's page, packet for frame."""
    poly_port, rtp_port = free_port(), free_port() & ~1
    config = tmp_path / "priority.toml"
    config.write_text(
        f"[[bridge]]\nrtp = '{EMERGENCY_GROUP}:{rtp_port}'\nchannel = 50\n"
        "direction = 'poly-to-rtp'\n\n"
        f"[[bridge]]\nrtp = '{RTP_GROUP}:{rtp_port}'\nchannel = 26\ndirection = 'poly-to-rtp'\n"
    )
    bridge = start_bridge(tmp_path, "--config", str(config), "--to", f"{DEFAULT_GROUP}:{poly_port}")
    pages = {
        channel: make_page_capture(
            tmp_path / f"c{channel}.pcap", frame_ms=20, port=poly_port, channel=channel,
            serial=0x1000 + channel, audio=audio,
        )
        for channel, audio in ((50, CHIME), (26, SPEECH))
    }  # fmt: skip
    frames = {c: sum(d[0] == 0x10 for _t, d in page) for c, page in pages.items()}
    assert frames[50] != frames[26]
    with (
        UdpCapture(rtp_port, EMERGENCY_GROUP) as emergency,
        UdpCapture(rtp_port, RTP_GROUP) as zone,
    ):
        replay(pages[50] + pages[26], poly_port)  # interleaved by time: both at once
        bridge.wait_for_pages("poly-to-rtp", 2)
        heard = {
            50: [RtpPacket.parse(d) for _t, d in emergency.wait_quiet(0.5)],
            26: [RtpPacket.parse(d) for _t, d in zone.wait_quiet(0.5)],
        }
    assert bridge.stop() == 128 + signal.SIGTERM
    events = {e["channel"]: e for e in bridge.pages("poly-to-rtp")}
    assert sorted(events) == [26, 50]
    for channel, mapping in ((50, 1), (26, 2)):
        (ssrc,) = {p.ssrc for p in heard[channel]}
        assert len(heard[channel]) == frames[channel]
        assert (events[channel]["mapping"], events[channel]["serial"]) == (
            mapping,
            0x1000 + channel,
        )
        assert (events[channel]["ssrc"], events[channel]["packets"]) == (ssrc, frames[channel])
