"""Read UDP datagrams back out of capture files (pcap and pcapng), for ``listen --pcap``.

A capture of a real network is the best test input there is, and the way to look at a
page after the fact. This reader takes what tcpdump, tshark and Wireshark write: classic
pcap (microsecond or nanosecond, either byte order) and pcapng (any number of interfaces,
each with its own link type and timestamp resolution), with Ethernet (VLAN tags
included), Linux cooked (SLL and SLL2, what ``-i any`` gives), raw IP and BSD loopback
link types, IPv4 and IPv6. Fragmented datagrams are skipped (a page's datagrams are far
below the MTU; reassembly is not worth its code). It is pure standard library and reads
the file as a stream, so a capture larger than memory works too.

The writer lives in `polyptt.pcap` (``send --pcap``); the two are kept apart because
reading has to cope with every other tool's output, writing only with our own.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["CaptureError", "Datagram", "read_datagrams"]

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_BYTE_ORDER_MAGIC = 0x1A2B3C4D

# Link types (https://www.tcpdump.org/linktypes.html)
_NULL, _ETHERNET, _RAW, _LOOP, _SLL, _IPV4, _IPV6, _SLL2 = 0, 1, 101, 108, 113, 228, 229, 276
_RAW_ALIASES = {12, 14}  # DLT_RAW on some BSDs, as written by old libpcap
_KNOWN_LINKTYPES = frozenset(
    {_NULL, _ETHERNET, _RAW, _LOOP, _SLL, _IPV4, _IPV6, _SLL2, *_RAW_ALIASES}
)
_VLAN_TYPES = {0x8100, 0x88A8, 0x9100}
_ETHERTYPE_IPV4, _ETHERTYPE_IPV6 = 0x0800, 0x86DD
_UDP = 17
_IPV6_EXTENSIONS = {0, 43, 60}  # hop-by-hop, routing, destination options


class CaptureError(ValueError):
    """The file is not a capture this reader understands."""


@dataclass(frozen=True)
class Datagram:
    """One UDP datagram found in a capture."""

    time: float
    source: tuple[str, int]
    destination: tuple[str, int]
    payload: bytes


def read_datagrams(
    path: Path | str, on_cut_short: Callable[[str], None] | None = None
) -> Iterator[Datagram]:
    """Every UDP datagram in the capture at `path`, in file order.

    A file cut short (a capture stopped mid-write) or damaged ends the iteration after its
    last complete packet: what came before is still good, so it is not an error, but the
    caller is told where it stopped through `on_cut_short`. Packets of other protocols
    are skipped.

    Raises
    ------
    CaptureError
        If the file is neither pcap nor pcapng, or a link type is not supported.
    """
    with Path(path).open("rb") as stream:
        magic = stream.read(4)
        if magic in _PCAP_MAGICS:
            cut_short = yield from _read_pcap(stream, *_PCAP_MAGICS[magic])
        elif magic == _PCAPNG_SHB:
            cut_short = yield from _read_pcapng(stream)
        else:
            raise CaptureError(f"{path}: not a pcap or pcapng capture")
    if cut_short is not None and on_cut_short is not None:
        on_cut_short(cut_short)


#: What the readers return: None at a clean end of file, else where and why they stopped.
_Reading = Generator[Datagram, None, "str | None"]


def _cut_short(what: str, number: int, offset: int) -> str:
    return f"{what} {number} at byte {offset} is cut short or damaged"


def _read_pcap(stream: BinaryIO, order: str, unit: float) -> _Reading:
    header = stream.read(20)
    if len(header) < 20:
        return _cut_short("the file header", 1, 4)
    linktype = struct.unpack(order + "HHiIII", header)[5] & 0x0FFFFFFF
    _check_linktype(linktype)
    record = struct.Struct(order + "IIII")
    number = 0
    while True:
        number += 1
        offset = stream.tell()
        head = stream.read(record.size)
        if not head:
            return None
        if len(head) < record.size:
            return _cut_short("record", number, offset)
        seconds, fraction, captured, _original = record.unpack(head)
        data = stream.read(captured)
        if len(data) < captured:
            return _cut_short("record", number, offset)
        datagram = _udp_in_frame(linktype, data, seconds + fraction * unit, order)
        if datagram is not None:
            yield datagram


def _read_pcapng(stream: BinaryIO) -> _Reading:
    order = "<"
    interfaces: list[tuple[int, float]] = []  # (link type, seconds per timestamp unit)
    block_type = 0x0A0D0D0A
    number = 0
    while True:
        number += 1
        offset = stream.tell() - (4 if number == 1 else 0)
        if number > 1:
            raw_type = stream.read(4)
            if not raw_type:
                return None
            if len(raw_type) < 4:
                return _cut_short("block", number, offset)
            block_type = struct.unpack(order + "I", raw_type)[0]
        raw_length = stream.read(4)
        if len(raw_length) < 4:
            return _cut_short("block", number, offset)
        if block_type == 0x0A0D0D0A:  # section header: its magic fixes the byte order
            magic = stream.read(4)
            if len(magic) < 4:
                return _cut_short("block", number, offset)
            order = "<" if struct.unpack("<I", magic)[0] == _BYTE_ORDER_MAGIC else ">"
            interfaces = []
        length = struct.unpack(order + "I", raw_length)[0]
        already = 4 if block_type == 0x0A0D0D0A else 0
        if length < 12 + already:
            return _cut_short("block", number, offset)
        body = (magic if already else b"") + stream.read(length - 12 - already)
        if len(body) < length - 12 or len(stream.read(4)) < 4:
            return _cut_short("block", number, offset)
        if block_type == 1:  # interface description
            linktype = struct.unpack_from(order + "H", body)[0]
            interfaces.append((linktype, _tsresol(body[8:], order)))
        elif block_type in (6, 2):  # enhanced packet, obsolete packet
            datagram = _pcapng_packet(body, block_type, interfaces, order)
            if datagram is not None:
                yield datagram
        elif block_type == 3 and interfaces:  # simple packet: no timestamp
            captured = min(struct.unpack_from(order + "I", body)[0], len(body) - 4)
            linktype = interfaces[0][0]
            _check_linktype(linktype)
            datagram = _udp_in_frame(linktype, body[4 : 4 + captured], 0.0, order)
            if datagram is not None:
                yield datagram


def _pcapng_packet(
    body: bytes, block_type: int, interfaces: list[tuple[int, float]], order: str
) -> Datagram | None:
    if block_type == 6:
        interface, high, low, captured = struct.unpack_from(order + "IIII", body)
    else:
        interface, _drops, high, low, captured = struct.unpack_from(order + "HHIII", body)
    if interface >= len(interfaces):
        return None
    linktype, unit = interfaces[interface]
    _check_linktype(linktype)
    data = body[20 : 20 + captured]
    return _udp_in_frame(linktype, data, ((high << 32) | low) * unit, order)


def _tsresol(options: bytes, order: str) -> float:
    """Seconds per timestamp unit from an interface block's options (default 1 us)."""
    offset = 0
    while offset + 4 <= len(options):
        code, size = struct.unpack_from(order + "HH", options, offset)
        if code == 0:
            break
        if code == 9 and size >= 1:
            value = options[offset + 4]
            return 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0**-value
        offset += 4 + (size + 3) // 4 * 4
    return 1e-6


def _check_linktype(linktype: int) -> None:
    if linktype not in _KNOWN_LINKTYPES:
        raise CaptureError(
            f"link type {linktype} is not supported (Ethernet, Linux cooked SLL/SLL2, "
            "raw IP and loopback are)"
        )


def _udp_in_frame(linktype: int, frame: bytes, time: float, order: str) -> Datagram | None:
    """The UDP datagram in one captured link-layer frame, or None."""
    packet = _network_layer(linktype, frame, order)
    if packet is None or not packet:
        return None
    version = packet[0] >> 4
    if version == 4:
        return _udp_in_ipv4(packet, time)
    if version == 6:
        return _udp_in_ipv6(packet, time)
    return None


def _network_layer(linktype: int, frame: bytes, order: str) -> bytes | None:
    if linktype == _ETHERNET:
        offset, ethertype = 14, int.from_bytes(frame[12:14], "big") if len(frame) >= 14 else 0
        while ethertype in _VLAN_TYPES and len(frame) >= offset + 4:
            ethertype = int.from_bytes(frame[offset + 2 : offset + 4], "big")
            offset += 4
        if ethertype not in (_ETHERTYPE_IPV4, _ETHERTYPE_IPV6):
            return None
        return frame[offset:]
    if linktype == _SLL:
        return frame[16:] if len(frame) >= 16 else None
    if linktype == _SLL2:
        return frame[20:] if len(frame) >= 20 else None
    if linktype in (_NULL, _LOOP):  # 4-byte address family, host or network order
        return frame[4:] if len(frame) >= 4 else None
    return frame  # raw IP


def _udp_in_ipv4(packet: bytes, time: float) -> Datagram | None:
    if len(packet) < 20:
        return None
    header = (packet[0] & 0x0F) * 4
    total = int.from_bytes(packet[2:4], "big")
    fragment = int.from_bytes(packet[6:8], "big")
    if packet[9] != _UDP or fragment & 0x3FFF or header < 20:  # MF flag or an offset
        return None
    source = str(ipaddress.IPv4Address(packet[12:16]))
    destination = str(ipaddress.IPv4Address(packet[16:20]))
    return _udp(packet[header : total or None], source, destination, time)


def _udp_in_ipv6(packet: bytes, time: float) -> Datagram | None:
    if len(packet) < 40:
        return None
    next_header, offset = packet[6], 40
    while next_header in _IPV6_EXTENSIONS and len(packet) >= offset + 8:
        next_header, offset = packet[offset], offset + (packet[offset + 1] + 1) * 8
    if next_header != _UDP:
        return None
    source = str(ipaddress.IPv6Address(packet[8:24]))
    destination = str(ipaddress.IPv6Address(packet[24:40]))
    return _udp(packet[offset:], source, destination, time)


def _udp(segment: bytes, source: str, destination: str, time: float) -> Datagram | None:
    if len(segment) < 8:
        return None
    source_port, destination_port, length = struct.unpack_from(">HHH", segment)
    payload = segment[8 : length if length >= 8 else None]
    return Datagram(time, (source, source_port), (destination, destination_port), payload)
