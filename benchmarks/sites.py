"""Relays joined over NATS: the latency a site adds, and the cost of remote pages.

Usage (sends packets: inside the private network namespace)::

    PYTHONPATH=src tools/isolated python benchmarks/sites.py [--pages 20] [--json]

Debian's ``nats-server`` and two real ``polyptt relay`` processes, north and south, on
127.0.0.1, their LANs on two multicast ports (`tests.support.nats`,
`tests.support.relay`); clients and the wire captures (kernel receive timestamps) in
this process. Runs:

local / remote
    A WebSocket talker at north streams 6 s of speech in real time (every sample:
    ``keep_pauses``), starting once the alerts are over: each 20 ms frame's send time to
    the wire arrival of the transmit packet carrying it, on north's own LAN (local) and
    on south's LAN with ``sites: ["south"]`` (remote). Goal: remote p99 <= local p99 +
    60 ms (the jitter buffer starts at 60 ms).
cpu
    `--pages` uploads of 10 s posted at north at once on channels 1-20 with
    ``sites=south``: south's CPU over them (share of one core, from /proc) while it
    rebuilds them on its LAN, and north's while it paces and publishes them. Goal: south
    <= 30 % of a core.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import aiohttp  # noqa: E402
from tests.support.nats import NatsServer  # noqa: E402
from tests.support.relay import start_relay, write_config  # noqa: E402
from tests.support.udp_capture import UdpCapture, free_port  # noqa: E402

from _common import report, talk_in_real_time  # noqa: E402
from polyptt.protocol import TransmitPacket  # noqa: E402
from polyptt.relay.auth import ALL_CHANNELS, TokenStore  # noqa: E402
from polyptt.relay.config import load_config  # noqa: E402
from relay import cpu_seconds, ms, packets, speech_frames  # noqa: E402

GOALS = {"remote_minus_local_p99_ms": 60.0, "south_cpu_core": 0.30}


async def talk(url: str, token: str, frames: list[bytes], **extra: Any) -> list[float]:
    """Stream `frames` in real time on channel 27 once the alerts are over; send times."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers=headers) as ws:
        request = {"type": "talk", "channel": 27, "keep_pauses": True, **extra}
        return await talk_in_real_time(ws, request, frames, wait_s=1.2)  # after the alerts


def latency(url: str, token: str, port: int, **extra: Any) -> list[float]:
    frames = speech_frames(6.0)
    with UdpCapture(port) as capture:
        sent = asyncio.run(talk(url, token, frames, **extra))
        wire = packets(capture.wait_quiet(quiet=1.0))
    transmits = [t for t, p in wire if isinstance(p, TransmitPacket)]
    assert len(transmits) == len(frames), (len(transmits), len(frames))
    return [w - s for s, w in zip(sent, transmits, strict=True)]


async def post_all(url: str, token: str, body: bytes, count: int) -> list[int]:
    async with aiohttp.ClientSession() as session:

        async def post(channel: int) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            query = f"{url}/api/v1/pages?channel={channel}&sites=south&wait=1"
            async with session.post(query, data=body, headers=headers) as answer:
                return answer.status

        return list(await asyncio.gather(*(post(c) for c in range(1, count + 1))))


def cpu(north: Any, south: Any, token: str, count: int, tmp: Path) -> dict[str, float]:
    wav = tmp / "ten.wav"
    soundfile.write(wav, np.frombuffer(b"".join(speech_frames(10.0)), "<i2"), 16000)
    pids = (north.process.pid, south.process.pid)
    before = [cpu_seconds(pid) for pid in pids]
    start = time.monotonic()
    statuses = asyncio.run(post_all(north.url, token, wav.read_bytes(), count))
    time.sleep(0.5)  # south's last end packets
    wall = time.monotonic() - start
    used = [cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)]
    assert statuses == [200] * count, statuses
    return {"north_cpu_core": round(used[0] / wall, 3), "south_cpu_core": round(used[1] / wall, 3)}


def relays(tmp: Path, nats: str) -> dict[str, tuple[Any, int, str]]:
    made = {}
    for name in ("north", "south"):
        text = f'site = "{name}"\n[nats]\nurl = "{nats}"\n'
        config = write_config(tmp / name, text + "[limits]\nmax_page_s = 30\n")
        store = TokenStore(load_config(config).tokens_path)
        token = store.add("Bench", frozenset({"talk"}), ALL_CHANNELS, frozenset(), None, None)
        port = free_port()
        data = ["--data", str(tmp / name / "data")]
        made[name] = (start_relay(config, udp_port=port, args=data), port, token)
    return made


def wait_joined(relay: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nats = relay.request("GET", "/healthz")[1].get("nats", {})
        if nats.get("link") == "up" and nats.get("sites"):
            return
        time.sleep(0.1)
    raise SystemExit("the relays did not join")


def run(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    server = NatsServer(tmp)
    server.start()
    made = relays(tmp, server.url)
    (north, north_port, token), (south, south_port, _) = made["north"], made["south"]
    try:
        wait_joined(north)
        wait_joined(south)
        local = latency(north.ws_url, token, north_port)
        remote = latency(north.ws_url, token, south_port, sites=["south"])
        results = {
            "local_p50_ms": ms(local, 50),
            "local_p99_ms": ms(local, 99),
            "remote_p50_ms": ms(remote, 50),
            "remote_p99_ms": ms(remote, 99),
        }
        results["remote_minus_local_p99_ms"] = round(
            results["remote_p99_ms"] - results["local_p99_ms"], 2
        )
        results.update(cpu(north, south, token, args.pages, tmp))
        return results
    finally:
        north.stop()
        south.stop()
        server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20, choices=range(1, 24))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = run(args, Path(folder))
    report(results, GOALS, args.json)


if __name__ == "__main__":
    main()
