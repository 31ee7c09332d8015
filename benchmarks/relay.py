"""The relay under load: many listeners, many talkers, and its latencies.

Usage (sends packets: inside the private network namespace)::

    PYTHONPATH=src tools/isolated python benchmarks/relay.py [--listeners 200] [--json]

A real ``polyptt relay`` process on 127.0.0.1; clients (aiohttp) and the wire capture
(kernel receive timestamps, `tests.support.udp_capture.UdpCapture`) in this process. Four runs:

listeners
    `--listeners` WebSocket listeners on one 10 s page sent by ``polyptt send``: the
    relay's CPU over the page (share of one core, from /proc) and the delivery lag of
    each 20 ms audio message: its arrival at a listener minus the wire arrival of the
    packet that completed it. Goals: <= 25 % of a core, p99 <= 100 ms.
talkers
    10 WebSocket talkers on 10 channels streaming 5 s in real time: pacing, each
    transmit packet's lateness against its channel's ideal 20 ms grid. Goal p99 <= 2 ms.
http
    ``POST /api/v1/pages`` (a 0.2 s file) to its first alert on the wire. Goal p50 <= 30 ms.
ws-to-wire
    A talker that starts streaming once the alerts are over: each 20 ms frame's send
    time to the wire arrival of the packet carrying it. Goals p50 <= 25 ms, p99 <= 40 ms.
listen
    Per codec (g711u, g722, g726qi), a 3 s page from ``polyptt send`` (30 ms packets)
    and one WebSocket listener: each 20 ms message's arrival minus the wire arrival of
    the packet that completed it (`tests.relay.listen_timing`). The first message waits
    for the second packet (the receiver learns the frame step from two). Goal p99 <= 40 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from tests.support.listen_timing import follow_page, message_lags  # noqa: E402
from tests.support.processes import polyptt_command, polyptt_env  # noqa: E402
from tests.support.relay import add_token, start_relay, write_config  # noqa: E402
from tests.support.udp_capture import UdpCapture, free_port  # noqa: E402

from _common import FRAME_S, report, talk_in_real_time  # noqa: E402
from polyptt.protocol import (  # noqa: E402
    DEFAULT_GROUP,
    AlertPacket,
    TransmitPacket,
    parse_packet,
)

SPEECH = ROOT / "tests" / "data" / "speech16k.wav"
GOALS = {
    "listeners_cpu_core": 0.25,
    "listeners_lag_p99_ms": 100.0,
    "talkers_pacing_p99_ms": 2.0,
    "http_first_alert_p50_ms": 30.0,
    "ws_to_wire_p50_ms": 25.0,
    "ws_to_wire_p99_ms": 40.0,
    **{f"listen_{codec}_lag_p99_ms": 40.0 for codec in ("g711u", "g722", "g726qi")},
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def packets(datagrams: list[tuple[float, bytes]]) -> list[tuple[float, Any]]:
    return [(t, parse_packet(d)) for t, d in datagrams]


def speech_frames(seconds: float) -> list[bytes]:
    pcm = soundfile.read(SPEECH, dtype="int16")[0]
    pcm = np.tile(pcm, int(np.ceil(seconds * 16000 / len(pcm))))[: int(seconds * 16000)]
    return [pcm[i : i + 320].astype("<i2").tobytes() for i in range(0, len(pcm), 320)]


def ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 2)


async def run_listeners(relay: Any, token: str, port: int, count: int, tmp: Path) -> dict:
    long_wav = tmp / "long.wav"
    pcm = np.frombuffer(b"".join(speech_frames(10.0)), dtype="<i2")
    soundfile.write(long_wav, pcm, 16000)
    arrivals: list[list[tuple[float, int]]] = [[] for _ in range(count)]
    done = asyncio.Event()
    headers = {"Authorization": f"Bearer {token}"}
    # no connection limit: aiohttp's default of 100 would hold listener 101 back forever
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = [await session.ws_connect(relay.ws_url, headers=headers) for _ in range(count)]
        for ws in sockets:
            await ws.send_json({"type": "listen"})

        async def read(index: int, ws: Any) -> None:
            while True:
                message = await ws.receive()
                if message.type == aiohttp.WSMsgType.BINARY:
                    frame = int.from_bytes(message.data[4:8], "big")
                    arrivals[index].append((time.time(), frame))
                elif message.type == aiohttp.WSMsgType.TEXT:
                    if json.loads(message.data)["type"] == "page_end":
                        return
                else:
                    return

        readers = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(sockets)]
        with UdpCapture(port) as capture:
            cpu0, wall0 = cpu_seconds(relay.process.pid), time.monotonic()
            sender = await asyncio.create_subprocess_exec(
                *polyptt_command(
                    "send", "--frame-ms", "30", "--to", f"{DEFAULT_GROUP}:{port}", str(long_wav)
                ),
                env=polyptt_env(),
            )
            await sender.wait()
            await asyncio.wait_for(asyncio.gather(*readers), 30)
            cpu1, wall1 = cpu_seconds(relay.process.pid), time.monotonic()
            wire = packets(capture.wait_quiet())
        done.set()
        for ws in sockets:
            await ws.close()
    transmits = [t for t, p in wire if isinstance(p, TransmitPacket)]
    lags = []
    for per_listener in arrivals:
        for arrived, frame in per_listener:
            last_sample = (frame + 1) * 320  # at 16 kHz; a 30 ms packet holds 480
            packet = min(len(transmits) - 1, -(-last_sample // 480) - 1)
            lags.append(arrived - transmits[packet])
    return {
        "listeners": count,
        "messages": sum(len(a) for a in arrivals),
        "listeners_cpu_core": round((cpu1 - cpu0) / (wall1 - wall0), 3),
        "listeners_lag_p50_ms": ms(lags, 50),
        "listeners_lag_p99_ms": ms(lags, 99),
    }


async def talk(
    session: Any, url: str, token: str, channel: int, frames: list[bytes], wait_s: float = 0.0
) -> list[float]:
    """Stream `frames` in real time on `channel`; the send time of each."""
    async with session.ws_connect(url, headers={"Authorization": f"Bearer {token}"}) as ws:
        request = {"type": "talk", "channel": channel}
        return await talk_in_real_time(ws, request, frames, wait_s)


async def run_talkers(relay: Any, tokens: list[str], port: int) -> dict:
    frames = speech_frames(5.0)
    with UdpCapture(port) as capture:
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(
                *(talk(session, relay.ws_url, t, 26 + i, frames) for i, t in enumerate(tokens))
            )
        wire = packets(capture.wait_quiet())
    lateness = []
    for channel in range(26, 26 + len(tokens)):
        times = np.array(
            [t for t, p in wire if isinstance(p, TransmitPacket) and p.channel == channel]
        )
        late = times - times[0] - np.arange(len(times)) * FRAME_S
        lateness.extend(late - late.min())
    return {
        "talkers": len(tokens),
        "talkers_pacing_p99_ms": ms(lateness, 99),
        "talkers_pacing_max_ms": ms(lateness, 100),
    }


async def run_http(relay: Any, token: str, port: int, tmp: Path, runs: int) -> dict:
    short = tmp / "short.wav"
    soundfile.write(short, np.frombuffer(b"".join(speech_frames(0.2)), "<i2"), 16000)
    body = short.read_bytes()
    delays = []
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session:
        for _ in range(runs):
            with UdpCapture(port) as capture:
                start = time.time()
                async with session.post(
                    relay.url + "/api/v1/pages?channel=26&wait=1", data=body, headers=headers
                ) as answer:
                    assert answer.status == 200, await answer.text()
                first = next(t for t, p in packets(capture.packets) if isinstance(p, AlertPacket))
            delays.append(first - start)
    return {
        "http_runs": runs,
        "http_first_alert_p50_ms": ms(delays, 50),
        "http_first_alert_max_ms": ms(delays, 100),
    }


async def run_ws_to_wire(relay: Any, token: str, port: int) -> dict:
    frames = speech_frames(4.0)
    with UdpCapture(port) as capture:
        async with aiohttp.ClientSession() as session:
            sent = await talk(session, relay.ws_url, token, 27, frames, wait_s=1.2)
        wire = packets(capture.wait_quiet())
    transmits = [t for t, p in wire if isinstance(p, TransmitPacket)]
    latency = [w - s for s, w in zip(sent, transmits, strict=False)]
    return {"ws_to_wire_p50_ms": ms(latency, 50), "ws_to_wire_p99_ms": ms(latency, 99)}


async def run_listen(relay: Any, token: str, port: int, tmp: Path) -> dict:
    wav = tmp / "listen.wav"
    soundfile.write(wav, np.frombuffer(b"".join(speech_frames(3.0)), "<i2"), 16000)
    results: dict[str, Any] = {}
    for codec in ("g711u", "g722", "g726qi"):
        page = await follow_page(relay.ws_url, token, port, codec, wav)
        lags = message_lags(page)
        results[f"listen_{codec}_lag_p50_ms"] = ms(lags, 50)
        results[f"listen_{codec}_lag_p99_ms"] = ms(lags, 99)
        results[f"listen_{codec}_lag_max_ms"] = ms(lags, 100)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--talkers", type=int, default=10, choices=range(1, 11))
    parser.add_argument("--http-runs", type=int, default=10)
    parser.add_argument("--only", choices=["listeners", "talkers", "http", "ws-to-wire", "listen"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        config = write_config(
            tmp / "relay",
            "[limits]\nconnections_per_token = 1000\nconnections_per_address = 1000\n"
            "send_queue = 500\n",  # 200 listeners from one address: above the relay's cap
        )
        tokens = [add_token(config, f"T{i}", "listen,talk") for i in range(10)]
        port = free_port()
        relay = start_relay(config, udp_port=port)
        try:
            runs = {
                "listeners": lambda: run_listeners(relay, tokens[0], port, args.listeners, tmp),
                "talkers": lambda: run_talkers(relay, tokens[: args.talkers], port),
                "http": lambda: run_http(relay, tokens[0], port, tmp, args.http_runs),
                "ws-to-wire": lambda: run_ws_to_wire(relay, tokens[0], port),
                "listen": lambda: run_listen(relay, tokens[0], port, tmp),
            }
            results: dict[str, Any] = {}
            for name, run in runs.items():
                if args.only in (None, name):
                    results.update(asyncio.run(run()))
        finally:
            relay.stop()
    report(results, GOALS, args.json)


if __name__ == "__main__":
    main()
