"""Run ``polyptt bridge`` for real, feed it RTP, and check what comes out.

RTP senders are third-party programs (ffmpeg, GStreamer) or `RtpSender`, built on
`polyptt.bridge.rtp`, which sends exactly the packets a test scripts (losses,
reordering, duplicates, wraps). Everything stays on loopback with TTL 0 inside the
test network namespace.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import soxr
from tests.support.audio_devices import align_talkspurts, talkspurts
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.relay_audio import SPEECH

from polyptt import codecs
from polyptt.bridge.rtp import Bye, RtpPacket, SenderReport
from polyptt.protocol import DEFAULT_GROUP

RTP_GROUP = "239.1.2.3"
LOOPBACK = "127.0.0.1"


@dataclass
class BridgeProcess:
    """A ``polyptt bridge`` process; its output is in files below `folder`."""

    process: subprocess.Popen[bytes]
    folder: Path
    status: int | None = None

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            self.status = self.process.wait(timeout=timeout)
        finally:
            if self.process.returncode is None:
                self.process.kill()
                self.process.wait()
        return self.status

    @property
    def stdout(self) -> str:
        return (self.folder / "bridge.out").read_text()

    @property
    def stderr(self) -> str:
        return (self.folder / "bridge.err").read_text()

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def pages(self, direction: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("direction") == direction]

    def wait_for_pages(self, direction: str, count: int, timeout: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(found := self.pages(direction)) < count:
            assert time.monotonic() < deadline, (found, self.stderr)
            time.sleep(0.05)
        return found


def start_bridge(folder: Path, *args: str, name: str = "bridge") -> BridgeProcess:
    """Start ``polyptt bridge ARGS``; returns once it says it is ready (on stderr)."""
    where = folder / name
    where.mkdir(parents=True, exist_ok=True)
    out = (where / "bridge.out").open("w")
    err = (where / "bridge.err").open("w")
    process = subprocess.Popen(
        polyptt_command("bridge", *args), stdout=out, stderr=err, env=polyptt_env()
    )
    out.close()
    err.close()
    bridge = BridgeProcess(process, where)
    deadline = time.monotonic() + 15
    while "polyptt bridge:" not in bridge.stderr:
        if process.poll() is not None or time.monotonic() > deadline:
            bridge.stop(signal.SIGKILL)
            raise AssertionError(f"the bridge did not start: {bridge.stderr}")
        time.sleep(0.02)
    time.sleep(0.1)
    return bridge


def start_mapping(
    folder: Path, poly_port: int, rtp_port: int, *more: str, name: str = "bridge"
) -> BridgeProcess:
    """A bridge of one mapping: RTP at `RTP_GROUP`:`rtp_port` and channel 26 at the Poly
    group on `poly_port`; `more` (``--direction poly-to-rtp``...) goes before ``--to``."""
    return start_bridge(
        folder, "--rtp", f"{RTP_GROUP}:{rtp_port}", "--channel", "26", *more,
        "--to", f"{DEFAULT_GROUP}:{poly_port}", name=name,
    )  # fmt: skip


def start_mappings(
    folder: Path, poly_port: int, rtp_ports: list[int], *, zones: bool = False, name: str = "bridge"
) -> BridgeProcess:
    """A bridge configured with one mapping for each of `rtp_ports` (at `RTP_GROUP`), on
    channels 26 up, paging the Poly group on `poly_port`; with `zones`, caller ids
    ``Zone 0``, ``Zone 1``..."""
    config = folder / f"{name}.toml"
    config.write_text(
        "".join(
            f"[[bridge]]\nrtp = '{RTP_GROUP}:{port}'\nchannel = {26 + n}\n"
            + (f"caller_id = 'Zone {n}'\n" if zones else "")
            for n, port in enumerate(rtp_ports)
        )
    )
    return start_bridge(
        folder, "--config", str(config), "--to", f"{DEFAULT_GROUP}:{poly_port}", name=name
    )


def sender_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOOPBACK))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 0)
    return sock


class RtpSender:
    """Sends scripted RTP (and RTCP to the next port) to `group`:`port`, paced."""

    def __init__(self, port: int, group: str = RTP_GROUP) -> None:
        self.to = (group, port)
        self.rtcp_to = (group, port + 1)
        self.sock = sender_socket()

    def send(self, packets: Sequence[bytes], interval: float = 0.02) -> None:
        start = time.monotonic()
        for index, data in enumerate(packets):
            delay = start + index * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.sock.sendto(data, self.to)

    def bye(self, ssrc: int) -> None:
        report = SenderReport(ssrc, 0, 0, 0, 0)
        self.sock.sendto(bytes(report) + bytes(Bye((ssrc,))), self.rtcp_to)

    def close(self) -> None:
        self.sock.close()


def rtp_stream(
    pcm8k: np.ndarray, *, ssrc: int, seq: int = 1000, ts: int = 5000, pt: int = 0
) -> list[RtpPacket]:
    """20 ms PCMU (pt 0) or PCMA (pt 8) packets of 8 kHz audio."""
    name = {0: "g711u", 8: "g711a"}[pt]
    coded = codecs.encode(name, pcm8k[: len(pcm8k) // 160 * 160])
    return [
        RtpPacket(
            pt,
            (seq + n) & 0xFFFF,
            (ts + 160 * n) & 0xFFFFFFFF,
            ssrc,
            coded[160 * n : 160 * (n + 1)],
            marker=n == 0,
        )
        for n in range(len(coded) // 160)
    ]


def speech(rate: int) -> np.ndarray:
    """The test speech (16 kHz) at `rate`."""
    pcm, source_rate = soundfile.read(SPEECH, dtype="int16")
    if rate == source_rate:
        return pcm
    return soxr.resample(pcm, source_rate, rate, quality="VHQ")


def band(audio: np.ndarray, rate: int, band_rate: int) -> np.ndarray:
    """`audio` at `band_rate` (the RTP codec's band) for comparison."""
    if rate == band_rate:
        return audio.astype(np.int16)
    return soxr.resample(audio.astype(np.int16), rate, band_rate, quality="VHQ")


def voiced_correlations(recorded: np.ndarray, reference: np.ndarray, rate: int) -> list[float]:
    """The correlation of every voiced stretch of `reference` found in `recorded`."""
    found = align_talkspurts(recorded, reference, rate, first_within_s=2.5)
    assert len(found) == len(talkspurts(reference, rate)) >= 2
    return [corr for _lag, corr in found]


def assert_voiced(recorded: np.ndarray, reference: np.ndarray, rate: int) -> None:
    """Every voiced stretch of `reference` is in `recorded` with correlation > 0.9."""
    correlations = voiced_correlations(recorded, reference, rate)
    print(f"voiced stretches at {rate} Hz: correlations {[round(c, 3) for c in correlations]}")
    assert min(correlations) > 0.9, [round(c, 3) for c in correlations]


def poly_counts(datagrams: Iterable[bytes]) -> dict[str, int]:
    """Alerts, transmits and ends among Poly datagrams."""
    kinds = {0x0F: "alerts", 0x10: "transmits", 0xFF: "ends"}
    counts = dict.fromkeys(kinds.values(), 0)
    for data in datagrams:
        counts[kinds[data[0]]] += 1
    return counts
