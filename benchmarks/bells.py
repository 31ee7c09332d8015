"""How late a bell's first alert leaves after its due second: the distribution.

Usage::

    PYTHONPATH=src tools/isolated python benchmarks/bells.py [--bells 20] [--json]

One relay in this process rings an every-minute schedule (a 0.3 s tone) `--bells`
times. Cron has minutes, not seconds, so the bells' clock is the real one shifted by
whole seconds: before each bell the shift is set so that the schedule's next minute is
the real whole second about 1-2 s ahead. Everything else is real: the relay's task
sleeps until then, and the page leaves on the loopback group, where a socket stamps
each datagram's arrival in the kernel (``SO_TIMESTAMPNS``). Lateness is the first
alert's stamp minus the due second. Goal: every one within 50 ms (issue 20).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.relay.bells.clock import bells_relay  # noqa: E402
from tests.support.relay import write_config  # noqa: E402
from tests.support.udp_capture import UdpCapture, free_port  # noqa: E402

from polyptt.protocol import AlertPacket, parse_packet  # noqa: E402

GOAL_S = 0.050
#: A minute boundary of the bells' clock (2026-12-07 07:00 UTC).
BASE = 1796626800


class ShiftedClock:
    def __init__(self) -> None:
        self.shift = 0.0

    def now(self) -> float:
        return time.time() + self.shift


async def ring_all(count: int, folder: Path) -> list[float]:
    tone = folder / "tone.wav"
    t = np.arange(int(0.3 * 16000)) / 16000
    soundfile.write(tone, (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("int16"), 16000)
    config = write_config(
        folder / "relay",
        f'[[schedule]]\nname = "bench"\ncron = "* * * * *"\nchannel = 26\naudio = "{tone}"\n',
    )
    port = free_port()
    clock = ShiftedClock()
    clock.shift = BASE - 30 - time.time()
    lateness = []
    with UdpCapture(port) as capture:
        async with bells_relay(config, port, folder / "data", clock) as (_, relay):
            for index in range(count):
                due = math.ceil(time.time()) + 1
                clock.shift = BASE + 60 * index - due
                relay.bells.wake()
                seen = len(capture.packets)
                while len(relay.hub.recent) <= index:
                    await asyncio.sleep(0.05)
                talk = relay.talks.by_channel.get(26)
                if talk is not None:
                    await talk.wait()
                first = next(
                    at
                    for at, data in capture.packets[seen:]
                    if isinstance(parse_packet(data), AlertPacket)
                )
                lateness.append(first - due)
    return lateness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bells", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        lateness = asyncio.run(ring_all(args.bells, Path(folder)))
    ms = np.array(lateness) * 1000
    print("each (ms):", " ".join(f"{v:.1f}" for v in ms), file=sys.stderr)
    result: dict[str, Any] = {
        "bells": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        "min_ms": round(float(ms.min()), 2),
        "machine": platform.machine(),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"bell first-alert lateness after the due second, {result['bells']} bells:")
    for key in ("min_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms"):
        print(f"  {key[:-3]:>4}: {result[key]:7.2f} ms")
    verdict = "ok" if result["max_ms"] < GOAL_S * 1000 and result["min_ms"] >= 0 else "MISSED"
    print(f"  goal: all within 0-{GOAL_S * 1000:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
