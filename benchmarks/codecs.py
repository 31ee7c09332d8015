"""Codec throughput from Python, against spandsp in the same run, and the cost of one frame call.

Usage::

    PYTHONPATH=src python benchmarks/codecs.py [--seconds 60] [--runs 7] [--json]

Throughput is coded audio samples per second (Msamples/s), the median of `--runs` one-shot
codings of a `--seconds` long signal: the committed test sentence (tests/data) looped, so
the ADPCM coders adapt as they do to a voice. spandsp is timed through a single ctypes call
per run on the same buffer, so both sides pay one Python call and the rest is C; spandsp's
G.726QI row is its AAL2 G.726-24 (the bit reversal is polyptt's own extra work).

The per-call figures are what one 30 ms frame costs through codecs.Encoder / Decoder, the
way a live page uses them, and the "overhead": the same call with the smallest whole unit
(2 samples of G.722, 8 of G.726), i.e. what crossing into C++ costs apart from coding.
Runs of the things compared take turns, so load from other processes hits both alike.

Goals (printed as ok / MISSED): polyptt at least 1.5x spandsp for G.722 and G.726-24 both
ways; per-call overhead under 5 us.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the shared test signals and the spandsp loader live in tests/

from tests.support import signals, spandsp_ref  # noqa: E402

import polyptt  # noqa: E402
from polyptt import codecs  # noqa: E402

CODECS = ["g711u", "g711a", "g722", "g726-16", "g726-24", "g726-32", "g726-40", "g726qi"]
FRAME_MS = 30
RATIO_GOAL = 1.5  # polyptt / spandsp, for G.722 and G.726-24, encode and decode
OVERHEAD_GOAL_US = 5.0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def median_seconds(calls: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median wall time of each call over `runs` rounds, after one warm-up round.

    The calls take turns within each round, so that load from other processes (this may
    run on a shared machine) falls on all of them alike and their ratios stay fair.
    """
    times: dict[str, list[float]] = {key: [] for key in calls}
    for round_ in range(runs + 1):
        for key, call in calls.items():
            start = time.perf_counter()
            call()
            if round_:
                times[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in times.items()}


def spandsp_coders(ref: spandsp_ref.Spandsp) -> dict[str, tuple[Callable, Callable]]:
    """codec name -> (encode(pcm) -> bytes, decode(bytes) -> pcm) on spandsp."""

    def g726(bits: int, packing: str) -> tuple[Callable, Callable]:
        return (
            lambda pcm: ref.g726_encode(pcm, bits, packing),
            lambda data: ref.g726_decode(data, bits, packing),
        )

    coders = {
        "g711u": (lambda pcm: ref.g711_encode(pcm, "ulaw"), lambda d: ref.g711_decode(d, "ulaw")),
        "g711a": (lambda pcm: ref.g711_encode(pcm, "alaw"), lambda d: ref.g711_decode(d, "alaw")),
        "g722": (ref.g722_encode, ref.g722_decode),
        "g726qi": g726(3, "aal2"),
    }
    for kbps in (16, 24, 32, 40):
        coders[f"g726-{kbps}"] = g726(kbps // 8, "rfc3551")
    return coders


def looped_speech(rate: int, seconds: float) -> np.ndarray:
    speech = signals.speech(rate)
    n = int(rate * seconds) // 8 * 8
    return np.resize(speech, n)


def throughput(seconds: float, runs: int, ref: spandsp_ref.Spandsp | None) -> list[dict[str, Any]]:
    """Msamples/s of one-shot encode and decode per codec, polyptt and spandsp side by side."""
    theirs = spandsp_coders(ref) if ref is not None else {}
    rows = []
    for name in CODECS:
        pcm = looped_speech(codecs.info(name).sample_rate, seconds)
        calls = {
            "encode": partial(codecs.encode, name, pcm),
            "decode": partial(codecs.decode, name, codecs.encode(name, pcm)),
        }
        if name in theirs:
            encode, decode = theirs[name]
            calls["spandsp_encode"] = partial(encode, pcm)
            calls["spandsp_decode"] = partial(decode, encode(pcm))
        medians = median_seconds(calls, runs)
        row: dict[str, Any] = {"codec": name, "samples": len(pcm)}
        row.update({key: len(pcm) / median / 1e6 for key, median in medians.items()})
        rows.append(row)
    return rows


def per_call(name: str, calls: int, runs: int) -> dict[str, Any]:
    """Median microseconds per Encoder.encode / Decoder.decode call, as a live page makes them.

    For a 30 ms frame, and for the smallest whole unit (2 samples of G.722, 8 of G.726:
    whole bytes, so nothing is held back), whose time is almost all per-call overhead:
    crossing into C++, checking the argument, making the result object.
    """
    info = codecs.info(name)
    speech = looped_speech(info.sample_rate, 1.0)
    frame = speech[: info.frame_samples(FRAME_MS)]
    unit = speech[: 2 if info.sample_rate == 16000 else 8]
    encoder, decoder = codecs.Encoder(name), codecs.Decoder(name)
    coded_frame, coded_unit = codecs.encode(name, frame), codecs.encode(name, unit)

    def repeat(call: Callable[[Any], object], argument: object) -> Callable[[], None]:
        def loop() -> None:
            for _ in range(calls):
                call(argument)

        return loop

    medians = median_seconds(
        {
            "encode_us": repeat(encoder.encode, frame),
            "decode_us": repeat(decoder.decode, coded_frame),
            "encode_overhead_us": repeat(encoder.encode, unit),
            "decode_overhead_us": repeat(decoder.decode, coded_unit),
        },
        runs,
    )
    result: dict[str, Any] = {"codec": name, "frame_ms": FRAME_MS}
    result.update({key: median / calls * 1e6 for key, median in medians.items()})
    return result


def goals(rows: list[dict[str, Any]], calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    checks = []
    for row in rows:
        if row["codec"] in ("g722", "g726-24") and "spandsp_encode" in row:
            for way in ("encode", "decode"):
                ratio = row[way] / row[f"spandsp_{way}"]
                checks.append(
                    {
                        "goal": f"{row['codec']} {way} >= {RATIO_GOAL}x spandsp",
                        "value": round(ratio, 2),
                        "met": ratio >= RATIO_GOAL,
                    }
                )
    for call in calls:
        for way in ("encode", "decode"):
            overhead = call[f"{way}_overhead_us"]
            checks.append(
                {
                    "goal": f"{call['codec']} {way} per-call overhead < {OVERHEAD_GOAL_US} us",
                    "value": round(overhead, 2),
                    "met": overhead < OVERHEAD_GOAL_US,
                }
            )
    return checks


def print_header(report: dict[str, Any]) -> None:
    """Where and how the figures were taken, printed before the (slow) measuring starts."""
    for key, value in report["environment"].items():
        print(f"{key:>10}: {value}")
    print(f"{'config':>10}: {report['config']}", flush=True)


def print_results(report: dict[str, Any]) -> None:
    print()
    print(
        f"{'codec':<9} {'encode':>8} {'decode':>8} {'sp enc':>8} {'sp dec':>8} "
        f"{'enc x':>6} {'dec x':>6}   (Msamples/s; x = polyptt / spandsp)"
    )
    for row in report["throughput"]:
        line = f"{row['codec']:<9} {row['encode']:8.1f} {row['decode']:8.1f}"
        if "spandsp_encode" in row:
            line += (
                f" {row['spandsp_encode']:8.1f} {row['spandsp_decode']:8.1f}"
                f" {row['encode'] / row['spandsp_encode']:6.2f}"
                f" {row['decode'] / row['spandsp_decode']:6.2f}"
            )
        print(line)
    print()
    print(f"one {FRAME_MS} ms frame per call (median us):")
    for call in report["per_call"]:
        print(
            f"  {call['codec']:<7} encode {call['encode_us']:6.2f} "
            f"(overhead {call['encode_overhead_us']:5.2f})   decode {call['decode_us']:6.2f} "
            f"(overhead {call['decode_overhead_us']:5.2f})"
        )
    print()
    for check in report["goals"]:
        print(f"  {'ok    ' if check['met'] else 'MISSED'} {check['goal']}: {check['value']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="signal length (60)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per figure (7)")
    parser.add_argument("--calls", type=int, default=2000, help="frames per per-call run (2000)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5 (the figures are medians)")

    reason = spandsp_ref.missing_reason()
    ref = spandsp_ref.load() if reason is None else None
    report: dict[str, Any] = {
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "polyptt": polyptt.__version__,
            "cpu": cpu_model(),
            "spandsp": "libspandsp via ctypes" if ref is not None else f"skipped: {reason}",
        },
        "config": {
            "seconds": args.seconds,
            "runs": args.runs,
            "calls": args.calls,
            "signal": "tests/data/speech16k.wav looped (soxr to 8 kHz for narrowband)",
        },
    }
    if not args.json:
        print_header(report)
    report["throughput"] = throughput(args.seconds, args.runs, ref)
    report["per_call"] = [per_call(name, args.calls, args.runs) for name in ("g722", "g726qi")]
    report["goals"] = goals(report["throughput"], report["per_call"])
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_results(report)


if __name__ == "__main__":
    main()
