"""How soon ``polyptt bridge`` carries audio each way, and what ten mappings cost.

Run inside the private network namespace, from the repository root:

    PYTHONPATH=src tools/isolated python benchmarks/bridge.py [--only rtp-to-poly] [--json]

RTP -> Poly latency (real processes, kernel timestamps): a sender process sends the test
speech, six times over, as 20 ms PCMU packets to the RTP group; a ``polyptt bridge``
process carries the stream to a page (G.722, 20 ms frames). Two capture sockets stamp
(SO_TIMESTAMPNS, the kernel's receive time on the loopback) every RTP packet and every
Poly transmit packet. Which transmit carries a packet's first sample is found from the
audio: each talkspurt of the RTP audio is aligned in the page's decoded frames (the page
catches up by shortening pauses, never speech, so a talkspurt has one lag). For every
voiced packet that arrived once the page had caught up after its alerts (from
`CAUGHT_UP_S` into a 29 s stream): that transmit's stamp minus the packet's. The 8 ->
16 kHz filter's 1.5 ms and G.722's own delay are counted in.

Poly -> RTP latency (real processes): ``polyptt send --frame-ms 20`` pages the speech;
a ``polyptt bridge --direction poly-to-rtp`` process carries it as 20 ms PCMU; two
capture sockets stamp (kernel time) every Poly transmit packet and every RTP packet, and
frame k's first sample travels in RTP packet k: the delay is the difference.

CPU: a ``polyptt bridge`` process with ten rtp-to-poly mappings (ten RTP groups to
channels 26-35) while ten streams of speech arrive at once; its CPU time (all threads)
over `CPU_WINDOW_S` of steady state, as a share of one core.

Goals (issue 22): RTP -> Poly p50 <= 25 ms, p99 <= 40 ms; Poly -> RTP p99 <= 30 ms;
ten mappings <= 15 % of one core.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import soxr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.*; polyptt itself: installed or PYTHONPATH=src

from tests.support.audio_devices import align_talkspurts, talkspurts  # noqa: E402
from tests.support.bridge import (  # noqa: E402
    RTP_GROUP,
    RtpSender,
    rtp_stream,
    speech,
    start_mapping,
    start_mappings,
)
from tests.support.listen import polyptt  # noqa: E402
from tests.support.processes import only_loopback, polyptt_env  # noqa: E402
from tests.support.udp_capture import UdpCapture, free_port  # noqa: E402

import polyptt as package  # noqa: E402
from _common import report  # noqa: E402
from polyptt import codecs  # noqa: E402
from polyptt.bridge.rtp import RtpPacket  # noqa: E402
from polyptt.protocol import DEFAULT_GROUP, TransmitPacket, parse_packet  # noqa: E402

GOALS = {
    "rtp_to_poly_p50_ms": 25.0,
    "rtp_to_poly_p99_ms": 40.0,
    "poly_to_rtp_p99_ms": 30.0,
    "ten_mappings_cpu_core": 0.15,
}
#: Seconds into the stream after which the page counts as caught up: the speech's
#: sentence breaks give back about 0.2 s each, so the alerts' 0.93 s take about 10 s.
CAUGHT_UP_S = 15.0
CPU_WINDOW_S = 8.0
#: The speech (4.8 s) this many times over: 29 s, half of it caught up.
REPEATS = 6


def ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 2)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def device_stream(ssrc: int, repeats: int) -> list[bytes]:
    return [bytes(p) for p in rtp_stream(np.tile(speech(8000), repeats), ssrc=ssrc)]


SENDER = """
import sys, time
from tests.support.bridge import RtpSender
data = sys.stdin.buffer.read()
packets, at = [], 0
while at < len(data):
    size = int.from_bytes(data[at : at + 2], "big")
    packets.append(data[at + 2 : at + 2 + size])
    at += 2 + size
sender = RtpSender(int(sys.argv[1]))
sender.send(packets)
"""


def send_in_another_process(port: int, packets: list[bytes]) -> subprocess.Popen[bytes]:
    """Send `packets` 20 ms apart from another process, as a device on the LAN would
    (a thread of this one would share the interpreter's lock with the bridge)."""
    sender = subprocess.Popen(
        [sys.executable, "-c", SENDER, str(port)],
        stdin=subprocess.PIPE,
        cwd=ROOT,
        env=polyptt_env(),
    )
    assert sender.stdin is not None
    sender.stdin.write(b"".join(len(p).to_bytes(2, "big") + p for p in packets))
    sender.stdin.close()
    return sender


def rtp_to_poly(tmp: Path) -> dict[str, Any]:
    poly_port, rtp_port = free_port(), free_port() & ~1
    bridge = start_mapping(tmp, poly_port, rtp_port, name="r2p")
    packets = device_stream(0x1234, REPEATS)
    try:
        with UdpCapture(poly_port) as poly, UdpCapture(rtp_port, RTP_GROUP) as rtp:
            send_in_another_process(rtp_port, packets).wait()
            bridge.wait_for_pages("rtp-to-poly", 1, timeout=60)
            transmits = [
                (t, p)
                for t, d in poly.wait_quiet(0.5)
                if isinstance(p := parse_packet(d), TransmitPacket)
            ]
            arrivals = [(t, RtpPacket.parse(d)) for t, d in rtp.wait_quiet(0.5)]
    finally:
        bridge.stop()
    return _rtp_latencies(arrivals, transmits)


def _rtp_latencies(
    arrivals: list[tuple[float, RtpPacket]], transmits: list[tuple[float, TransmitPacket]]
) -> dict[str, Any]:
    """Kernel arrival of each voiced RTP packet (once caught up) to the kernel arrival of
    the Poly transmit whose new frame holds its first sample, found by aligning each
    talkspurt of the RTP audio in the page's decoded audio (the page shortens pauses
    only, so each talkspurt has one lag)."""
    frame = 320  # 20 ms at 16 kHz
    first_seq = arrivals[0][1].sequence
    sent = codecs.decode("g711u", b"".join(p.payload for _t, p in arrivals))
    # without its last 40 ms: the page's last few ms stay in the 8 -> 16 kHz filter and
    # G.722 (their delay), and a talkspurt cut short would not align
    reference = soxr.resample(sent, 8000, 16000, quality="VHQ")[: -2 * frame]
    heard = codecs.decode("g722", b"".join(p.audio[-160:] for _t, p in transmits))
    spurts = talkspurts(reference, 16000)
    found = align_talkspurts(heard, reference, 16000, first_within_s=2.0)
    start = arrivals[0][0]
    lags, correlations = [], []
    for arrival, packet in arrivals:
        index = (packet.sequence - first_seq) % 65536
        if arrival - start < CAUGHT_UP_S:
            continue
        first = index * frame
        for (begin, end), (place, corr) in zip(spurts, found, strict=False):
            if begin <= first < end:
                carried = (first + place - begin) // frame
                if carried < len(transmits):
                    lags.append(transmits[carried][0] - arrival)
                    correlations.append(corr)
    # how late the packets came, against the sender's 20 ms cadence (load on the machine)
    late = [t - 0.02 * ((p.sequence - first_seq) % 65536) for t, p in arrivals]
    late = [value - min(late) for value in late]
    return {
        "rtp_to_poly_p50_ms": ms(lags, 50),
        "rtp_to_poly_p99_ms": ms(lags, 99),
        "rtp_to_poly_packets": len(lags),
        "rtp_to_poly_min_correlation": round(min(correlations), 3),
        "rtp_arrival_late_p99_ms": ms(late, 99),
    }


def poly_to_rtp(tmp: Path) -> dict[str, Any]:
    poly_port, rtp_port = free_port(), free_port() & ~1
    bridge = start_mapping(tmp, poly_port, rtp_port, "--direction", "poly-to-rtp", name="p2r")
    try:
        with UdpCapture(poly_port) as poly, UdpCapture(rtp_port, RTP_GROUP) as rtp:
            wav = tmp / "speech4.wav"
            soundfile.write(wav, np.tile(speech(16000), REPEATS), 16000)
            polyptt(
                "send", "--to", f"{DEFAULT_GROUP}:{poly_port}", "--frame-ms", "20", "-q", str(wav)
            )
            transmits = [
                t for t, d in poly.wait_quiet(1.0) if isinstance(parse_packet(d), TransmitPacket)
            ]
            packets = [(t, RtpPacket.parse(d)) for t, d in rtp.wait_quiet(1.0)]
    finally:
        bridge.stop()
    out = [t for t, _p in packets]
    lags = [b - a for a, b in zip(transmits, out, strict=False)]
    return {
        "poly_to_rtp_p50_ms": ms(lags, 50),
        "poly_to_rtp_p99_ms": ms(lags, 99),
        "poly_to_rtp_frames": len(lags),
        "poly_to_rtp_count_match": len(transmits) == len(out),
    }


def ten_mappings(tmp: Path) -> dict[str, Any]:
    poly_port = free_port()
    ports = [free_port() & ~1 for _ in range(10)]
    bridge = start_mappings(tmp, poly_port, ports, name="ten")
    try:
        socks = [RtpSender(port) for port in ports]
        streams = [device_stream(0x100 + n, repeats=3) for n in range(10)]
        done = threading.Event()
        samples: list[tuple[float, float]] = []

        def measure() -> None:
            time.sleep(2.0)
            samples.append((cpu_seconds(bridge.process.pid), time.monotonic()))
            time.sleep(CPU_WINDOW_S)
            samples.append((cpu_seconds(bridge.process.pid), time.monotonic()))
            done.set()

        watcher = threading.Thread(target=measure)
        watcher.start()
        start = time.monotonic()
        for index in range(len(streams[0])):
            delay = start + index * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            for sender, stream in zip(socks, streams, strict=True):
                sender.sock.sendto(stream[index], sender.to)
        watcher.join()
        pages = bridge.wait_for_pages("rtp-to-poly", 10, timeout=30)
    finally:
        bridge.stop(signal.SIGTERM)
    (cpu0, wall0), (cpu1, wall1) = samples
    return {
        "ten_mappings_cpu_core": round((cpu1 - cpu0) / (wall1 - wall0), 3),
        "ten_mappings_pages": len(pages),
        "ten_mappings_lost": sum(p["lost"] for p in pages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["rtp-to-poly", "poly-to-rtp", "cpu"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not only_loopback():
        sys.exit("run it in the private namespace: tools/isolated python benchmarks/bridge.py")
    os.environ.update({"POLYPTT_IFACE": "127.0.0.1", "POLYPTT_TTL": "0"})
    versions = f"polyptt {package.__version__}, Python {platform.python_version()}"
    print(f"{versions}, {platform.machine()}, {os.cpu_count()} CPUs", file=sys.stderr)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if args.only in (None, "rtp-to-poly"):
            results.update(rtp_to_poly(tmp))
        if args.only in (None, "poly-to-rtp"):
            results.update(poly_to_rtp(tmp))
        if args.only in (None, "cpu"):
            results.update(ten_mappings(tmp))
    report(results, GOALS, args.json)


if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    main()
