"""What several benchmarks share: the report against the goals, and a WebSocket talker
that streams its frames in real time (so that timings are the relay's, not the sender's)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

FRAME_S = 0.020


def report(results: dict[str, Any], goals: dict[str, float], as_json: bool) -> None:
    """`results` as JSON, or a line each with "ok" or "MISSED" against its goal (a value at
    or below its goal is met)."""
    if as_json:
        print(json.dumps(results, indent=2))
        return
    for name, value in results.items():
        goal = goals.get(name)
        verdict = "" if goal is None else ("  ok" if value <= goal else f"  MISSED (goal {goal})")
        print(f"{name:28s} {value}{verdict}")


async def talk_in_real_time(
    ws: Any, request: dict[str, Any], frames: list[bytes], wait_s: float = 0.0
) -> list[float]:
    """Send `request` (a ``talk``), `wait_s` after ``talking`` stream `frames` one each
    FRAME_S, then stop and wait for ``stopped``; the wall-clock send time of each frame."""
    sent = []
    await ws.send_json(request)
    while (await ws.receive_json())["type"] != "talking":
        pass
    await asyncio.sleep(wait_s)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index, frame in enumerate(frames):
        delay = start + index * FRAME_S - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(time.time())
        await ws.send_bytes(frame)
    await ws.send_json({"type": "stop"})
    while (await ws.receive_json())["type"] != "stopped":
        pass
    return sent
