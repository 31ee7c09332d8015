"""Capture files: exact headers and checksums, and tshark reading what we write."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from polyptt import pcap

SOURCE = ("192.0.2.10", 40000)
GROUP = ("224.0.1.116", 5001)


def test_internet_checksum_rfc1071_example() -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2; checksum is ~ddf2.
    assert pcap.internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert pcap.internet_checksum(b"\x01") == 0xFEFF  # odd length: padded with a zero


def test_ipv4_udp_headers_are_exact_and_verify() -> None:
    packet = pcap.ipv4_udp(b"\x0f" * 20, SOURCE, GROUP, ttl=64, identification=7)
    assert len(packet) == 20 + 8 + 20
    version_ihl, _tos, total, ident, flags, ttl, proto = struct.unpack("!BBHHHBB", packet[:10])
    assert (version_ihl, total, ident, flags, ttl, proto) == (0x45, 48, 7, 0x4000, 64, 17)
    assert packet[12:16] == bytes([192, 0, 2, 10])
    assert packet[16:20] == bytes([224, 0, 1, 116])
    assert pcap.internet_checksum(packet[:20]) == 0  # a valid header sums to zero
    src_port, dst_port, length = struct.unpack("!HHH", packet[20:26])
    assert (src_port, dst_port, length) == (40000, 5001, 28)
    pseudo = packet[12:20] + struct.pack("!BBH", 0, 17, length)
    assert pcap.internet_checksum(pseudo + packet[20:]) == 0
    no_df = pcap.ipv4_udp(b"x", SOURCE, GROUP, dont_fragment=False)
    assert struct.unpack("!H", no_df[6:8])[0] == 0


def test_ethernet_uses_the_group_mac() -> None:
    frame = pcap.ethernet(pcap.ipv4_udp(b"x", SOURCE, ("239.129.1.116", 5001)))
    assert frame[:6] == bytes.fromhex("01005e010174")  # low 23 bits of the group
    assert frame[12:14] == b"\x08\x00"
    assert frame[6] & 0x03 == 0x02  # source: locally administered, unicast


def test_file_layout() -> None:
    buffer = io.BytesIO()
    writer = pcap.PcapWriter(buffer)
    writer.write_frame(b"abc", 1_700_000_000_123_456_789)
    data = buffer.getvalue()
    magic, major, minor, _zone, _sigfigs, snaplen, linktype = struct.unpack("=IHHiIII", data[:24])
    assert (magic, major, minor, snaplen, linktype) == (0xA1B23C4D, 2, 4, 65535, 101)
    assert struct.unpack("=IIII", data[24:40]) == (1_700_000_000, 123_456_789, 3, 3)
    assert data[40:] == b"abc"


def test_sink_stamps_scheduled_offsets_exactly() -> None:
    buffer = io.BytesIO()
    sink = pcap.PcapSink(pcap.PcapWriter(buffer), SOURCE, GROUP, 5_000_000_000, ttl=3)
    assert sink.paced is False
    sink.send(b"\x0f" * 20, 0.0)
    sink.send(b"\x0f" * 20, 0.93)
    data = buffer.getvalue()
    second = 24 + 16 + 48
    assert struct.unpack("=II", data[24:32]) == (5, 0)
    assert struct.unpack("=II", data[second : second + 8]) == (5, 930_000_000)
    assert data[24 + 16 + 8] == 3  # TTL in the IP header


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("linktype", [pcap.LINKTYPE_RAW, pcap.LINKTYPE_ETHERNET])
def test_tshark_reads_it_with_good_checksums(tmp_path: Path, linktype: int) -> None:
    path = tmp_path / "page.pcap"
    with pcap.PcapWriter.open(path, linktype) as writer:
        for index in range(3):
            payload = bytes([index]) * (20 + index)
            writer.write_udp(payload, SOURCE, GROUP, 10**18 + index * 30_000_000)
    fields = ["frame.time_epoch", "ip.dst", "udp.dstport", "udp.length", "ip.checksum.status",
              "udp.checksum.status", "ip.flags.df"]  # fmt: skip
    command = ["tshark", "-r", str(path), "-o", "ip.check_checksum:TRUE",
               "-o", "udp.check_checksum:TRUE", "-T", "fields"]  # fmt: skip
    for field in fields:
        command += ["-e", field]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in output.splitlines()]
    assert [row[1:] for row in rows] == [
        ["224.0.1.116", "5001", str(28 + index), "1", "1", "1"] for index in range(3)
    ]  # checksum status: 0 bad, 1 good, 2 not verified
    assert [row[0] for row in rows] == [
        "1000000000.000000000", "1000000000.030000000", "1000000000.060000000"
    ]  # fmt: skip
