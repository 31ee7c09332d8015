"""RTP (RFC 3550) data packets and the RTCP packets the bridge needs: bytes in, bytes out.

No sockets, clocks or codecs: the bridge's two directions (`polyptt.bridge.rtp_to_poly`,
`polyptt.bridge.poly_to_rtp`) and the tests share this one definition of the format.

Map by purpose
--------------
Audio
    `RtpPacket` (``parse`` and ``bytes()``): version 2, CSRCs, a header extension and
    padding are read (and the extension and CSRCs written back); the payload is left as
    bytes.
Control
    `SenderReport` (SR, 200), `Bye` (BYE, 203) and `parse_rtcp`, which walks a compound
    datagram and returns the packets it knows (receiver reports, SDES and others are
    skipped, as a bridge has no use for them).
Errors
    Malformed datagrams raise `RtpError` and nothing else; the receive loop counts them
    and drops the datagram.
Sequence numbers and timestamps
    `seq_delta` and `ts_delta`: signed distances that wrap at 2**16 and 2**32.

Wire format (RFC 3550 section 5.1), big-endian::

    0   V=2 | P | X | CC(4)      1  M | PT(7)     2  sequence number (16)
    4   timestamp (32)
    8   SSRC (32)
    12  CSRC list (CC x 32), then if X: profile (16), length in words (16), words
        then the payload, then if P: padding whose last byte is its own length
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = [
    "BYE",
    "SR",
    "VERSION",
    "Bye",
    "RtpError",
    "RtpPacket",
    "SenderReport",
    "parse_rtcp",
    "seq_delta",
    "ts_delta",
]

VERSION = 2
#: RTCP packet types (RFC 3550 section 12.1).
SR = 200
BYE = 203

_FIXED = struct.Struct(">BBHII")
_RTCP_HEADER = struct.Struct(">BBH")
_SR_BODY = struct.Struct(">IIIIII")  # SSRC, NTP sec, NTP frac, RTP ts, packets, octets


class RtpError(ValueError):
    """A datagram that is no valid RTP or RTCP packet; the message says why."""


def seq_delta(a: int, b: int) -> int:
    """How far sequence number `a` is after `b` (negative: before), across the 2**16 wrap."""
    return (a - b + 0x8000) % 0x10000 - 0x8000


def ts_delta(a: int, b: int) -> int:
    """How far timestamp `a` is after `b` (negative: before), across the 2**32 wrap."""
    return (a - b + 0x8000_0000) % 0x1_0000_0000 - 0x8000_0000


@dataclass(frozen=True)
class RtpPacket:
    """One RTP data packet.

    Attributes
    ----------
    payload_type : int
        0-127 (0 PCMU, 8 PCMA, 9 G.722, 10/11 L16, 96-127 dynamic).
    sequence : int
        16-bit, +1 per packet, random start.
    timestamp : int
        32-bit, in the payload format's clock (8000 Hz for G.722 too), random start.
    ssrc : int
        32-bit identity of the stream.
    payload : bytes
        The coded audio, padding removed.
    marker : bool
        Set on the first packet of a talkspurt.
    csrcs : tuple of int
        Contributing sources (a mixer's).
    extension : tuple of (int, bytes) or None
        Header extension: profile and its words, if present.
    """

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: tuple[int, bytes] | None = None

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Read one RTP datagram; `RtpError` if it is not one."""
        if len(data) < _FIXED.size:
            raise RtpError(f"{len(data)} bytes: shorter than an RTP header ({_FIXED.size})")
        first, second, sequence, timestamp, ssrc = _FIXED.unpack_from(data)
        if first >> 6 != VERSION:
            raise RtpError(f"RTP version {first >> 6}, not 2")
        if 72 <= second & 0x7F <= 79:  # RFC 5761: 200-207 with the marker bit as RTCP
            raise RtpError("an RTCP packet, not RTP")
        end = len(data)
        if first & 0x20:
            padding = data[-1]
            if padding == 0 or padding > end - _FIXED.size:
                raise RtpError(f"padding of {padding} bytes does not fit")
            end -= padding
        at = _FIXED.size + 4 * (first & 0x0F)
        if at > end:
            raise RtpError("the CSRC list runs past the packet")
        csrcs = struct.unpack_from(f">{first & 0x0F}I", data, _FIXED.size)
        extension = None
        if first & 0x10:
            if at + 4 > end:
                raise RtpError("the header extension runs past the packet")
            profile, words = struct.unpack_from(">HH", data, at)
            if at + 4 + 4 * words > end:
                raise RtpError("the header extension runs past the packet")
            extension = (profile, bytes(data[at + 4 : at + 4 + 4 * words]))
            at += 4 + 4 * words
        return cls(
            second & 0x7F,
            sequence,
            timestamp,
            ssrc,
            bytes(data[at:end]),
            bool(second & 0x80),
            tuple(csrcs),
            extension,
        )

    def __bytes__(self) -> bytes:
        first = VERSION << 6 | len(self.csrcs) | (0x10 if self.extension else 0)
        second = self.payload_type | (0x80 if self.marker else 0)
        head = _FIXED.pack(first, second, self.sequence, self.timestamp, self.ssrc)
        head += struct.pack(f">{len(self.csrcs)}I", *self.csrcs)
        if self.extension is not None:
            profile, words = self.extension
            head += struct.pack(">HH", profile, len(words) // 4) + words
        return head + self.payload

    def __repr__(self) -> str:
        mark = " M" if self.marker else ""
        return (
            f"RtpPacket(pt={self.payload_type} seq={self.sequence} ts={self.timestamp} "
            f"ssrc=0x{self.ssrc:08X}{mark} {len(self.payload)} B)"
        )


@dataclass(frozen=True)
class SenderReport:
    """RTCP SR (RFC 3550 section 6.4.1) without report blocks: what a sender says.

    Attributes
    ----------
    ssrc : int
        The sender.
    ntp : int
        64-bit NTP time of the report (seconds since 1900 << 32 | fraction).
    rtp_timestamp : int
        The same moment in the stream's RTP clock.
    packets, octets : int
        Sent so far (payload octets).
    """

    ssrc: int
    ntp: int
    rtp_timestamp: int
    packets: int
    octets: int

    def __bytes__(self) -> bytes:
        body = _SR_BODY.pack(
            self.ssrc,
            self.ntp >> 32,
            self.ntp & 0xFFFF_FFFF,
            self.rtp_timestamp,
            self.packets & 0xFFFF_FFFF,
            self.octets & 0xFFFF_FFFF,
        )
        return _RTCP_HEADER.pack(VERSION << 6, SR, len(body) // 4) + body


@dataclass(frozen=True)
class Bye:
    """RTCP BYE (RFC 3550 section 6.6): these sources leave.

    Attributes
    ----------
    ssrcs : tuple of int
        The sources that leave (at most 31).
    reason : str
        Optional text.
    """

    ssrcs: tuple[int, ...]
    reason: str = ""

    def __bytes__(self) -> bytes:
        if len(self.ssrcs) > 31:
            raise ValueError("a BYE names at most 31 sources")
        body = struct.pack(f">{len(self.ssrcs)}I", *self.ssrcs)
        if self.reason:
            text = self.reason.encode()[:255]
            body += bytes([len(text)]) + text
            body += bytes(-len(body) % 4)
        return _RTCP_HEADER.pack(VERSION << 6 | len(self.ssrcs), BYE, len(body) // 4) + body


def parse_rtcp(data: bytes) -> list[SenderReport | Bye]:
    """The SR and BYE packets of a (compound) RTCP datagram, in order.

    Other packet types are skipped. `RtpError` if the datagram's structure is broken
    (a length that runs past it, a version other than 2, a packet type outside RTCP's).
    """
    found: list[SenderReport | Bye] = []
    at = 0
    if len(data) < _RTCP_HEADER.size:
        raise RtpError(f"{len(data)} bytes: shorter than an RTCP header")
    while at < len(data):
        if at + _RTCP_HEADER.size > len(data):
            raise RtpError("an RTCP header runs past the datagram")
        first, kind, words = _RTCP_HEADER.unpack_from(data, at)
        if first >> 6 != VERSION:
            raise RtpError(f"RTCP version {first >> 6}, not 2")
        if not 192 <= kind <= 223:
            raise RtpError(f"packet type {kind} is not RTCP")
        end = at + 4 + 4 * words
        if end > len(data):
            raise RtpError("an RTCP packet runs past the datagram")
        body = data[at + 4 : end]
        if first & 0x20 and body:  # padding (only the last packet of a compound has it)
            body = body[: len(body) - body[-1]]
        count = first & 0x1F
        if kind == SR and len(body) >= _SR_BODY.size:
            ssrc, seconds, fraction, stamp, packets, octets = _SR_BODY.unpack_from(body)
            found.append(SenderReport(ssrc, seconds << 32 | fraction, stamp, packets, octets))
        elif kind == BYE:
            found.append(_bye(body, count))
        at = end
    return found


def _bye(body: bytes, count: int) -> Bye:
    if 4 * count > len(body):
        raise RtpError("a BYE's sources run past the packet")
    ssrcs = struct.unpack_from(f">{count}I", body)
    reason = ""
    rest = body[4 * count :]
    if rest and rest[0] and 1 + rest[0] <= len(rest):
        reason = rest[1 : 1 + rest[0]].decode("utf-8", "replace")
    return Bye(tuple(ssrcs), reason)
