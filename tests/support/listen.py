"""Run ``polyptt listen`` for real and check what it recorded against what was sent.

Pages come from ``polyptt send --pcap`` (exact, deterministic datagrams); a replayer sends
them over real UDP inside the test network namespace, optionally through a scripted
"network" that drops, duplicates and reorders. The expected audio of a page is computed
independently of the listener: split each transmit packet as the protocol says (the
redundant half has the previous packet's frame size) and decode the new frames in order.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from tests.support.processes import polyptt_command, polyptt_env

from polyptt import codecs
from polyptt.pcap import read_datagrams
from polyptt.protocol import DEFAULT_GROUP, TransmitPacket, parse_packet

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GROUP = DEFAULT_GROUP
CHIME = PROJECT_ROOT / "examples" / "audio" / "chime.wav"


def polyptt(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Run the polyptt command under test to completion."""
    env = polyptt_env()
    return subprocess.run(
        polyptt_command(*args),
        check=check,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        **kwargs,
    )


def make_page_capture(
    path: Path,
    *,
    codec: str = "g722",
    frame_ms: int = 30,
    channel: int = 26,
    serial: int = 0x1000,
    caller_id: str = "Test",
    start_count: int = 0,
    port: int = 5001,
    audio: Path = CHIME,
    extra: Sequence[str] = (),
) -> list[tuple[float, bytes]]:
    """A page written by ``polyptt send --pcap``, as (time, datagram) pairs."""
    polyptt(
        "send",
        "--pcap",
        str(path),
        "--codec",
        codec,
        "--frame-ms",
        str(frame_ms),
        "--channel",
        str(channel),
        "--serial",
        str(serial),
        "--caller-id",
        caller_id,
        "--start-count",
        str(start_count),
        "--to",
        f"{GROUP}:{port}",
        *extra,
        str(audio),
    )
    return [(d.time, d.payload) for d in read_datagrams(path)]


def expected_audio(datagrams: Iterable[bytes]) -> tuple[str, np.ndarray, list[bytes]]:
    """Codec name, decoded audio and frames of one page's transmit packets, in order."""
    transmits = [p for p in map(parse_packet, datagrams) if isinstance(p, TransmitPacket)]
    frames: list[bytes] = []
    for packet in transmits:
        _, frame = packet.split(len(frames[-1]) if frames else 0)
        frames.append(frame)
    name = codecs.by_wire_id(int(transmits[0].codec)).name
    return name, codecs.decode(name, b"".join(frames)), frames


@dataclass
class Listening:
    """A ``polyptt listen`` process and what it produced."""

    process: subprocess.Popen
    record: Path
    streams: tuple = ()
    stdout: str = ""
    stderr: str = ""

    def wait(self, timeout: float = 60) -> int:
        """Wait for the exit; its output is then in `stdout` and `stderr`."""
        try:
            status = self.process.wait(timeout=timeout)
        finally:
            if self.process.returncode is None:
                self.process.kill()
                self.process.wait()
            for stream in self.streams:
                stream.close()
        self.stdout = (self.record.parent / "listen.out").read_text()
        self.stderr = (self.record.parent / "listen.err").read_text()
        return status

    @property
    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def recordings(self, source: str | None = None) -> dict[tuple[int, int], tuple[dict, Any]]:
        """(serial, channel) -> (metadata, audio) of every recording (from `source`)."""
        found = {}
        for meta_path in sorted(self.record.glob("*.json")):
            meta = json.loads(meta_path.read_text())
            if source is not None and meta["source"] != source:
                continue
            key = (meta["serial"], meta["channel"])
            assert key not in found, f"two recordings of {key}"
            wav = meta_path.with_suffix(".wav")
            audio = soundfile.read(wav, dtype="int16")[0] if wav.exists() else None
            found[key] = (meta, audio)
        return found


def _port_bound(port: int) -> bool:
    needle = f":{port:04X} "
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        if any(needle in line.split("00000000:0000")[0] for line in lines):
            return True
    return False


def start_listen(
    record: Path,
    *args: str,
    port: int = 5001,
    play: bool = False,
    pythonpath: Sequence[Path] = (),
) -> Listening:
    """Start ``polyptt listen --json --record`` on `port`; returns once it is bound.

    `pythonpath` entries come before polyptt on PYTHONPATH (to stand in for modules).
    """
    env = polyptt_env(pythonpath)
    # files, not pipes: a flood of page events must not block the listener's writes
    streams = ((record.parent / "listen.out").open("w"), (record.parent / "listen.err").open("w"))
    process = subprocess.Popen(
        [
            *polyptt_command(),
            "listen",
            "--play" if play else "--no-play",
            "--json",
            "--record",
            str(record),
            "--from",
            f"{GROUP}:{port}",
            *args,
        ],
        stdout=streams[0],
        stderr=streams[1],
        env=env,
    )
    deadline = time.monotonic() + 10
    while not _port_bound(port):
        if process.poll() is not None or time.monotonic() > deadline:
            _out, err = process.communicate()
            raise AssertionError(f"listen did not start: {err}")
        time.sleep(0.02)
    time.sleep(0.1)  # bound; the group is joined right after
    return Listening(process, record, streams)


def sender_socket() -> socket.socket:
    """A UDP socket on 127.0.0.1 whose multicast stays on loopback (TTL 0)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 0)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    return sock


def replay(
    schedule: Sequence[tuple[float, bytes]] | Sequence[tuple[float, bytes, int]],
    port: int,
    *,
    speed: float = 1.0,
    sockets: int = 1,
    to: str = GROUP,
) -> list[str]:
    """Send (time, datagram[, socket index]) at their relative times / `speed`.

    Returns the ``address:port`` each socket sent from.
    """
    socks = [sender_socket() for _ in range(sockets)]
    sources = ["{}:{}".format(*sock.getsockname()) for sock in socks]
    try:
        ordered = sorted(schedule, key=lambda item: item[0])
        origin = ordered[0][0]
        start = time.monotonic()
        for item in ordered:
            due = start + (item[0] - origin) / speed
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            index = item[2] if len(item) > 2 else 0
            socks[index].sendto(item[1], (to, port))
    finally:
        for sock in socks:
            sock.close()
    return sources


def with_serial(datagrams: Iterable[tuple[float, bytes]], serial: int):
    """The same page under another host serial (bytes 2-5 of every header)."""
    raw = serial.to_bytes(4, "big")
    return [(t, d[:2] + raw + d[6:]) for t, d in datagrams]
