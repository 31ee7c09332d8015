"""The wire format, byte for byte: packets, parsing robustness, channels, ids, counts."""

from __future__ import annotations

import dataclasses
import doctest
import pickle
import random
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyptt import host, protocol
from polyptt.protocol import (
    ALERT_COUNT,
    ALERT_INTERVAL_S,
    AUDIO_HEADER_SIZE,
    CALLER_ID_SIZE,
    DEFAULT_GROUP,
    DEFAULT_PORT,
    END_COUNT,
    END_INTERVAL_S,
    END_PAUSE_S,
    HEADER_SIZE,
    SAMPLE_CLOCK_HZ,
    AlertPacket,
    CodecId,
    EndPacket,
    ErrorReason,
    Header,
    OpCode,
    Priority,
    ProtocolError,
    TransmitPacket,
    advance,
    channel_for_paging_group,
    channel_priority,
    decode_caller_id,
    distance,
    encode_caller_id,
    fit_caller_id,
    format_channel,
    is_paging,
    paging_group,
    parse_channel,
    parse_packet,
    parse_serial,
)

# A frame whose bytes all differ from their neighbours', so a wrong split shows.
FRAME_A = bytes(range(240))
FRAME_B = bytes((7 * i + 3) % 256 for i in range(240))


def assert_reason(data: bytes, reason: ErrorReason) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_packet(data)
    assert caught.value.reason is reason, str(caught.value)


# ------------------------------------------------------------------------ exact bytes


def test_constants_match_the_advisory() -> None:
    assert (DEFAULT_GROUP, DEFAULT_PORT) == ("224.0.1.116", 5001)
    assert (HEADER_SIZE, CALLER_ID_SIZE, AUDIO_HEADER_SIZE) == (20, 13, 6)
    assert SAMPLE_CLOCK_HZ == 8000
    assert (ALERT_COUNT, END_COUNT) == (31, 12)
    assert (ALERT_INTERVAL_S, END_INTERVAL_S, END_PAUSE_S) == (0.030, 0.030, 0.050)
    assert [int(op) for op in OpCode] == [0x0F, 0x10, 0xFF]
    assert [int(codec) for codec in CodecId] == [0x00, 0x09, 0xFD]


def test_alert_packet_exact_bytes() -> None:
    expected = bytes.fromhex(
        "0f"  # op: alert
        "1a"  # channel 26 = paging group 1
        "f2123456"  # serial: last 4 bytes of MAC 00:04:f2:12:34:56
        "0d"  # caller-id length: always 13
        "4c6f626279 0000000000000000"  # "Lobby", NUL-padded to 13
    )
    packet = AlertPacket(channel=26, serial=0xF2123456, caller_id="Lobby")
    assert len(expected) == 20
    assert bytes(packet) == expected
    parsed = parse_packet(expected)
    assert parsed == packet
    assert type(parsed) is AlertPacket
    assert (parsed.channel, parsed.serial, parsed.caller_id) == (26, 0xF2123456, "Lobby")
    assert parsed.header == Header(OpCode.ALERT, 26, 0xF2123456, "Lobby")
    assert AlertPacket.parse(expected) == packet


def test_end_packet_exact_bytes_with_empty_caller_id() -> None:
    expected = bytes.fromhex(
        "ff"  # op: end of transmit
        "32"  # channel 50 = emergency paging group 25
        "00000001"  # serial 1
        "0d"  # caller-id length
        "00000000000000000000000000"  # empty caller id: the phone shows its own name
    )
    packet = EndPacket(channel=50, serial=1)
    assert bytes(packet) == expected
    parsed = parse_packet(expected)
    assert parsed == packet
    assert type(parsed) is EndPacket
    assert (parsed.channel, parsed.serial, parsed.caller_id) == (50, 1, "")
    assert EndPacket.parse(expected) == packet


def test_alert_and_end_with_the_same_fields_differ() -> None:
    assert AlertPacket(1, 2, "x") != EndPacket(1, 2, "x")
    assert bytes(AlertPacket(1, 2, "x"))[1:] == bytes(EndPacket(1, 2, "x"))[1:]


def test_transmit_packet_like_the_advisory_capture() -> None:
    serial = host.serial_from_mac(0x0004F2A1B2C3)  # a Polycom OUI MAC
    assert serial == 0xF2A1B2C3
    header = bytes.fromhex(
        "10"  # op: transmit
        "1a"  # channel 26
        "f2a1b2c3"  # serial
        "0d"  # caller-id length 13
        "506f6c79636f6d2d50686f6e65"  # "Polycom-Phone": exactly 13 bytes, no NUL
        "09"  # codec: G.722
        "00"  # flags
        "6fca7bf5"  # sample count of the new frame
    )
    expected = header + FRAME_A + FRAME_B  # redundant previous frame, then the new one
    packet = TransmitPacket(
        channel=26,
        serial=serial,
        caller_id="Polycom-Phone",
        codec=CodecId.G722,
        sample_count=0x6FCA7BF5,
        audio=FRAME_A + FRAME_B,
    )
    assert len(expected) == 20 + 6 + 480
    assert bytes(packet) == expected
    parsed = parse_packet(expected)
    assert parsed == packet
    assert type(parsed) is TransmitPacket
    assert parsed.channel == 26
    assert parsed.serial == 0xF2A1B2C3
    assert parsed.caller_id == "Polycom-Phone"
    assert parsed.codec is CodecId.G722
    assert parsed.flags == 0
    assert parsed.sample_count == 0x6FCA7BF5
    assert parsed.audio == FRAME_A + FRAME_B
    assert parsed.split(240) == (FRAME_A, FRAME_B)
    assert TransmitPacket.parse(expected) == packet
    assert (
        TransmitPacket.from_frames(
            channel=26,
            serial=serial,
            caller_id="Polycom-Phone",
            codec=CodecId.G722,
            sample_count=0x6FCA7BF5,
            redundant=FRAME_A,
            frame=FRAME_B,
        )
        == packet
    )


def test_first_transmit_packet_carries_only_its_frame() -> None:
    expected = (
        bytes.fromhex(
            "10"  # transmit
            "05"  # PTT channel 5
            "0a000001"  # serial (an IPv4 address, as the Asterisk repeater uses)
            "0d"
            "416c696365 0000000000000000"  # "Alice"
            "00"  # G.711 mu-law
            "00"  # flags
            "00000000"  # sample count 0
        )
        + FRAME_A
    )
    packet = TransmitPacket.from_frames(
        channel=5, serial=0x0A000001, caller_id="Alice", codec=CodecId.G711U, sample_count=0,
        frame=FRAME_A,
    )  # fmt: skip
    assert bytes(packet) == expected
    assert parse_packet(expected) == packet
    assert packet.split(0) == (b"", FRAME_A)


def test_short_last_frame_splits_after_the_redundant_part() -> None:
    packet = TransmitPacket.from_frames(
        channel=26, serial=1, caller_id="", codec=CodecId.G722, sample_count=480,
        redundant=FRAME_A, frame=FRAME_B[:80],
    )  # fmt: skip
    parsed = parse_packet(bytes(packet))
    assert len(parsed.audio) == 320
    assert parsed.split(240) == (FRAME_A, FRAME_B[:80])


@pytest.mark.parametrize("redundant_size", [-1, 480, 481])
def test_split_leaving_no_new_frame_is_a_protocol_error(redundant_size: int) -> None:
    packet = TransmitPacket(1, 1, "", CodecId.G722, 0, FRAME_A + FRAME_B)
    with pytest.raises(ProtocolError) as caught:
        packet.split(redundant_size)
    assert caught.value.reason is ErrorReason.BAD_SPLIT


def test_asterisk_style_length_byte_is_ignored() -> None:
    data = (
        bytes.fromhex(
            "10"
            "1a"
            "c0a80105"  # serial: RTP source 192.168.1.5
            "08"  # the repeater writes len("Asterisk") ...
            "417374657269736b 0000000000"  # ... and still pads the field to 13 bytes
            "09"
            "00"
            "00000000"
        )
        + FRAME_A
    )
    parsed = parse_packet(data)
    assert parsed == TransmitPacket(26, 0xC0A80105, "Asterisk", CodecId.G722, 0, FRAME_A)
    assert parsed.audio == FRAME_A  # audio starts at offset 26, not at 7 + 8
    # Re-serialised, only the length byte changes: we always write 13.
    assert bytes(parsed) == data[:6] + b"\x0d" + data[7:]


@pytest.mark.parametrize("length_byte", [0, 1, 12, 14, 200, 255])
def test_any_length_byte_keeps_the_header_at_20_bytes(length_byte: int) -> None:
    data = bytearray(bytes(AlertPacket(30, 7, "Kitchen")))
    data[6] = length_byte
    assert parse_packet(bytes(data)) == AlertPacket(30, 7, "Kitchen")


def test_latin1_caller_id_is_decoded_leniently() -> None:
    field = "Empfang Süd".encode("latin-1").ljust(13, b"\0")  # ü is the lone byte 0xFC
    data = bytes.fromhex("0f1b00000009") + bytes([13]) + field
    parsed = parse_packet(data)
    assert parsed == AlertPacket(27, 9, "Empfang S\ufffdd")


def test_caller_id_of_invalid_bytes_is_replaced_and_cut_to_fit() -> None:
    data = bytes.fromhex("ff0100000000") + bytes([13]) + b"\xff" * 13  # no NUL at all
    parsed = parse_packet(data)
    # 13 replacement characters would take 39 bytes on the wire: the packet keeps what fits.
    assert parsed.caller_id == "\ufffd" * 4
    assert parse_packet(bytes(parsed)) == parsed


def test_caller_id_ends_at_the_first_nul() -> None:
    field = b"Bob\0garbage!!"
    data = bytes.fromhex("0f0200000003") + bytes([13]) + field
    assert parse_packet(data).caller_id == "Bob"


def test_decode_caller_id_never_raises() -> None:
    assert decode_caller_id(b"") == ""
    assert decode_caller_id(b"\0" * 13) == ""
    assert decode_caller_id("Süd".encode()) == "Süd"
    assert decode_caller_id(b"\xc3") == "\ufffd"  # a cut multi-byte sequence
    assert decode_caller_id(bytearray(b"ab\0cd")) == "ab"


def test_repr_is_compact() -> None:
    transmit = TransmitPacket(26, 0xF2A1B2C3, "Lobby", CodecId.G726QI, 0x6FCA7BF5, bytes(180))
    assert repr(transmit) == (
        "TransmitPacket(channel=26, serial=0xF2A1B2C3, caller_id='Lobby', codec=G726QI, "
        "sample_count=0x6FCA7BF5, audio=<180 bytes>)"
    )
    flagged = dataclasses.replace(transmit, flags=0x80)
    assert repr(flagged).endswith("audio=<180 bytes>, flags=0x80)")
    assert repr(EndPacket(3, 0xAB, "")) == "EndPacket(channel=3, serial=0x000000AB, caller_id='')"
    assert repr(Header(OpCode.ALERT, 1, 2, "x")) == (
        "Header(op=ALERT, channel=1, serial=0x00000002, caller_id='x')"
    )


def test_nonzero_flags_survive_the_round_trip() -> None:
    packet = TransmitPacket(49, 5, "Alarm", CodecId.G711U, 0xFFFFFFFF, b"\x7f", flags=0xA5)
    data = bytes(packet)
    assert data[21] == 0xA5
    assert parse_packet(data) == packet


def test_packets_are_frozen_and_hashable() -> None:
    packet = AlertPacket(1, 2, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        packet.channel = 3  # type: ignore[misc]
    assert len({packet, AlertPacket(1, 2, "x"), EndPacket(1, 2, "x")}) == 2


def test_parse_accepts_any_bytes_like_input() -> None:
    data = bytes(TransmitPacket(26, 1, "a", CodecId.G722, 0, FRAME_A))
    expected = parse_packet(data)
    assert parse_packet(bytearray(data)) == expected
    assert parse_packet(memoryview(data)) == expected
    assert parse_packet(memoryview(b"xx" + data)[2:]) == expected
    assert type(parse_packet(bytearray(data)).audio) is bytes


# ---------------------------------------------------------------------- construction


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channel", 0),
        ("channel", 51),
        ("channel", True),
        ("channel", 26.0),
        ("serial", -1),
        ("serial", 1 << 32),
        ("caller_id", "a\0b"),
        ("caller_id", "\udc80"),
        ("codec", 0x08),
        ("sample_count", -1),
        ("sample_count", 1 << 32),
        ("flags", 256),
        ("flags", -1),
        ("audio", b""),
    ],
)
def test_construction_validates_fields(field: str, value: object) -> None:
    fields = {
        "channel": 26,
        "serial": 1,
        "caller_id": "ok",
        "codec": CodecId.G722,
        "sample_count": 0,
        "audio": b"\x00",
        "flags": 0,
    }
    TransmitPacket(**fields)  # the baseline is valid
    fields[field] = value
    with pytest.raises(ValueError, match="(?i)" + field.replace("_", "[ _]")):
        TransmitPacket(**fields)


def test_construction_rejects_wrong_types() -> None:
    with pytest.raises(TypeError):
        TransmitPacket(1, 1, "", CodecId.G722, 0, "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        AlertPacket(1, 1, b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="OpCode"):
        Header(0x11, 1, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="frame"):
        TransmitPacket.from_frames(
            channel=1, serial=1, caller_id="", codec=CodecId.G722, sample_count=0,
            redundant=FRAME_A, frame=b"",
        )  # fmt: skip


def test_construction_converts_codec_and_audio() -> None:
    packet = TransmitPacket(1, 1, "", 0xFD, 0, bytearray(b"\x01\x02"))  # type: ignore[arg-type]
    assert packet.codec is CodecId.G726QI
    assert type(packet.audio) is bytes
    assert packet.audio == b"\x01\x02"


def test_construction_cuts_a_long_caller_id_as_the_wire_will() -> None:
    packet = AlertPacket(26, 1, "Empfangshalle-Süd")
    assert packet.caller_id == "Empfangshalle"
    assert parse_packet(bytes(packet)) == packet


# ------------------------------------------------------------------------ hypothesis

channels = st.integers(1, 50)
serials = st.integers(0, (1 << 32) - 1)
caller_ids = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"))


@st.composite
def packets(draw: st.DrawFn) -> AlertPacket | EndPacket | TransmitPacket:
    kind = draw(st.sampled_from([AlertPacket, EndPacket, TransmitPacket]))
    channel, serial, caller_id = draw(channels), draw(serials), draw(caller_ids)
    if kind is not TransmitPacket:
        return kind(channel, serial, caller_id)
    return TransmitPacket(
        channel,
        serial,
        caller_id,
        draw(st.sampled_from(CodecId)),
        draw(serials),
        draw(st.binary(min_size=1, max_size=1500)),
        draw(st.integers(0, 255)),
    )


@settings(max_examples=500, deadline=None)
@given(packets())
def test_parse_inverts_serialise(packet: AlertPacket | EndPacket | TransmitPacket) -> None:
    data = bytes(packet)
    assert parse_packet(data) == packet
    assert type(packet).parse(data) == packet
    assert len(encode_caller_id(packet.caller_id)) == CALLER_ID_SIZE
    extra = 0 if not isinstance(packet, TransmitPacket) else AUDIO_HEADER_SIZE + len(packet.audio)
    assert len(data) == HEADER_SIZE + extra
    assert data[0] == type(packet).OP
    assert data[6] == CALLER_ID_SIZE


@settings(max_examples=300, deadline=None)
@given(packets(), channels, serials)
def test_transmit_layout_slices_what_the_parser_reads(
    packet: AlertPacket | EndPacket | TransmitPacket, channel: int, serial: int
) -> None:
    """The layout for readers that slice a transmit packet themselves (the receiver's
    header prediction) says what parsing it says; the prefix tells pages apart."""
    if not isinstance(packet, TransmitPacket):
        return
    data = bytes(packet)
    prefix = data[: protocol.TRANSMIT_PREFIX_SIZE]
    assert int.from_bytes(data[protocol.TRANSMIT_COUNT], "big") == packet.sample_count
    assert data[protocol.TRANSMIT_AUDIO] == packet.audio
    assert prefix == bytes(packet.header) + bytes([packet.codec, packet.flags])
    later = dataclasses.replace(packet, sample_count=(packet.sample_count + 240) % (1 << 32))
    assert bytes(later)[: protocol.TRANSMIT_PREFIX_SIZE] == prefix
    other = dataclasses.replace(packet, channel=channel, serial=serial)
    same_page = (channel, serial) == (packet.channel, packet.serial)
    assert (bytes(other)[: protocol.TRANSMIT_PREFIX_SIZE] == prefix) == same_page


# Mostly datagrams with a plausible op code and channel, so examples get past the header.
datagrams = st.one_of(
    st.binary(max_size=64),
    st.builds(
        lambda op, channel, rest: bytes([op, channel]) + rest,
        st.sampled_from([0x0F, 0x10, 0xFF]),
        st.integers(0, 60),
        st.binary(max_size=60),
    ),
)


@settings(max_examples=500, deadline=None)
@given(datagrams)
def test_parse_is_idempotent_on_anything_it_accepts(data: bytes) -> None:
    try:
        packet = parse_packet(data)
    except ProtocolError:
        return
    assert parse_packet(bytes(packet)) == packet


# ------------------------------------------------------------------------------ fuzz


def _seed_datagrams() -> list[bytes]:
    return [
        bytes(AlertPacket(26, 0xF2A1B2C3, "Lobby")),
        bytes(EndPacket(50, 0, "")),
        bytes(TransmitPacket(26, 0xF2A1B2C3, "Süd", CodecId.G722, 0x6FCA7BF5, FRAME_A + FRAME_B)),
        bytes(TransmitPacket(1, 1, "Asterisk", CodecId.G711U, 0, FRAME_A)),
        bytes(TransmitPacket(49, 0xFFFFFFFF, "x" * 13, CodecId.G726QI, 0xFFFFFFF0, bytes(180))),
    ]


def _fuzz_datagrams(rng: random.Random, count: int) -> list[bytes]:
    seeds = _seed_datagrams()
    absurd = [0x00, 0x01, 0x0F, 0x10, 0x32, 0x33, 0x7F, 0x80, 0xFD, 0xFE, 0xFF]
    datagrams = [seed[:length] for seed in seeds for length in range(len(seed) + 1)]
    while len(datagrams) < count:
        kind = rng.randrange(5)
        if kind == 0:  # random bytes of random length
            datagrams.append(rng.randbytes(rng.randrange(1501)))
        elif kind == 1:  # random bytes behind a valid-looking op code and channel
            head = bytes([rng.choice([0x0F, 0x10, 0xFF]), rng.randrange(1, 51)])
            datagrams.append(head + rng.randbytes(rng.randrange(40)))
        elif kind == 2:  # bit flips in a real packet
            data = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            datagrams.append(bytes(data))
        elif kind == 3:  # absurd values substituted into the fields of a real packet
            data = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(min(len(data), 30))] = rng.choice(absurd)
            datagrams.append(bytes(data))
        else:  # a real packet truncated or extended
            data = rng.choice(seeds)
            cut = rng.randrange(len(data) + 1)
            datagrams.append(data[:cut] + rng.randbytes(rng.choice([0, 0, 1, 5, 1000])))
    return datagrams


def test_fuzzed_datagrams_raise_only_protocol_error() -> None:
    rng = random.Random(0x5001)
    datagrams = _fuzz_datagrams(rng, 100_000)
    assert len(datagrams) == 100_000
    accepted = 0
    reasons: dict[ErrorReason, int] = dict.fromkeys(ErrorReason, 0)
    started = time.perf_counter()
    for data in datagrams:
        try:
            packet = parse_packet(data)
        except ProtocolError as error:
            reasons[error.reason] += 1
            continue
        accepted += 1
        assert parse_packet(bytes(packet)) == packet
    elapsed = time.perf_counter() - started
    # The fuzzer reached every rejection the parser has (BAD_SPLIT and WRONG_OP belong to
    # split() and the per-type parse) and accepted a real share.
    assert {reason for reason, n in reasons.items() if n == 0} == {
        ErrorReason.BAD_SPLIT,
        ErrorReason.WRONG_OP,
    }
    assert accepted > 10_000
    assert elapsed < 10


# ------------------------------------------------------------------ truncation sweep


def test_truncated_transmit_packet_fails_with_the_exact_reason() -> None:
    data = bytes(TransmitPacket(26, 0xF2A1B2C3, "Lobby", CodecId.G722, 0x6FCA7BF5, FRAME_A))
    assert len(data) == 266
    for length in range(len(data) + 1):
        prefix = data[:length]
        if length < 20:
            assert_reason(prefix, ErrorReason.SHORT_HEADER)
        elif length < 26:
            assert_reason(prefix, ErrorReason.SHORT_AUDIO_HEADER)
        elif length == 26:
            assert_reason(prefix, ErrorReason.NO_AUDIO)
        else:
            assert parse_packet(prefix).audio == FRAME_A[: length - 26]


def test_control_packet_lengths_other_than_20_fail() -> None:
    data = bytes(AlertPacket(26, 1, "Lobby"))
    for length in range(20):
        assert_reason(data[:length], ErrorReason.SHORT_HEADER)
    for extra in (b"\x00", b"\x09\x00\x00\x00\x00\x00", FRAME_A):
        assert_reason(data + extra, ErrorReason.TRAILING_BYTES)
        assert_reason(bytes(EndPacket(26, 1)) + extra, ErrorReason.TRAILING_BYTES)


@pytest.mark.parametrize(
    ("offset", "value", "reason"),
    [
        (0, 0x00, ErrorReason.UNKNOWN_OP),
        (0, 0x11, ErrorReason.UNKNOWN_OP),
        (0, 0xFE, ErrorReason.UNKNOWN_OP),
        (1, 0, ErrorReason.BAD_CHANNEL),
        (1, 51, ErrorReason.BAD_CHANNEL),
        (1, 255, ErrorReason.BAD_CHANNEL),
        (20, 0x08, ErrorReason.UNKNOWN_CODEC),
        (20, 0xFF, ErrorReason.UNKNOWN_CODEC),
    ],
)
def test_bad_field_fails_with_the_exact_reason(
    offset: int, value: int, reason: ErrorReason
) -> None:
    data = bytearray(bytes(TransmitPacket(26, 1, "", CodecId.G722, 0, FRAME_A)))
    data[offset] = value
    assert_reason(bytes(data), reason)


def test_type_specific_parse_rejects_other_op_codes() -> None:
    alert = bytes(AlertPacket(1, 1))
    transmit = bytes(TransmitPacket(1, 1, "", CodecId.G722, 0, b"\x00"))
    for parse, data in [
        (TransmitPacket.parse, alert),
        (EndPacket.parse, alert),
        (AlertPacket.parse, transmit),
    ]:
        with pytest.raises(ProtocolError) as caught:
            parse(data)
        assert caught.value.reason is ErrorReason.WRONG_OP


def test_protocol_error_carries_reason_and_detail() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_packet(b"\x0f\x01")
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.reason is ErrorReason.SHORT_HEADER
    assert str(error) == "short header: 2 bytes, a header needs 20"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.detail) == (error.reason, error.detail)


# ---------------------------------------------------------------------- sample counts


def test_advance_wraps_modulo_2_32() -> None:
    assert advance(0, 240) == 240
    assert advance(0xFFFFFF10, 0xF0) == 0
    assert advance(0xFFFFFF10, 0x100) == 0x10
    assert advance(0x6FCA7BF5, 240) == 0x6FCA7CE5
    assert advance(5, -10) == 0xFFFFFFFB
    count = 0xFFFFFFFF - 1000
    for _ in range(10):
        count = advance(count, 240)
    assert count == (0xFFFFFFFF - 1000 + 2400) - (1 << 32)


def test_distance_is_signed_across_the_wrap() -> None:
    assert distance(0xFFFFFF10, 0x10) == 0x100
    assert distance(0x10, 0xFFFFFF10) == -0x100
    assert distance(7, 7) == 0
    assert distance(0, 0x7FFFFFFF) == 0x7FFFFFFF
    assert distance(0, 0x80000000) == -0x80000000  # half-way is "earlier", as in RTP
    assert distance(0x6FCA7BF5, advance(0x6FCA7BF5, 480)) == 480


@settings(deadline=None)
@given(serials, st.integers(-(1 << 31), (1 << 31) - 1))
def test_distance_inverts_advance(start: int, step: int) -> None:
    assert distance(start, advance(start, step)) == step


# ---------------------------------------------------------------------------- channels


@pytest.mark.parametrize(
    ("text", "channel"),
    [
        ("1", 1),
        ("26", 26),
        ("50", 50),
        ("page:1", 26),
        ("page:25", 50),
        ("PAGE:24", 49),
        ("ptt:5", 5),
        ("ptt:25", 25),
        (" page:3 ", 28),
        ("007", 7),
    ],
)
def test_parse_channel_accepts(text: str, channel: int) -> None:
    assert parse_channel(text) == channel


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "channels are 1-50"),
        ("51", "channels are 1-50"),
        ("page:0", "paging groups are 1-25"),
        ("page:26", "paging groups are 1-25"),
        ("ptt:26", "push-to-talk channels are 1-25"),
        ("ptt:0", "push-to-talk channels are 1-25"),
        ("", "expected a channel 1-50"),
        ("-3", "expected a channel 1-50"),
        ("group:1", "expected a channel 1-50"),
        ("page:", "expected a channel 1-50"),
        ("page:x", "expected a channel 1-50"),
        ("\u0662\u0666", "expected a channel 1-50"),  # Arabic-Indic "26": digits, not ASCII
        ("26.0", "expected a channel 1-50"),
    ],
)
def test_parse_channel_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_channel(text)


def test_channel_helpers_over_every_channel() -> None:
    for channel in range(1, 51):
        assert parse_channel(format_channel(channel)) == channel
        assert is_paging(channel) == (channel >= 26)
        if channel >= 26:
            assert channel_for_paging_group(paging_group(channel)) == channel
    assert format_channel(26) == "page:1"
    assert format_channel(5) == "ptt:5"
    assert [channel_priority(c) for c in (1, 23, 24, 25, 26, 48, 49, 50)] == [
        Priority.NORMAL,
        Priority.NORMAL,
        Priority.PRIORITY,
        Priority.EMERGENCY,
        Priority.NORMAL,
        Priority.NORMAL,
        Priority.PRIORITY,
        Priority.EMERGENCY,
    ]
    assert sum(channel_priority(c) is Priority.NORMAL for c in range(1, 51)) == 46
    assert max(Priority.PRIORITY, Priority.EMERGENCY, Priority.NORMAL) is Priority.EMERGENCY


def test_channel_helpers_reject_out_of_range() -> None:
    for bad in (0, 51, -1):
        for helper in (is_paging, channel_priority, format_channel):
            with pytest.raises(ValueError, match="channel"):
                helper(bad)
    with pytest.raises(ValueError, match="push-to-talk"):
        paging_group(25)
    for bad in (0, 26):
        with pytest.raises(ValueError, match="paging group"):
            channel_for_paging_group(bad)


# -------------------------------------------------------------------------- caller ids


@pytest.mark.parametrize(
    ("text", "fitted", "was_cut"),
    [
        ("", "", False),
        ("Lobby", "Lobby", False),
        ("Polycom-Phone", "Polycom-Phone", False),  # exactly 13 bytes
        ("Empfangshalle-Süd", "Empfangshalle", True),
        ("Empfangshall-Süd", "Empfangshall-", True),
        ("Lagerhalle Süd", "Lagerhalle S", True),  # ü would straddle bytes 13 and 14
        ("Büro Süd", "Büro Süd", False),  # 10 bytes
        ("ÄÄÄÄÄÄÄ", "ÄÄÄÄÄÄ", True),  # 14 bytes: the 7th Ä does not fit
        ("日本語のページ", "日本語の", True),  # 3-byte characters: 12 of 13 bytes used
        ("🔔🔔🔔🔔", "🔔🔔🔔", True),  # 4-byte characters
    ],
)
def test_fit_caller_id_cuts_at_a_character_boundary(text: str, fitted: str, was_cut: bool) -> None:
    assert fit_caller_id(text) == (fitted, was_cut)
    field = encode_caller_id(text)
    assert len(field) == 13
    assert field == fitted.encode().ljust(13, b"\0")
    assert decode_caller_id(field) == fitted


def test_caller_id_with_nul_or_surrogate_is_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        encode_caller_id("a\0b")
    with pytest.raises(ValueError, match="UTF-8"):
        fit_caller_id("\udcfc")


# ----------------------------------------------------------------------------- serials


@pytest.mark.parametrize(
    ("text", "serial"),
    [
        ("0", 0),
        ("4294967295", 0xFFFFFFFF),
        ("0xF2A1B2C3", 0xF2A1B2C3),
        ("0Xf2a1b2c3", 0xF2A1B2C3),
        ("0x0", 0),
        (" 12345 ", 12345),
        ("00012", 12),
    ],
)
def test_parse_serial_accepts(text: str, serial: int) -> None:
    assert parse_serial(text) == serial


@pytest.mark.parametrize(
    "text",
    ["", "-1", "+1", "4294967296", "0x100000000", "0x", "0o17", "0b101", "1_000", "12ab", "x12"],
)
def test_parse_serial_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="serial"):
        parse_serial(text)


def test_serial_from_mac_takes_the_last_four_bytes() -> None:
    assert host.serial_from_mac(0x0004F2123456) == 0xF2123456
    assert host.serial_from_mac(0xFFFF00000001) == 1
    for bad in (-1, 1 << 48):
        with pytest.raises(ValueError, match="MAC"):
            host.serial_from_mac(bad)


def test_serial_from_mac_default_is_32_bit_and_stable() -> None:
    serial = host.serial_from_mac()
    assert 0 <= serial < 1 << 32
    assert host.serial_from_mac() == serial


def _fake_interface(root: Path, name: str, address: str, kind: int = 1) -> None:
    (root / name).mkdir()
    (root / name / "address").write_text(address + "\n")
    (root / name / "type").write_text(f"{kind}\n")


def test_mac_from_sysfs_prefers_burnt_in_addresses(tmp_path: Path) -> None:
    _fake_interface(tmp_path, "lo", "00:00:00:00:00:00", kind=772)
    _fake_interface(tmp_path, "docker0", "02:42:ac:11:00:01")  # locally administered
    _fake_interface(tmp_path, "wlan0", "00:04:f2:aa:bb:cc")
    _fake_interface(tmp_path, "eth0", "00:04:f2:12:34:56")
    _fake_interface(tmp_path, "mcast", "01:00:5e:00:00:01")  # multicast: never a host
    _fake_interface(tmp_path, "ib0", "80:00:00:48:fe:80:00:00:00:00:00:00", kind=32)
    assert host._mac_from_sysfs(tmp_path) == 0x0004F2123456  # eth0 sorts before wlan0


def test_mac_from_sysfs_falls_back_to_local_addresses(tmp_path: Path) -> None:
    _fake_interface(tmp_path, "veth1", "6a:00:00:00:00:02")
    _fake_interface(tmp_path, "eth0", "02:fc:00:00:00:01")
    assert host._mac_from_sysfs(tmp_path) == 0x02FC00000001
    assert host._mac_from_sysfs(tmp_path / "missing") is None


def test_serial_from_mac_falls_back_to_uuid_getnode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "_mac_from_sysfs", lambda root: None)
    import uuid

    monkeypatch.setattr(uuid, "getnode", lambda: 0x0004F2ABCDEF)
    assert host.serial_from_mac() == 0xF2ABCDEF


# ------------------------------------------------------------------------------- docs


def test_docstring_examples_hold() -> None:
    result = doctest.testmod(protocol)
    assert result.attempted >= 2
    assert result.failed == 0


def test_every_public_name_is_documented() -> None:
    undocumented = [
        name
        for name in protocol.__all__
        if callable(getattr(protocol, name)) and not getattr(protocol, name).__doc__
    ]
    assert undocumented == []
