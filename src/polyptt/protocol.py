"""The Polycom / Poly / Spectralink PTT and group-paging packets, bytes in and bytes out.

Sources: Polycom Engineering Advisory 70568 and Spectralink bulletin CS-12-30 (the same
format), plus what existing senders do; docs/protocol.md has the details.
This module is pure standard library: no sockets, no clocks, no codecs, so the sender, the
receiver, the relay and the tests all agree on one definition of the wire format.

Map of the module, by purpose
-----------------------------
Packets
    `AlertPacket`, `TransmitPacket`, `EndPacket` (frozen dataclasses with ``parse`` and
    ``bytes()``), their common `Header`, and `parse_packet` which dispatches on the op
    code. Malformed datagrams raise `ProtocolError` and nothing else; its ``reason`` is an
    `ErrorReason`, so a receive loop can count drops by cause.
Channels
    `parse_channel` / `format_channel` ("26", "page:1", "ptt:5"), `is_paging`,
    `paging_group`, `channel_for_paging_group`, `channel_priority` and `Priority`.
Caller ids
    `encode_caller_id`, `fit_caller_id` (tells the CLI whether the text was cut) and the
    lenient `decode_caller_id`.
Sample counts
    `advance` and `distance`: RTP-style 32-bit timestamps that wrap.
Serials
    `parse_serial` (this host's own serial is `polyptt.host.serial_from_mac`).
Session timing
    `ALERT_COUNT`, `ALERT_INTERVAL_S`, `END_PAUSE_S`, `END_COUNT`, `END_INTERVAL_S`.

Wire format
-----------
Every datagram starts with a 20-byte header, big-endian::

    offset  size  field
    0       1     op code: 0x0F alert, 0x10 transmit, 0xFF end
    1       1     channel 1-50
    2       4     host serial (the sender's identity; lowest wins contention)
    6       1     caller-id length: written as 13, ignored when reading
    7       13    caller id, UTF-8, NUL-padded

The header is fixed at 20 bytes whatever the length byte says: the Asterisk paging
repeater writes the string length there (8 for "Asterisk") but still pads the field to 13
bytes, so a parser that trusted the length byte would misread its audio. Alert and end
packets are the header alone. A transmit packet adds::

    20      1     codec: 0x00 G.711 mu-law, 0x09 G.722, 0xFD G.726QI
    21      1     flags (0; no documented meaning, kept as read)
    22      4     sample count of the NEW frame (8 kHz clock, wraps modulo 2**32)
    26      n     audio: the previous frame again, then the new frame

The sample count runs at 8 kHz for all three codecs. For G.722 this is the RTP
convention of RFC 3551 (an 8000 Hz clock although the codec samples at 16 kHz), so a
30 ms frame advances it by 240 whatever the codec. The first transmit packet of a page
has no previous frame, and a sender may shorten the last frame, which is why the split
between the redundant and the new frame is not a property of one packet (see
`TransmitPacket.split`).

Strictness
----------
Parsing is strict about structure and lenient about text: a datagram that is short, has
an unknown op code or codec, a channel outside 1-50, a transmit packet without audio, or
an alert/end packet with bytes after the header is rejected. That last rule is a
decision: the format defines alert and end packets as the bare header, every known sender
(phones, the Asterisk repeater, the original project) sends exactly 20 bytes, and 5001
is a generic port where foreign traffic that happens to start with 0x0F or 0xFF can
arrive; rejecting it keeps a stray datagram from starting or ending a page. The
caller id, on the other hand, is display text from arbitrary senders: it is read up to
the first NUL and decoded as UTF-8 with replacement characters, never raising.

A packet object stands for its datagram: constructing one validates every field and cuts
the caller id to the 13 bytes the phones will show. So ``parse_packet(bytes(p)) == p``
for every packet ``p``, and ``bytes(parse_packet(data)) == data`` for every datagram a
conforming sender writes (not for one with a non-UTF-8 caller id or junk after the NUL).
"""

from __future__ import annotations

import enum
import functools
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

__all__ = [
    "ALERT_COUNT",
    "ALERT_INTERVAL_S",
    "AUDIO_HEADER_SIZE",
    "CALLER_ID_SIZE",
    "CHANNEL_MAX",
    "CHANNEL_MIN",
    "DEFAULT_GROUP",
    "DEFAULT_PORT",
    "END_COUNT",
    "END_INTERVAL_S",
    "END_PAUSE_S",
    "HEADER_SIZE",
    "PAGING_GROUP_MAX",
    "SAMPLE_CLOCK_HZ",
    "TRANSMIT_AUDIO",
    "TRANSMIT_COUNT",
    "TRANSMIT_PREFIX_SIZE",
    "AlertPacket",
    "CodecId",
    "EndPacket",
    "ErrorReason",
    "Header",
    "OpCode",
    "Packet",
    "Priority",
    "ProtocolError",
    "TransmitPacket",
    "advance",
    "channel_for_paging_group",
    "channel_priority",
    "decode_caller_id",
    "distance",
    "encode_caller_id",
    "fit_caller_id",
    "format_channel",
    "format_channels",
    "is_paging",
    "paging_group",
    "parse_channel",
    "parse_channels",
    "parse_packet",
    "parse_serial",
]

DEFAULT_GROUP = "224.0.1.116"
DEFAULT_PORT = 5001

HEADER_SIZE = 20
CALLER_ID_SIZE = 13
AUDIO_HEADER_SIZE = 6  # codec, flags, 4-byte sample count

CHANNEL_MIN = 1
CHANNEL_MAX = 50
_PAGING_BASE = 25  # paging group N is channel 25 + N
PAGING_GROUP_MAX = CHANNEL_MAX - _PAGING_BASE

# G.722 too: RFC 3551 keeps its RTP clock at 8 kHz although it samples at 16 kHz.
SAMPLE_CLOCK_HZ = 8000

# A page: alerts (phones chirp), transmit packets at the frame cadence, a pause, ends.
ALERT_COUNT = 31
ALERT_INTERVAL_S = 0.030
END_PAUSE_S = 0.050
END_COUNT = 12
END_INTERVAL_S = 0.030

_U32 = 1 << 32
_HALF_U32 = 1 << 31

# op, channel, serial, caller-id length, caller id
_HEADER = struct.Struct(">BBIB13s")
# codec, flags, sample count
_AUDIO_HEADER = struct.Struct(">BBI")
assert _HEADER.size == HEADER_SIZE
assert _AUDIO_HEADER.size == AUDIO_HEADER_SIZE

#: A transmit packet's layout for a reader that slices the datagram itself (the
#: receiver's header prediction, `polyptt.receive.receiver`): the first
#: `TRANSMIT_PREFIX_SIZE` bytes (header, codec, flags) stay the same all page long, then
#: `TRANSMIT_COUNT` is the big-endian sample count and `TRANSMIT_AUDIO` the audio.
TRANSMIT_PREFIX_SIZE = HEADER_SIZE + 2
TRANSMIT_COUNT = slice(TRANSMIT_PREFIX_SIZE, HEADER_SIZE + AUDIO_HEADER_SIZE)
TRANSMIT_AUDIO = slice(HEADER_SIZE + AUDIO_HEADER_SIZE, None)
assert _AUDIO_HEADER.format.endswith("I")  # the count: 4 bytes, last in the audio header


class OpCode(enum.IntEnum):
    """The first byte of every packet: what the sender is doing on the channel."""

    ALERT = 0x0F
    TRANSMIT = 0x10
    END = 0xFF


class CodecId(enum.IntEnum):
    """Wire id of the audio in a transmit packet (byte 20): the codecs phones page with.

    The one list of them: `polyptt.codecs` describes each under :attr:`codec_name`,
    and the commands offer exactly these.
    """

    G711U = 0x00
    G722 = 0x09
    G726QI = 0xFD

    @property
    def codec_name(self) -> str:
        """The codec's name in `polyptt.codecs` and on the command line (``"g722"``)."""
        return self.name.lower()


# wire byte -> member: a dict lookup, where calling the enum costs a microsecond a packet
_OP_CODES = {op.value: op for op in OpCode}
_CODEC_IDS = {codec.value: codec for codec in CodecId}


class Priority(enum.IntEnum):
    """How urgent a channel is; ordered so that ``max()`` picks the most urgent.

    A receiver playing a NORMAL broadcast ignores other NORMAL ones (first come, first
    served); PRIORITY interrupts normal broadcasts and calls unless Do-Not-Disturb;
    EMERGENCY interrupts everything at near maximum volume.
    """

    NORMAL = 0
    PRIORITY = 1
    EMERGENCY = 2

    @property
    def label(self) -> str:
        """``"normal"``, ``"priority"`` or ``"emergency"``: how reports and JSON say it."""
        return self.name.lower()


class ErrorReason(str, enum.Enum):
    """Why a datagram was rejected: the fixed vocabulary of `ProtocolError.reason`."""

    SHORT_HEADER = "short header"
    UNKNOWN_OP = "unknown op code"
    WRONG_OP = "wrong op code"
    BAD_CHANNEL = "channel out of range"
    TRAILING_BYTES = "trailing bytes"
    SHORT_AUDIO_HEADER = "short audio header"
    UNKNOWN_CODEC = "unknown codec"
    NO_AUDIO = "no audio"
    BAD_SPLIT = "bad redundant size"


class ProtocolError(ValueError):
    """A datagram that is not a valid paging packet.

    The only exception parsing raises, so a receive loop can catch it, log it at debug
    level and drop the datagram. It is a `ValueError` because the input value is wrong.

    Parameters
    ----------
    reason : ErrorReason
        The cause, from a fixed vocabulary (for counting and for tests).
    detail : str
        Human-readable specifics (lengths, offending values).
    """

    def __init__(self, reason: ErrorReason, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}"


# --------------------------------------------------------------------------- channels


def _is_int(value: object) -> bool:
    """Whether `value` is an integer; bool is not, though Python says it is."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_channel(channel: int) -> None:
    if not _is_int(channel) or not CHANNEL_MIN <= channel <= CHANNEL_MAX:
        raise ValueError(f"channel must be an integer 1-50, got {channel!r}")


def is_paging(channel: int) -> bool:
    """Whether `channel` is a paging group (one-way) rather than a PTT channel.

    Parameters
    ----------
    channel : int
        Wire channel, 1-50.

    Returns
    -------
    bool
        True for channels 26-50 (paging groups 1-25), False for 1-25 (push-to-talk).

    Raises
    ------
    ValueError
        If `channel` is outside 1-50.
    """
    _check_channel(channel)
    return channel > _PAGING_BASE


def paging_group(channel: int) -> int:
    """The paging group number a phone's menu shows for wire `channel`.

    Raises
    ------
    ValueError
        If `channel` is not a paging channel (26-50).

    See Also
    --------
    channel_for_paging_group : the inverse.
    """
    if not is_paging(channel):
        raise ValueError(f"channel {channel} is a push-to-talk channel, not a paging group")
    return channel - _PAGING_BASE


def channel_for_paging_group(group: int) -> int:
    """Wire channel of paging group `group` (1-25): channel 25 + group.

    Raises
    ------
    ValueError
        If `group` is outside 1-25.
    """
    if not _is_int(group) or not 1 <= group <= PAGING_GROUP_MAX:
        raise ValueError(f"paging group must be an integer 1-{PAGING_GROUP_MAX}, got {group!r}")
    return _PAGING_BASE + group


def channel_priority(channel: int) -> Priority:
    """The phones' default priority of `channel`.

    Channels 24 (PTT) and 49 (paging group 24) are PRIORITY, 25 and 50 are EMERGENCY,
    all others NORMAL. Administrators can change this on the phones; these are the
    defaults a sender should assume when it warns about an urgent channel.

    Raises
    ------
    ValueError
        If `channel` is outside 1-50.
    """
    _check_channel(channel)
    position = channel - _PAGING_BASE if channel > _PAGING_BASE else channel
    if position == 25:
        return Priority.EMERGENCY
    if position == 24:
        return Priority.PRIORITY
    return Priority.NORMAL


_CHANNEL_TEXT = re.compile(r"(?:(page|ptt):)?([0-9]+)", re.ASCII | re.IGNORECASE)


def parse_channel(text: str) -> int:
    """The wire channel named by command-line `text`.

    Parameters
    ----------
    text : str
        A wire channel ``"1"``-``"50"``, a paging group ``"page:1"``-``"page:25"``
        (channel 25 + N) or a push-to-talk channel ``"ptt:1"``-``"ptt:25"``.
        Case and surrounding whitespace are ignored.

    Returns
    -------
    int
        The wire channel, 1-50.

    Raises
    ------
    ValueError
        With a message naming the accepted forms, for anything else.

    See Also
    --------
    format_channel : the inverse.
    """
    match = _CHANNEL_TEXT.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"invalid channel {text!r}: expected a channel 1-50, page:N for paging group N "
            f"(1-{PAGING_GROUP_MAX}) or ptt:N for push-to-talk channel N (1-{_PAGING_BASE})"
        )
    kind, number_text = match.groups()
    number = int(number_text)
    if kind is None:
        if not CHANNEL_MIN <= number <= CHANNEL_MAX:
            raise ValueError(
                f"invalid channel {text!r}: channels are {CHANNEL_MIN}-{CHANNEL_MAX} "
                f"(1-25 push-to-talk, 26-50 paging groups 1-25)"
            )
        return number
    if kind.lower() == "page":
        if not 1 <= number <= PAGING_GROUP_MAX:
            raise ValueError(f"invalid channel {text!r}: paging groups are 1-{PAGING_GROUP_MAX}")
        return channel_for_paging_group(number)
    if not 1 <= number <= _PAGING_BASE:
        raise ValueError(f"invalid channel {text!r}: push-to-talk channels are 1-{_PAGING_BASE}")
    return number


def format_channel(channel: int) -> str:
    """`channel` as a user names it: ``"page:N"`` for paging groups, ``"ptt:N"`` otherwise.

    See Also
    --------
    parse_channel : the inverse.
    """
    if is_paging(channel):
        return f"page:{paging_group(channel)}"
    return f"ptt:{channel}"


def parse_channels(text: str) -> frozenset[int] | None:
    """``26-50,1,24`` (any notation of `parse_channel`) as a set; ``all`` is None.

    An empty list or item is an error, not "all": ``--channels "$UNSET"`` in a script must
    not silently hear (or grant) every channel.

    Raises
    ------
    ValueError
        For an empty list or item, an unknown channel or a range that runs backwards.

    See Also
    --------
    format_channels : the inverse, for a set.
    """
    if text.strip().lower() == "all":
        return None
    channels: set[int] = set()
    for item in text.split(","):
        if not item.strip():
            raise ValueError(f"{text!r} has an empty item (expected e.g. 26-50,1,24 or all)")
        first, dash, last = item.strip().partition("-")
        low = parse_channel(first)
        high = parse_channel(last) if dash else low
        if high < low:
            raise ValueError(f"channel range {item.strip()!r} runs backwards")
        channels.update(range(low, high + 1))
    return frozenset(channels)


def format_channels(channels: Iterable[int]) -> str:
    """Wire channels as ranges: ``{1, 2, 3, 26}`` is ``"1-3,26"``."""
    parts: list[str] = []
    for channel in sorted(channels):
        if parts and channel == int(parts[-1].rpartition("-")[2]) + 1:
            parts[-1] = f"{parts[-1].partition('-')[0]}-{channel}"
        else:
            parts.append(str(channel))
    return ",".join(parts)


# -------------------------------------------------------------------------- caller ids


def fit_caller_id(text: str) -> tuple[str, bool]:
    """The part of `text` that fits the 13-byte caller-id field, and whether it was cut.

    The text is cut at a code-point boundary, never inside a UTF-8 sequence (a combining
    mark can still be parted from its base letter, which phones render acceptably).

    Parameters
    ----------
    text : str
        Caller id as the user gave it.

    Returns
    -------
    fitted : str
        The text the phones will show.
    was_cut : bool
        True if `fitted` is shorter than `text` (the CLI warns).

    Raises
    ------
    ValueError
        If `text` contains NUL (it would end the field early) or cannot be encoded as
        UTF-8 (lone surrogates).
    """
    if "\0" in text:
        raise ValueError(f"caller id {text!r} contains a NUL character")
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"caller id {text!r} is not encodable as UTF-8: {error}") from None
    if len(encoded) <= CALLER_ID_SIZE:
        return text, False
    # Input was valid UTF-8, so "ignore" drops only the partial character at the cut.
    return encoded[:CALLER_ID_SIZE].decode("utf-8", "ignore"), True


def encode_caller_id(text: str) -> bytes:
    """The 13-byte caller-id field for `text`: UTF-8, cut to fit, NUL-padded.

    Raises
    ------
    ValueError
        As `fit_caller_id`.

    See Also
    --------
    fit_caller_id : tells whether the text had to be cut.
    """
    fitted, _ = fit_caller_id(text)
    return fitted.encode("utf-8").ljust(CALLER_ID_SIZE, b"\0")


def decode_caller_id(field: bytes) -> str:
    """The caller id shown for a received `field`: up to the first NUL, lenient UTF-8.

    Never raises: invalid UTF-8 (e.g. Latin-1 from old senders) becomes U+FFFD, because
    a display string from an arbitrary sender must not stop a receiver.
    """
    return bytes(field).split(b"\0", 1)[0].decode("utf-8", "replace")


# ----------------------------------------------------------------------- sample counts


def advance(count: int, step: int) -> int:
    """The sample count `step` samples after `count`, modulo 2**32.

    Examples
    --------
    >>> hex(advance(0xFFFFFF10, 0x100))
    '0x10'
    """
    return (count + step) % _U32


def distance(a: int, b: int) -> int:
    """Signed number of samples from `a` to `b` (``b - a``), across the 2**32 wrap.

    Returns
    -------
    int
        In ``[-2**31, 2**31)``: positive if `b` is later than `a`. Orders frames the way
        RTP does, so a count just after the wrap sorts after one just before it.

    Examples
    --------
    >>> distance(0xFFFFFF10, 0x10)
    256
    """
    return (b - a + _HALF_U32) % _U32 - _HALF_U32


# ---------------------------------------------------------------------------- serials


def _check_u32(name: str, value: int) -> None:
    if not _is_int(value) or not 0 <= value < _U32:
        raise ValueError(f"{name} must be a 32-bit unsigned integer, got {value!r}")


_SERIAL_TEXT = re.compile(r"0x[0-9a-f]+|[0-9]+", re.ASCII | re.IGNORECASE)


def parse_serial(text: str) -> int:
    """A host serial from command-line `text`: decimal or ``0x`` hexadecimal, 32-bit.

    Raises
    ------
    ValueError
        For other notations (octal, binary, signs, underscores) or values >= 2**32.
    """
    stripped = text.strip()
    if not _SERIAL_TEXT.fullmatch(stripped):
        raise ValueError(f"invalid serial {text!r}: expected decimal digits or 0x-hexadecimal")
    value = int(stripped, 16) if stripped[:2].lower() == "0x" else int(stripped, 10)
    if value >= _U32:
        raise ValueError(f"invalid serial {text!r}: must be below 2**32 (0xFFFFFFFF at most)")
    return value


# ---------------------------------------------------------------------------- packets


def _init_header_fields(packet: _ControlPacket | TransmitPacket | Header) -> None:
    """Validate the header fields of a new `packet` and cut its caller id to fit.

    A packet object stands for the datagram, so it holds the caller id the phones will
    show; that makes ``parse_packet(bytes(p)) == p`` true for every packet.
    """
    _check_channel(packet.channel)
    _check_u32("serial", packet.serial)
    if not isinstance(packet.caller_id, str):
        raise TypeError(f"caller_id must be str, got {type(packet.caller_id).__name__}")
    object.__setattr__(packet, "caller_id", fit_caller_id(packet.caller_id)[0])


def _repr_header_fields(packet: _ControlPacket | TransmitPacket | Header) -> str:
    return f"channel={packet.channel}, serial=0x{packet.serial:08X}, caller_id={packet.caller_id!r}"


@dataclass(frozen=True, repr=False)
class Header:
    """The 20 bytes that start every packet.

    Parameters
    ----------
    op : OpCode
        What the packet is.
    channel : int
        1-50.
    serial : int
        Sender identity, 32-bit.
    caller_id : str
        Display text, stored cut to 13 UTF-8 bytes as it goes on the wire (`fit_caller_id`).

    Raises
    ------
    ValueError
        For an unknown op code, a channel outside 1-50, a serial outside 32 bits, or a
        caller id containing NUL.
    """

    op: OpCode
    channel: int
    serial: int
    caller_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "op", OpCode(self.op))
        _init_header_fields(self)

    @classmethod
    def parse(cls, data: bytes) -> Header:
        """The header at the start of `data`; whatever follows is the packet's business.

        Raises
        ------
        ProtocolError
            SHORT_HEADER, UNKNOWN_OP or BAD_CHANNEL.
        """
        op, channel, serial, caller_id = _unpack_header(_byte_view(data))
        return _trusted(cls, op=op, channel=channel, serial=serial, caller_id=caller_id)

    def __bytes__(self) -> bytes:
        return _HEADER.pack(
            self.op, self.channel, self.serial, CALLER_ID_SIZE, encode_caller_id(self.caller_id)
        )

    def __repr__(self) -> str:
        return f"Header(op={self.op.name}, {_repr_header_fields(self)})"


def _byte_view(data: bytes) -> memoryview:
    """`data` as flat bytes without copying (any buffer: bytes, bytearray, memoryview)."""
    return memoryview(data).cast("B")


# ------------------------------------------------------------------- parsing datagrams
#
# A listener parses thousands of datagrams a second (50 pages at 50 packets a second), so
# received fields are validated exactly once, here, against the wire format, and the
# packet objects are then built without running their constructors' checks again, which
# used to double the cost of parsing. Every value built this way is one the constructor
# would accept unchanged (`parse_packet(bytes(p)) == p` holds both ways).

_HeaderFields = tuple[OpCode, int, int, str]
_Frozen = TypeVar("_Frozen")


def _unpack_header(view: memoryview) -> _HeaderFields:
    """(op, channel, serial, caller id) of the header at the start of `view`, validated.

    Raises
    ------
    ProtocolError
        SHORT_HEADER, UNKNOWN_OP or BAD_CHANNEL.
    """
    if len(view) < HEADER_SIZE:
        raise ProtocolError(
            ErrorReason.SHORT_HEADER, f"{len(view)} bytes, a header needs {HEADER_SIZE}"
        )
    # The length byte is ignored: the field is 13 bytes whatever it says.
    op_value, channel, serial, _length, field = _HEADER.unpack_from(view)
    op = _OP_CODES.get(op_value)
    if op is None:
        raise ProtocolError(ErrorReason.UNKNOWN_OP, f"op code 0x{op_value:02X}")
    if not CHANNEL_MIN <= channel <= CHANNEL_MAX:
        raise ProtocolError(
            ErrorReason.BAD_CHANNEL, f"channel {channel}, not {CHANNEL_MIN}-{CHANNEL_MAX}"
        )
    return op, channel, serial, _received_caller_id(field)


@functools.lru_cache(maxsize=1024)
def _received_caller_id(field: bytes) -> str:
    """The caller id a packet object holds for a received 13-byte `field`.

    Decoded leniently, then cut as the constructors cut it (a U+FFFD replacing one bad
    byte takes three). Cached because every packet of a page repeats the same field;
    bounded so that a flood of distinct fields cannot grow it.
    """
    return fit_caller_id(decode_caller_id(field))[0]


def _check_op(header: _HeaderFields, op: OpCode) -> None:
    if header[0] is not op:
        raise ProtocolError(ErrorReason.WRONG_OP, f"expected {op.name}, got {header[0].name}")


def _trusted(cls: type[_Frozen], **fields: object) -> _Frozen:
    """An instance of the frozen dataclass `cls` holding already validated `fields`.

    Skips ``__init__`` and ``__post_init__``: see the comment above `_unpack_header`.
    """
    instance = object.__new__(cls)
    instance.__dict__.update(fields)
    return instance


_Control = TypeVar("_Control", bound="_ControlPacket")


@dataclass(frozen=True, repr=False)
class _ControlPacket:
    """Alert and end packets: the header alone, told apart by `OP`."""

    OP: ClassVar[OpCode]

    channel: int
    serial: int
    caller_id: str = ""

    def __post_init__(self) -> None:
        _init_header_fields(self)

    @property
    def header(self) -> Header:
        """This packet's `Header`."""
        return Header(self.OP, self.channel, self.serial, self.caller_id)

    @classmethod
    def parse(cls: type[_Control], data: bytes) -> _Control:
        """The packet in datagram `data`.

        Raises
        ------
        ProtocolError
            SHORT_HEADER, UNKNOWN_OP, WRONG_OP, BAD_CHANNEL, or TRAILING_BYTES if
            anything follows the 20-byte header.
        """
        view = _byte_view(data)
        return cls._from_header(_unpack_header(view), view)

    @classmethod
    def _from_header(cls: type[_Control], header: _HeaderFields, view: memoryview) -> _Control:
        """The packet in `view`, whose `header` has been unpacked (and validated)."""
        _check_op(header, cls.OP)
        if len(view) > HEADER_SIZE:
            raise ProtocolError(
                ErrorReason.TRAILING_BYTES,
                f"{cls.OP.name} packet is {HEADER_SIZE} bytes, got {len(view) - HEADER_SIZE} more",
            )
        _, channel, serial, caller_id = header
        return _trusted(cls, channel=channel, serial=serial, caller_id=caller_id)

    def __bytes__(self) -> bytes:
        return bytes(self.header)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_repr_header_fields(self)})"


@dataclass(frozen=True, repr=False)
class AlertPacket(_ControlPacket):
    """Announces a page (phones chirp); sent `ALERT_COUNT` times before the audio.

    Parameters
    ----------
    channel : int
        1-50.
    serial : int
        Sender identity, 32-bit.
    caller_id : str, optional
        Display text, stored cut to 13 UTF-8 bytes (`fit_caller_id`).

    Raises
    ------
    ValueError
        For a channel outside 1-50, a serial outside 32 bits or a caller id with NUL.
    """

    OP: ClassVar[OpCode] = OpCode.ALERT


@dataclass(frozen=True, repr=False)
class EndPacket(_ControlPacket):
    """Ends a page; sent `END_COUNT` times, also when the sender stops early.

    Parameters are those of `AlertPacket`.
    """

    OP: ClassVar[OpCode] = OpCode.END


@dataclass(frozen=True, repr=False)
class TransmitPacket:
    """One frame of audio, with the previous frame again for loss recovery.

    Parameters
    ----------
    channel : int
        1-50.
    serial : int
        Sender identity, 32-bit.
    caller_id : str
        Display text, stored cut to 13 UTF-8 bytes (`fit_caller_id`).
    codec : CodecId
        Wire codec; a plain int is converted.
    sample_count : int
        8 kHz timestamp of the new frame, 32-bit.
    audio : bytes
        The redundant previous frame followed by the new frame, or only the new frame in
        a page's first transmit packet. Not empty. Bytes-like values are copied to bytes.
    flags : int, optional
        Byte 21, 0 by default; no documented meaning.

    Raises
    ------
    ValueError
        For a field outside its range, an unknown codec, empty audio or a caller id
        with NUL.

    See Also
    --------
    TransmitPacket.from_frames : build from the redundant and the new frame.
    TransmitPacket.split : recover them.
    """

    OP: ClassVar[OpCode] = OpCode.TRANSMIT

    channel: int
    serial: int
    caller_id: str
    codec: CodecId
    sample_count: int
    audio: bytes
    flags: int = 0

    def __post_init__(self) -> None:
        _init_header_fields(self)
        object.__setattr__(self, "codec", CodecId(self.codec))
        _check_u32("sample_count", self.sample_count)
        if not _is_int(self.flags) or not 0 <= self.flags <= 0xFF:
            raise ValueError(f"flags must be one byte, got {self.flags!r}")
        if isinstance(self.audio, str):
            raise TypeError("audio must be bytes, not str")
        object.__setattr__(self, "audio", bytes(memoryview(self.audio)))
        if not self.audio:
            raise ValueError("a transmit packet must carry audio")

    @classmethod
    def from_frames(
        cls,
        *,
        channel: int,
        serial: int,
        caller_id: str,
        codec: CodecId,
        sample_count: int,
        frame: bytes,
        redundant: bytes = b"",
        flags: int = 0,
    ) -> TransmitPacket:
        """The packet carrying `frame`, preceded by `redundant` (the previous frame).

        Parameters
        ----------
        frame : bytes
            The new frame; `sample_count` is its timestamp. Not empty.
        redundant : bytes, optional
            The previous packet's new frame; empty for the first packet of a page.

        Other parameters are those of the class.

        Raises
        ------
        ValueError
            If `frame` is empty or another field is invalid.
        """
        if not frame:
            raise ValueError("the new frame must not be empty")
        return cls(
            channel, serial, caller_id, codec, sample_count, bytes(redundant) + bytes(frame), flags
        )

    @property
    def header(self) -> Header:
        """This packet's `Header`."""
        return Header(self.OP, self.channel, self.serial, self.caller_id)

    def split(self, redundant_size: int) -> tuple[bytes, bytes]:
        """The audio as (redundant previous frame, new frame).

        One packet cannot tell where its new frame starts: the receiver knows the size of
        the previous packet's new frame (or the stream's frame size, learnt from the first
        packet) and passes it here. The new frame is the rest, so a short last frame
        splits correctly.

        Parameters
        ----------
        redundant_size : int
            Size of the redundant part; 0 for a page's first packet.

        Returns
        -------
        redundant, frame : bytes
            ``redundant`` may be empty; ``frame`` never is.

        Raises
        ------
        ProtocolError
            BAD_SPLIT if `redundant_size` is negative or leaves no new frame: the packet
            does not fit the stream, and a receiver drops it like any malformed datagram.
        """
        if not 0 <= redundant_size < len(self.audio):
            raise ProtocolError(
                ErrorReason.BAD_SPLIT,
                f"{redundant_size} redundant bytes leave no new frame in {len(self.audio)}",
            )
        return self.audio[:redundant_size], self.audio[redundant_size:]

    @classmethod
    def parse(cls, data: bytes) -> TransmitPacket:
        """The packet in datagram `data`.

        Raises
        ------
        ProtocolError
            SHORT_HEADER, UNKNOWN_OP, WRONG_OP, BAD_CHANNEL, SHORT_AUDIO_HEADER,
            UNKNOWN_CODEC or NO_AUDIO.
        """
        view = _byte_view(data)
        return cls._from_header(_unpack_header(view), view)

    @classmethod
    def _from_header(cls, header: _HeaderFields, view: memoryview) -> TransmitPacket:
        """The packet in `view`, whose `header` has been unpacked (and validated)."""
        _check_op(header, cls.OP)
        after = len(view) - HEADER_SIZE
        if after < AUDIO_HEADER_SIZE:
            raise ProtocolError(
                ErrorReason.SHORT_AUDIO_HEADER,
                f"{after} bytes after the header, the audio header needs {AUDIO_HEADER_SIZE}",
            )
        codec_value, flags, sample_count = _AUDIO_HEADER.unpack_from(view, HEADER_SIZE)
        codec = _CODEC_IDS.get(codec_value)
        if codec is None:
            raise ProtocolError(ErrorReason.UNKNOWN_CODEC, f"codec 0x{codec_value:02X}")
        if after == AUDIO_HEADER_SIZE:
            raise ProtocolError(ErrorReason.NO_AUDIO, "transmit packet without audio")
        _, channel, serial, caller_id = header
        return _trusted(
            cls,
            channel=channel,
            serial=serial,
            caller_id=caller_id,
            codec=codec,
            sample_count=sample_count,
            audio=view[HEADER_SIZE + AUDIO_HEADER_SIZE :].tobytes(),
            flags=flags,
        )

    def __bytes__(self) -> bytes:
        return (
            bytes(self.header)
            + _AUDIO_HEADER.pack(self.codec, self.flags, self.sample_count)
            + self.audio
        )

    def __repr__(self) -> str:
        flags = f", flags=0x{self.flags:02X}" if self.flags else ""
        return (
            f"TransmitPacket({_repr_header_fields(self)}, codec={self.codec.name}, "
            f"sample_count=0x{self.sample_count:08X}, audio=<{len(self.audio)} bytes>{flags})"
        )


Packet = AlertPacket | TransmitPacket | EndPacket
"""Any packet `parse_packet` returns."""

_PACKET_TYPES: dict[OpCode, type[AlertPacket] | type[TransmitPacket] | type[EndPacket]] = {
    OpCode.ALERT: AlertPacket,
    OpCode.TRANSMIT: TransmitPacket,
    OpCode.END: EndPacket,
}


def parse_packet(data: bytes) -> Packet:
    """The packet in datagram `data`, of the type its op code names.

    Parameters
    ----------
    data : bytes-like
        One UDP payload.

    Returns
    -------
    AlertPacket, TransmitPacket or EndPacket

    Raises
    ------
    ProtocolError
        For any malformed datagram (see `ErrorReason`); never anything else for bytes
        input.
    """
    view = _byte_view(data)
    header = _unpack_header(view)
    return _PACKET_TYPES[header[0]]._from_header(header, view)
