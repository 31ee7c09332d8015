"""Capture files: pages written as pcap (``send --pcap``) and read back from pcap and
pcapng (``listen --pcap``), side by side.

Map by purpose
--------------
Write a page as it would go on the wire, stamped with its scheduled times
    :class:`~polyptt.pcap.write.PcapWriter`, :class:`~polyptt.pcap.write.PcapSink`;
    packet builders :func:`~polyptt.pcap.write.ipv4_udp`, :func:`~polyptt.pcap.write.ethernet`
Read the UDP datagrams of any tool's capture (tcpdump, tshark, Wireshark)
    :func:`~polyptt.pcap.read.read_datagrams`, :class:`~polyptt.pcap.read.Datagram`,
    :class:`~polyptt.pcap.read.CaptureError`

The two halves are apart because reading must cope with every other tool's output and
writing only with our own; both are pure standard library.
"""

from polyptt.pcap.read import CaptureError, Datagram, read_datagrams
from polyptt.pcap.write import (
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    MAGIC_NANOSECONDS,
    PcapSink,
    PcapWriter,
    ethernet,
    internet_checksum,
    ipv4_udp,
)

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_RAW",
    "MAGIC_NANOSECONDS",
    "CaptureError",
    "Datagram",
    "PcapSink",
    "PcapWriter",
    "ethernet",
    "internet_checksum",
    "ipv4_udp",
    "read_datagrams",
]
