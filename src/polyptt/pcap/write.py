"""Pages as capture files: UDP datagrams written as a pcap that Wireshark and tshark read.

``polyptt send --pcap`` writes the exact page it would send, with each packet stamped at
its scheduled time, so a page can be inspected, diffed, or replayed without a network.
The datagrams are wrapped in real IPv4 and UDP headers with valid checksums (and, for
the Ethernet link type, a frame with the multicast MAC the group maps to), so dissectors
treat them as the real thing.

Map by purpose
--------------
Write captures
    :class:`PcapWriter` (any link-layer frame or a UDP datagram), :class:`PcapSink` (the
    sink a page is sent to instead of a socket)
Build packets
    :func:`ipv4_udp`, :func:`ethernet`, :func:`internet_checksum`

The format is classic pcap with nanosecond timestamps (magic ``0xA1B23C4D``), written in
this machine's byte order as libpcap does.
"""

from __future__ import annotations

import ipaddress
import struct
import sys
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_RAW",
    "PcapSink",
    "PcapWriter",
    "ethernet",
    "internet_checksum",
    "ipv4_udp",
]

#: DLT/LINKTYPE numbers (tcpdump.org link-layer header types).
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101

#: Classic pcap magic number of a file with nanosecond timestamps (the schedule is exact).
MAGIC_NANOSECONDS = 0xA1B23C4D

_IPPROTO_UDP = 17
_ETHERTYPE_IPV4 = 0x0800
_IP_DONT_FRAGMENT = 0x4000
# A locally administered unicast MAC (bit 1 of the first byte set): never a real card's.
_SOURCE_MAC = bytes.fromhex("02504f4c5950")  # 02:"POLYP"


def internet_checksum(data: bytes) -> int:
    """The 16-bit one's-complement sum of RFC 1071, as IPv4 and UDP headers carry it."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_udp(
    payload: bytes,
    source: tuple[str, int],
    destination: tuple[str, int],
    *,
    ttl: int = 64,
    identification: int = 0,
    dont_fragment: bool = True,
) -> bytes:
    """An IPv4 packet carrying `payload` in UDP, both headers with correct checksums.

    Parameters
    ----------
    payload : bytes
        The UDP payload.
    source, destination : (str, int)
        IPv4 address and UDP port of each end.
    ttl : int
        The IP time to live.
    identification : int
        The IP identification field (16 bits).
    dont_fragment : bool
        Set the DF flag, as polyptt's sockets do.
    """
    src = ipaddress.IPv4Address(source[0]).packed
    dst = ipaddress.IPv4Address(destination[0]).packed
    udp_length = 8 + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, _IPPROTO_UDP, udp_length)
    udp = struct.pack("!HHHH", source[1], destination[1], udp_length, 0) + payload
    udp_sum = internet_checksum(pseudo + udp) or 0xFFFF  # 0 means "no checksum" in UDP
    udp = udp[:6] + struct.pack("!H", udp_sum) + udp[8:]
    flags = _IP_DONT_FRAGMENT if dont_fragment else 0
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45, 0, 20 + udp_length, identification & 0xFFFF, flags, ttl, _IPPROTO_UDP, 0, src, dst,
    )  # fmt: skip
    header = header[:10] + struct.pack("!H", internet_checksum(header)) + header[12:]
    return header + udp


def ethernet(ip_packet: bytes, source_mac: bytes = _SOURCE_MAC) -> bytes:
    """An Ethernet II frame around an IPv4 packet.

    A multicast destination gets the MAC it maps to (01:00:5e + the group's low 23
    bits, RFC 1112); a unicast one gets a locally administered placeholder, since the
    phone's real MAC is not known here.
    """
    dst_ip = ip_packet[16:20]
    if ipaddress.IPv4Address(dst_ip).is_multicast:
        dst_mac = b"\x01\x00\x5e" + bytes([dst_ip[1] & 0x7F]) + dst_ip[2:4]
    else:
        dst_mac = b"\x02\x00" + dst_ip
    return dst_mac + source_mac + struct.pack("!H", _ETHERTYPE_IPV4) + ip_packet


class PcapWriter:
    """Writes a classic pcap file: one global header, then timestamped frames.

    Parameters
    ----------
    file : binary file
        Open for writing; not closed by the writer unless it opened it (see :meth:`open`).
    linktype : int
        :data:`LINKTYPE_RAW` (IPv4 packets as they are) or :data:`LINKTYPE_ETHERNET`.
    snaplen : int
        The largest frame the file declares it may hold.
    """

    def __init__(self, file: BinaryIO, linktype: int = LINKTYPE_RAW, snaplen: int = 65535):
        if linktype not in (LINKTYPE_RAW, LINKTYPE_ETHERNET):
            raise ValueError(f"unsupported link type {linktype}")
        self._file = file
        self._owned = False
        self.linktype = linktype
        self.snaplen = snaplen
        self._identification = 0
        self._endian = "<" if sys.byteorder == "little" else ">"
        file.write(
            struct.pack(f"{self._endian}IHHiIII", MAGIC_NANOSECONDS, 2, 4, 0, 0, snaplen, linktype)
        )

    @classmethod
    def open(cls, path: str | Path, linktype: int = LINKTYPE_RAW) -> PcapWriter:
        """Create (or truncate) `path` and write its header; :meth:`close` closes it."""
        file = Path(path).open("wb")  # noqa: SIM115 - owned by the writer, closed by close()
        try:
            writer = cls(file, linktype)
        except BaseException:
            file.close()
            raise
        writer._owned = True
        return writer

    def write_frame(self, frame: bytes, timestamp_ns: int) -> None:
        """Append one link-layer frame captured at `timestamp_ns` (ns since the epoch)."""
        seconds, fraction = divmod(timestamp_ns, 1_000_000_000)
        captured = frame[: self.snaplen]
        self._file.write(
            struct.pack(f"{self._endian}IIII", seconds, fraction, len(captured), len(frame))
        )
        self._file.write(captured)

    def write_udp(
        self,
        payload: bytes,
        source: tuple[str, int],
        destination: tuple[str, int],
        timestamp_ns: int,
        *,
        ttl: int = 64,
    ) -> None:
        """Append a UDP datagram sent from `source` to `destination` at `timestamp_ns`."""
        packet = ipv4_udp(
            payload, source, destination, ttl=ttl, identification=self._identification
        )
        self._identification += 1
        if self.linktype == LINKTYPE_ETHERNET:
            packet = ethernet(packet)
        self.write_frame(packet, timestamp_ns)

    def close(self) -> None:
        """Flush, and close the file if :meth:`open` opened it."""
        self._file.flush()
        if self._owned:
            self._file.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PcapSink:
    """A page sink that writes each datagram at its scheduled time instead of sending it.

    The sender never waits for it (``paced`` is False): a minute-long page is written in
    milliseconds, with timestamps exactly as the schedule would have sent it.

    Parameters
    ----------
    writer : PcapWriter
        Where the datagrams go.
    source, destination : (str, int)
        The addresses written into the IP and UDP headers.
    start_ns : int
        Wall-clock time of the page's first packet, in nanoseconds since the epoch
        (``time.time_ns()``); integer, so that scheduled offsets are stamped exactly.
    ttl : int
        The IP TTL written into the headers.
    """

    paced = False

    def __init__(
        self,
        writer: PcapWriter,
        source: tuple[str, int],
        destination: tuple[str, int],
        start_ns: int,
        *,
        ttl: int = 64,
    ):
        self.writer = writer
        self.source = source
        self.destination = destination
        self.start_ns = start_ns
        self.ttl = ttl

    def send(self, datagram: bytes, offset: float) -> None:
        """Write `datagram` stamped `offset` seconds after the page's start."""
        timestamp_ns = self.start_ns + round(offset * 1e9)
        self.writer.write_udp(datagram, self.source, self.destination, timestamp_ns, ttl=self.ttl)
