"""An MQTT message to the first alert on the wire: how long a spoken page takes.

Usage (sends packets: inside the private network namespace)::

    PYTHONPATH=src tools/isolated python benchmarks/mqtt.py [--runs 20] [--json]

A real mosquitto (tests/support/mosquitto.py) and a real ``polyptt relay`` process on
127.0.0.1 with ``[mqtt] announce_channels = [26]``; this process publishes
``{"channel": 26, "say": TEXT}`` (ten words) on ``<topic>/page/set`` and notes the time
just before the publish; the first alert's kernel arrival stamp on the group
(`tests.support.udp_capture.UdpCapture`) ends the measurement. Each page is waited out
(its ``event/page_ended`` seen on MQTT) before the next. What it covers: the broker
hop, the JSON check, espeak-ng's synthesis, encoding (G.722), and the pacer's first
packet. Issue 20's goal for text to first alert (no MQTT) is <= 250 ms at the median.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiomqtt  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402
from tests.support.mqtt_client import watcher  # noqa: E402
from tests.support.relay import start_relay, write_config  # noqa: E402
from tests.support.udp_capture import UdpCapture, free_port  # noqa: E402

import polyptt  # noqa: E402
from polyptt.protocol import AlertPacket, parse_packet  # noqa: E402

TEXT = "Attention please, the library will close in fifteen minutes today"
TOPIC = "polyptt/bench"


def versions() -> str:
    espeak = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True)
    mosquitto = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True)
    return (
        f"polyptt {polyptt.__version__}, Python {platform.python_version()}, "
        f"aiomqtt {aiomqtt.__version__}, {espeak.stdout.strip().split(' Data')[0]}, "
        f"{mosquitto.stdout.splitlines()[0] if mosquitto.stdout else 'mosquitto'}"
    )


async def measure(port: int, udp: int, runs: int) -> list[float]:
    """Seconds from each publish to its page's first alert."""
    delays = []
    async with watcher(port, f"{TOPIC}/#") as client:
        await client.topic(f"{TOPIC}/status", b"online", timeout=15)
        message = json.dumps({"channel": 26, "say": TEXT})
        with UdpCapture(udp) as capture:
            for _ in range(runs):
                before, seen = len(capture.packets), len(client.messages)
                sent = time.time()
                await client.client.publish(f"{TOPIC}/page/set", message, qos=1)
                await client.topic(f"{TOPIC}/event/page_ended", after=seen, timeout=30)
                await asyncio.sleep(0.6)  # the relay hears its page as its own no longer
                alerts = [
                    t
                    for t, d in capture.packets[before:]
                    if isinstance(parse_packet(d), AlertPacket)
                ]
                delays.append(alerts[0] - sent)
    return delays


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()
    print(versions())
    print(f"text ({len(TEXT.split())} words): {TEXT!r}; runs: {args.runs}")
    with tempfile.TemporaryDirectory() as folder:
        broker = Mosquitto(Path(folder))
        broker.start()
        udp = free_port()
        config = write_config(
            Path(folder) / "relay",
            f'[mqtt]\nurl = "{broker.url}"\ntopic = "{TOPIC}"\nannounce_channels = [26]\n',
        )
        relay = start_relay(config, udp_port=udp)
        try:
            delays = np.array(asyncio.run(measure(broker.port, udp, args.runs))) * 1000
        finally:
            relay.stop()
            broker.stop()
    result = {
        "runs": len(delays),
        "median_ms": round(float(np.median(delays)), 1),
        "p99_ms": round(float(np.percentile(delays, 99)), 1),
        "min_ms": round(float(delays.min()), 1),
        "max_ms": round(float(delays.max()), 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"MQTT message to first alert: median {result['median_ms']} ms, "
            f"p99 {result['p99_ms']} ms (min {result['min_ms']}, max {result['max_ms']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
