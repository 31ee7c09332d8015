"""Text to speech: from a text of ten words to the page's first alert on the wire.

Run inside the private network namespace, from the repository root:

    PYTHONPATH=src tools/isolated python benchmarks/tts.py [--runs 10] [--json]

Each measure is taken with a reference in the same run, the same page from a WAV file
that espeak-ng made beforehand, so the difference is what speaking the text costs:

send
    ``polyptt send --say TEXT`` started as a process, to its first alert (kernel
    receive stamp); the reference is ``polyptt send FILE.wav``. Goal: median <= 250 ms.
relay
    ``POST /api/v1/pages`` with ``{"channel": 26, "say": TEXT}`` to a running relay, to
    its first alert; the reference posts the WAV file (``?channel=26``).

Every page is cut short (SIGTERM to ``send`` once its first alert arrived, the
relay's ``duration`` 0.1 s) and has ended before the next starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support; polyptt itself: installed or PYTHONPATH=src

import aiohttp  # noqa: E402
from tests.support.processes import (  # noqa: E402
    LOOPBACK_ENV,
    only_loopback,
    polyptt_command,
    polyptt_env,
)
from tests.support.relay import add_token, start_relay, write_config  # noqa: E402
from tests.support.udp_capture import UdpCapture, free_port  # noqa: E402

import polyptt  # noqa: E402
from polyptt.protocol import DEFAULT_GROUP  # noqa: E402

#: Ten words.
TEXT = "Fire drill in five minutes, please walk to the yard"
GOAL_MS = 250.0


def espeak_version() -> str:
    done = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True)
    return done.stdout.split("  ")[0].strip()


def reference_wav(folder: Path) -> Path:
    """The text as espeak-ng speaks it, made before any measure."""
    path = folder / "fire-drill.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "--", TEXT], check=True)
    return path


def send_to_first_alert(args: list[str]) -> float:
    """``polyptt send ARGS`` started now: milliseconds to its first alert on the wire."""
    port = free_port()
    env = {**polyptt_env(), **LOOPBACK_ENV}
    with UdpCapture(port) as capture:
        started = time.time()
        process = subprocess.Popen(
            polyptt_command("send", "--to", f"{DEFAULT_GROUP}:{port}", *args),
            env=env,
            stderr=subprocess.DEVNULL,
        )
        first = capture.wait_for(1, timeout=10)
        process.send_signal(signal.SIGTERM)  # ends the page at once (with its ends)
        process.wait()
    if not first:
        raise SystemExit(f"no alert from polyptt send {' '.join(args)}")
    return (first[0][0] - started) * 1000


def measure_send(wav: Path, runs: int) -> dict[str, list[float]]:
    """Speech and its file, alternately, so both see the same load."""
    said, played = [], []
    for _ in range(runs):
        said.append(send_to_first_alert(["--say", TEXT]))
        played.append(send_to_first_alert([str(wav)]))
    return {"send_say": said, "send_file": played}


async def _post_to_first_alert(
    session: aiohttp.ClientSession, url: str, port: int, **request: Any
) -> float:
    with UdpCapture(port) as capture:
        started = time.time()
        async with session.post(url, **request) as answer:
            assert answer.status == 202, await answer.text()
        first = await asyncio.to_thread(capture.wait_for, 1, 10)
        await asyncio.to_thread(capture.wait_quiet, 0.3, 10)  # its ends: the channel is free
    return (first[0][0] - started) * 1000


async def _relay_runs(url: str, token: str, port: int, wav: Path, runs: int) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    pages = url + "/api/v1/pages"
    said, played = [], []
    body = wav.read_bytes()
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(runs):
            request = {"channel": 26, "say": TEXT, "duration": 0.1}
            said.append(await _post_to_first_alert(session, pages, port, json=request))
            file_url = pages + "?channel=26&duration=0.1"
            played.append(await _post_to_first_alert(session, file_url, port, data=body))
    return {"relay_say": said, "relay_file": played}


def measure_relay(folder: Path, wav: Path, runs: int) -> dict[str, list[float]]:
    port = free_port()
    config = write_config(folder / "relay")
    token = add_token(config, "Bench", "talk")
    relay = start_relay(config, udp_port=port)
    try:
        return asyncio.run(_relay_runs(relay.url, token, port, wav, runs))
    finally:
        relay.stop()


def summary(samples: dict[str, list[float]]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, values in samples.items():
        results[f"{name}_median_ms"] = round(statistics.median(values), 1)
        results[f"{name}_min_ms"] = round(min(values), 1)
        results[f"{name}_max_ms"] = round(max(values), 1)
    results["send_say_cost_ms"] = round(
        results["send_say_median_ms"] - results["send_file_median_ms"], 1
    )
    results["relay_say_cost_ms"] = round(
        results["relay_say_median_ms"] - results["relay_file_median_ms"], 1
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not only_loopback():
        raise SystemExit("run inside tools/isolated: this sends multicast")
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        wav = reference_wav(folder)
        samples = measure_send(wav, args.runs)
        samples.update(measure_relay(folder, wav, args.runs))
    results = summary(samples)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"polyptt {polyptt.__version__}  python {platform.python_version()}  "
          f"{espeak_version()}  {platform.platform()}  runs {args.runs}")  # fmt: skip
    print(f'text: "{TEXT}" (10 words)\n')
    for name, value in results.items():
        verdict = ""
        if name == "send_say_median_ms":
            verdict = "  ok" if value <= GOAL_MS else f"  over the goal ({GOAL_MS:g} ms)"
        print(f"{name:26s} {value}{verdict}")


if __name__ == "__main__":
    main()
