"""How soon ``polyptt bridge`` carries audio each way, and what ten mappings cost.

Run inside the private network namespace, from the repository root:

    PYTHONPATH=src tools/isolated python benchmarks/bridge.py [--only rtp-to-poly] [--json]

RTP -> Poly latency (in this process, the job's own classes on real sockets): a sender
process sends the test speech, six times over, as 20 ms PCMU packets to the RTP group;
`polyptt.bridge.rtp_to_poly.RtpToPoly` reads them from its socket, and the page goes
out (G.722, 20 ms frames) through the job's pacer thread to a UDP socket that notes
when each transmit packet left. For every packet whose audio went out once the page had
caught up after its alerts (from `CAUGHT_UP_S` into a 29 s stream), the time from its
being read off the socket to the transmit packet carrying its first sample leaving
(pauses the page skipped to catch up are accounted; the 8 -> 16 kHz filter's 1.5 ms
delay is counted in).

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
import asyncio
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.*; polyptt itself: installed or PYTHONPATH=src

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
from polyptt.bridge.rtp import RtpPacket  # noqa: E402
from polyptt.bridge.rtp_to_poly import PageTarget, RtpToPoly, Stream  # noqa: E402
from polyptt.bridge.serve import _drain  # noqa: E402
from polyptt.protocol import DEFAULT_GROUP, TransmitPacket, parse_packet  # noqa: E402
from polyptt.receive.inbound import Endpoint, open_sockets  # noqa: E402
from polyptt.send import PacerThread  # noqa: E402
from polyptt.transport import Destination, UdpSink  # noqa: E402

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


class TimedSink(UdpSink):
    """A paging socket that notes when each transmit packet left."""

    sent: list[float]

    def send(self, datagram: bytes, offset: float) -> None:
        super().send(datagram, offset)
        if datagram[0] == 0x10:
            self.sent.append(time.monotonic())


async def rtp_to_poly() -> dict[str, Any]:
    poly_port, rtp_port = free_port(), free_port() & ~1
    sink = TimedSink(Destination(DEFAULT_GROUP, poly_port), interface="127.0.0.1", ttl=0)
    sink.sent = []
    fed: list[tuple[int, float]] = []
    streams: list[Stream] = []

    def on_feed(stream: Stream, position: int, arrival: float) -> None:
        if not streams:
            streams.append(stream)
        fed.append((position, arrival))

    pacer = PacerThread()
    ended = asyncio.Event()
    target = PageTarget(26, 0xBD6E0001, "bench", "g722", 20, idle_s=0.5)
    ingress = RtpToPoly(target, pacer, sink, lambda _e: ended.set(), on_feed=on_feed)
    rtp, _rtcp = open_sockets(
        [Endpoint(RTP_GROUP, rtp_port), Endpoint(RTP_GROUP, rtp_port + 1)], "127.0.0.1"
    )
    loop = asyncio.get_running_loop()
    loop.add_reader(rtp, _drain, rtp, ingress.datagram)
    sender = send_in_another_process(rtp_port, device_stream(0x1234, REPEATS))
    while not ended.is_set():
        ingress.tick(time.monotonic())
        await asyncio.sleep(0.01)
    sender.wait()
    loop.remove_reader(rtp)
    await asyncio.to_thread(pacer.close)
    return _rtp_latencies(fed, sink.sent, streams[0].live.skipped, pacer.realtime_granted)


def _rtp_latencies(
    fed: list[tuple[int, float]], sent: list[float], skipped: list[tuple[int, int]], rt: Any
) -> dict[str, Any]:
    frame = 320  # 20 ms at 16 kHz
    delay = 24  # the upsampler's delay, in output samples
    start = fed[0][1]
    lags = []
    for position, arrival in fed:
        if arrival - start < CAUGHT_UP_S:
            continue
        gone = sum(length for at, length in skipped if at + length <= position)
        if any(at <= position < at + length for at, length in skipped):
            continue  # its first sample was skipped (a pause): nothing carries it
        index = (position - gone + delay) // frame
        if index < len(sent):
            lags.append(sent[index] - arrival)
    # how late the packets came, against the sender's 20 ms cadence (load on the machine)
    steady = [
        (position // frame, arrival) for position, arrival in fed if arrival - start >= CAUGHT_UP_S
    ]
    late = [arrival - 0.02 * index for index, arrival in steady]
    late = [value - min(late) for value in late]
    return {
        "rtp_to_poly_p50_ms": ms(lags, 50),
        "rtp_to_poly_p99_ms": ms(lags, 99),
        "rtp_to_poly_packets": len(lags),
        "rtp_arrival_late_p99_ms": ms(late, 99),
        "pacer_realtime": rt,
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
            results.update(asyncio.run(rtp_to_poly()))
        if args.only in (None, "poly-to-rtp"):
            results.update(poly_to_rtp(tmp))
        if args.only in (None, "cpu"):
            results.update(ten_mappings(tmp))
    report(results, GOALS, args.json)


if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    main()
