"""RTP and RTCP packets, byte for byte (`polyptt.bridge.rtp`)."""

from __future__ import annotations

import pytest

from polyptt.bridge.rtp import (
    Bye,
    RtpError,
    RtpPacket,
    SenderReport,
    parse_rtcp,
    seq_delta,
    ts_delta,
)

PCMU = bytes.fromhex("80001234deadbeef01020304") + b"\xff\x7f\x00\x80"


def test_a_pcmu_packet_parses_field_by_field_and_back_to_its_bytes() -> None:
    packet = RtpPacket.parse(PCMU)
    assert packet == RtpPacket(0, 0x1234, 0xDEADBEEF, 0x01020304, b"\xff\x7f\x00\x80")
    assert bytes(packet) == PCMU
    assert repr(packet) == "RtpPacket(pt=0 seq=4660 ts=3735928559 ssrc=0x01020304 4 B)"


def test_marker_csrcs_and_extension_survive_a_round_trip() -> None:
    data = bytes.fromhex(
        "9289ffff00000001bd6e0042"  # V2 X CC=2, M PT 9, seq 65535, ts 1, ssrc
        "0000000a0000000b"  # two CSRCs
        "bede0001" "10ff0000"  # one-byte header extension, one word
        "aabb"
    )  # fmt: skip
    packet = RtpPacket.parse(data)
    assert (packet.marker, packet.payload_type, packet.sequence, packet.timestamp) == (
        True,
        9,
        65535,
        1,
    )
    assert packet.csrcs == (10, 11)
    assert packet.extension == (0xBEDE, bytes.fromhex("10ff0000"))
    assert packet.payload == b"\xaa\xbb"
    assert bytes(packet) == data


def test_padding_is_taken_off_the_payload() -> None:
    data = bytes.fromhex("a000000100000002000000031122" "000003")  # fmt: skip
    packet = RtpPacket.parse(data)
    assert packet.payload == b"\x11\x22"
    assert bytes(packet) == b"\x80" + data[1:-3]  # written without padding (nor its bit)


@pytest.mark.parametrize("size", range(12))
def test_every_truncated_header_is_refused_with_one_error(size: int) -> None:
    with pytest.raises(RtpError, match=rf"^{size} bytes: shorter than an RTP header \(12\)$"):
        RtpPacket.parse(PCMU[:size])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes.fromhex("40001234deadbeef01020304"), "RTP version 1, not 2"),
        (bytes.fromhex("80c8000600000001" + "00" * 4), "an RTCP packet, not RTP"),
        (bytes.fromhex("81001234deadbeef01020304"), "the CSRC list runs past the packet"),
        (
            bytes.fromhex("90001234deadbeef01020304bede"),
            "the header extension runs past the packet",
        ),
        (
            bytes.fromhex("90001234deadbeef01020304bede0002000000"),
            "the header extension runs past the packet",
        ),
        (bytes.fromhex("a0001234deadbeef0102030400"), "padding of 0 bytes does not fit"),
        (bytes.fromhex("a0001234deadbeef0102030420"), "padding of 32 bytes does not fit"),
    ],
)
def test_malformed_packets_say_why(data: bytes, message: str) -> None:
    with pytest.raises(RtpError, match=f"^{message}$"):
        RtpPacket.parse(data)


def test_a_sender_report_is_the_rfc_layout() -> None:
    report = SenderReport(0xBD6E1234, (3_900_000_000 << 32) | 0x80000000, 0x11223344, 250, 40000)
    assert bytes(report) == bytes.fromhex(
        "80c80006" "bd6e1234" "e8754700" "80000000" "11223344" "000000fa" "00009c40"
    )  # fmt: skip
    assert parse_rtcp(bytes(report)) == [report]


def test_a_bye_with_and_without_a_reason() -> None:
    assert bytes(Bye((0x01020304,))) == bytes.fromhex("81cb000101020304")
    assert bytes(Bye((1,), "bye")) == bytes.fromhex("81cb00020000000103627965")
    assert parse_rtcp(bytes.fromhex("81cb00020000000103627965")) == [Bye((1,), "bye")]


def test_a_compound_datagram_yields_its_sr_and_bye_and_skips_the_rest() -> None:
    receiver_report = bytes.fromhex("80c9000100000007")
    sdes = bytes.fromhex("81ca0003000000070103616263000000")  # CNAME "abc"
    report = SenderReport(7, 1 << 32, 2, 3, 4)
    data = receiver_report + sdes + bytes(report) + bytes(Bye((7, 8)))
    assert parse_rtcp(data) == [report, Bye((7, 8))]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80", "1 bytes: shorter than an RTCP header"),
        (bytes.fromhex("80c80006000000"), "an RTCP packet runs past the datagram"),
        (bytes.fromhex("40cb0000"), "RTCP version 1, not 2"),
        (bytes.fromhex("8000000000"), "packet type 0 is not RTCP"),
        (bytes.fromhex("83cb000100000001"), "a BYE's sources run past the packet"),
    ],
)
def test_broken_rtcp_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(RtpError, match=f"^{message}$"):
        parse_rtcp(data)


def test_distances_wrap() -> None:
    assert seq_delta(0, 65535) == 1
    assert seq_delta(65535, 0) == -1
    assert seq_delta(100, 100) == 0
    assert ts_delta(10, 0xFFFFFFF0) == 26
    assert ts_delta(0xFFFFFFF0, 10) == -26
