"""How well ``polyptt send`` keeps time, how fast it starts, what it costs.

Run inside the private network namespace, from the repository root:

    PYTHONPATH=src tools/isolated python benchmarks/pacing.py [--seconds 60] [--starts 10]

It pages a generated file to a multicast group on loopback with a busy loop pinned to
another core, receives the page with kernel timestamps (SO_TIMESTAMPNS), and prints:
p50/p99/max of |interval - frame| over the transmit packets, the drift of the last
packet against the schedule, the time from starting the process to the first alert on
the wire (median of several starts), CPU seconds per minute of audio, and peak RSS.
Goals: p99 <= 1 ms, drift <= 1 ms, first alert <= 150 ms, CPU <= 2 % of a core.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import soxr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support; polyptt itself: installed or PYTHONPATH=src

from tests.support.processes import (  # noqa: E402
    LOOPBACK_ENV,
    only_loopback,
    polyptt_command,
    polyptt_env,
)
from tests.support.udp_capture import UdpCapture, free_port  # noqa: E402

import polyptt  # noqa: E402
from polyptt.protocol import DEFAULT_GROUP  # noqa: E402
from polyptt.send import pacing  # noqa: E402

FRAME_MS = 30


def child_env() -> dict[str, str]:
    """The polyptt measured (as imported here), its multicast pinned to loopback."""
    return {**polyptt_env(), **LOOPBACK_ENV}


def print_config(args: argparse.Namespace) -> None:
    slack = Path("/proc/self/timerslack_ns")
    print(f"polyptt {polyptt.__version__}  python {platform.python_version()}  "
          f"numpy {np.__version__}  soundfile {soundfile.__version__} "
          f"(libsndfile {soundfile.__libsndfile_version__})  soxr {soxr.__version__}")  # fmt: skip
    print(f"{platform.platform()}  cpus {os.cpu_count()}  load {os.getloadavg()}")
    print(f"timer slack {slack.read_text().strip() if slack.exists() else '?'} ns  "
          f"spin {pacing.SPIN_S * 1e3:.2f} ms  frame {FRAME_MS} ms  page {args.seconds} s  "
          f"busy loop on cpu {args.busy_cpu}")  # fmt: skip
    print()


def make_file(directory: Path, seconds: float) -> Path:
    rate = 16000
    t = np.arange(int(rate * seconds)) / rate
    samples = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    path = directory / f"page-{seconds:g}s.wav"
    soundfile.write(path, samples, rate, subtype="PCM_16")
    return path


def start_busy_loop(cpu: int) -> subprocess.Popen:
    code = f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nwhile True:\n    pass\n"
    return subprocess.Popen([sys.executable, "-c", code])


def send_command(port: int, path: Path) -> list[str]:
    return polyptt_command("send", "--to", f"{DEFAULT_GROUP}:{port}", str(path))


def measure_page(path: Path) -> None:
    port = free_port()
    with UdpCapture(port) as capture:
        process = subprocess.Popen(send_command(port, path), env=child_env())
        _pid, status, usage = os.wait4(process.pid, 0)
        packets = capture.wait_quiet()
    exit_code = os.waitstatus_to_exitcode(status)
    assert exit_code == 0, f"polyptt send exited with {exit_code}"
    times = np.array([when for when, data in packets if data[0] == 0x10])
    intervals = np.diff(times) * 1000
    error = np.abs(intervals - FRAME_MS)
    drift = ((times[-1] - times[0]) - (len(times) - 1) * FRAME_MS / 1000) * 1000
    audio_minutes = len(times) * FRAME_MS / 60000
    cpu = usage.ru_utime + usage.ru_stime
    print(f"transmit packets          {len(times)} ({audio_minutes * 60:.1f} s of audio)")
    print(f"|interval - {FRAME_MS} ms|      p50 {np.percentile(error, 50):.3f} ms  "
          f"p99 {np.percentile(error, 99):.3f} ms  max {error.max():.3f} ms")  # fmt: skip
    print(f"drift at the end          {drift:+.3f} ms")
    print(f"CPU                       {cpu:.2f} s for the process "
          f"({usage.ru_utime:.2f} user + {usage.ru_stime:.2f} sys) = "
          f"{cpu / audio_minutes:.2f} s per minute of audio "
          f"({100 * cpu / (audio_minutes * 60):.2f} % of a core)")  # fmt: skip
    print(f"peak RSS                  {usage.ru_maxrss / 1024:.1f} MiB")


def measure_start(path: Path, starts: int) -> None:
    delays = []
    for _ in range(starts):
        port = free_port()
        with UdpCapture(port) as capture:
            started = time.time()
            process = subprocess.Popen(
                send_command(port, path), env=child_env(), stderr=subprocess.DEVNULL
            )
            first = capture.wait_for(1, timeout=10)
            process.send_signal(signal.SIGTERM)  # ends the page at once (with its ends)
            process.wait()
        delays.append((first[0][0] - started) * 1000)
    print(f"start to first alert      median {statistics.median(delays):.0f} ms  "
          f"min {min(delays):.0f}  max {max(delays):.0f}  (n={starts})")  # fmt: skip
    floors = []
    for _ in range(starts):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy, soundfile, click"], check=True)
        floors.append((time.perf_counter() - started) * 1000)
    print(f"  floor: python + import numpy, soundfile, click: median "
          f"{statistics.median(floors):.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--busy-cpu", type=int, default=(os.cpu_count() or 1) - 1)
    args = parser.parse_args()
    if not only_loopback():
        raise SystemExit("run inside tools/isolated: this sends multicast")
    print_config(args)
    busy = start_busy_loop(args.busy_cpu)
    try:
        with tempfile.TemporaryDirectory() as directory:
            measure_start(make_file(Path(directory), 1.0), args.starts)
            measure_page(make_file(Path(directory), args.seconds))
    finally:
        busy.kill()
        busy.wait()


if __name__ == "__main__":
    main()
