"""What ``polyptt listen`` costs, and how soon a packet is heard.

Run inside the private network namespace, from the repository root, with the virtual
audio devices up for the latency part (tools/virtual-audio; tools/isolated):

    PYTHONPATH=src tools/virtual-audio run tools/isolated python benchmarks/listen.py [--pages 1 50]

CPU and peak RSS: a ``polyptt listen --no-play --record DIR --json`` process (recording
every page, as a monitor does) receives N simultaneous G.722 pages of 20 ms frames (50
packets per second per page) and of 30 ms frames (33 per second), replayed over loopback
multicast by this script; CPU is the listener's time on a CPU (all threads) over the
audio part of the pages, as a share of one core, from one second into the audio (the
first second pays one-time imports); peak RSS is its VmHWM. With an output device, the
largest page count is measured again with ``--play`` (one page plays, all are recorded;
the receive loop then pauses less between wake-ups, for latency, and costs more). Each
figure is the median of `--runs` runs.

The reference, run in turn with each polyptt run so that the VM's changing speed hits
both alike: a bare receiver (``--bare``) that only reads each datagram and decodes its new
frame, with the same pauses between wake-ups, the floor of any Python listener. The ratio
is what polyptt's checks, repair, recording and reporting cost on top.

Latency: in this process, the receiver, the default jitter buffer (40 ms) and a real
PortAudio output stream on the default device; for each chunk of audio, the time from
the arrival of the datagram that released it (its kernel timestamp) to its first sample
being copied into the output buffer by the audio callback, and to its reaching the
speaker (plus the time the device says that buffer waits: PortAudio's DAC time).
Without an output device the callback is driven by a thread every 10 ms instead (said
so in the output).

Goals (issue 4): 50 pages <= 10 % of one core, RSS <= 80 MB, latency to the output
buffer <= 60 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.*; polyptt itself: installed or PYTHONPATH=src

from tests.support.listen import GROUP, make_page_capture, replay, start_listen  # noqa: E402
from tests.support.processes import (  # noqa: E402
    LOOPBACK_ENV,
    only_loopback,
    polyptt_command,
    polyptt_env,
)
from tests.support.udp_capture import free_port  # noqa: E402

import polyptt  # noqa: E402
from polyptt.audio.playback import PlaybackUnavailable, Player  # noqa: E402
from polyptt.receive.inbound import (  # noqa: E402
    COALESCE_PLAYING_S,
    COALESCE_S,
    Endpoint,
    open_sockets,
    serve,
)
from polyptt.receive.receiver import Receiver  # noqa: E402

#: Seconds of audio before CPU is sampled: the first transmit packet imports the codecs
#: and opens the recording, a one-time cost that is not the steady state.
WARM_UP_S = 1.0


def long_page(
    directory: Path, seconds: float, port: int, frame_ms: int
) -> list[tuple[float, bytes]]:
    """A G.722 page of about `seconds` of audio (the bundled chime, repeated)."""
    repeat = max(1, round(seconds / 2.7))
    return make_page_capture(
        directory / "page.pcap",
        frame_ms=frame_ms,
        port=port,
        extra=["--repeat", str(repeat)],
    )


def cpu_seconds(pid: int) -> float:
    """CPU time of process `pid` so far, all its threads, in seconds.

    From the scheduler's nanosecond accounting (``/proc/PID/task/*/schedstat``): the
    ``/proc/PID/stat`` times count whole 10 ms ticks, too coarse for a 1 % load.
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread just ended
            continue
    return total * 1e-9


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class _Process:
    """A receiving process under measurement: its pid, and how to stop it and check it."""

    def __init__(self, pid: int, finish) -> None:
        self.pid = pid
        self.finish = finish


def _start_polyptt(record: Path, port: int, play: bool) -> _Process:
    listening = start_listen(record, "--timeout", "600", port=port, play=play)

    def finish(pages: int) -> None:
        listening.process.send_signal(signal.SIGINT)
        status = listening.wait(timeout=120)
        if status != 128 + signal.SIGINT:
            raise SystemExit(f"listen failed ({status}): {listening.stderr}")
        recordings = len(list(record.glob("*.json")))
        if recordings != pages:
            raise SystemExit(f"{recordings} recordings for {pages} pages")

    return _Process(listening.process.pid, finish)


def _start_bare(port: int) -> _Process:
    process = subprocess.Popen(
        [sys.executable, __file__, "--bare", str(port)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise SystemExit("the bare receiver did not start")

    def finish(pages: int) -> None:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
        decoded = int(out.split()[0])
        if decoded < pages:
            raise SystemExit(f"the bare receiver decoded {decoded} pages' frames")

    return _Process(process.pid, finish)


def bare_receiver(port: int) -> None:
    """The reference: receive and decode every page's new frames, and nothing else.

    What any Python listener pays at least (a socket read and a G.722 decode per
    datagram), with the same pauses between wake-ups as ``polyptt listen --no-play``.
    No parsing, no checks, no repair, no recording.
    """
    from polyptt.codecs import Decoder

    sock = open_sockets([Endpoint(GROUP, port)], "127.0.0.1")[0]
    ancillary = socket.CMSG_SPACE(16)
    decoders: dict[tuple, Decoder] = {}
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    while not stop.is_set():
        if not selector.select(0.1):
            continue
        while True:
            try:
                data, _ancillary, _flags, source = sock.recvmsg(65535, ancillary)
            except BlockingIOError:
                break
            if not data or data[0] != 0x10:  # transmit packets only
                continue
            key = (source, data[1:6])
            decoder = decoders.get(key) or decoders.setdefault(key, Decoder("g722"))
            decoder.decode(data[26 + (len(data) - 26) // 2 :])  # the new frame
        time.sleep(COALESCE_S)
    print(len(decoders), flush=True)


def measure_load(
    pages: int, seconds: float, frame_ms: int, work: Path, *, play: bool = False, bare: bool = False
) -> tuple[float, float]:
    """(CPU share of one core, peak RSS MB) of a process receiving `pages` pages."""
    port = free_port()
    page = long_page(work, seconds, port, frame_ms)
    schedule = []
    for index in range(pages):
        serial = (0x1000 + index).to_bytes(4, "big")
        channel = 26 + index % 23  # normal paging channels only
        offset = index * 0.0004  # not all in the same microsecond
        schedule += [
            (t + offset, d[:1] + bytes([channel]) + serial + d[6:], index) for t, d in page
        ]
    record = work / f"rec{pages}"
    record.mkdir()
    receiving = _start_bare(port) if bare else _start_polyptt(record, port, play)
    pid = receiving.pid
    first_audio = next(t for t, d in page if d[0] == 0x10) - page[0][0]
    cpu = {}

    def sample_at_audio() -> None:
        time.sleep(first_audio + WARM_UP_S)
        cpu["start"] = (time.monotonic(), cpu_seconds(pid))

    sampler = threading.Thread(target=sample_at_audio)
    sampler.start()
    replay(schedule, port, sockets=min(pages, 50))
    sampler.join()
    cpu["end"] = (time.monotonic(), cpu_seconds(pid))
    time.sleep(0.5)  # the end packets are in; let the pages close
    rss = peak_rss_mb(pid)
    receiving.finish(pages)
    wall = cpu["end"][0] - cpu["start"][0]
    share = (cpu["end"][1] - cpu["start"][1]) / wall
    return share, rss


def load_table(args: argparse.Namespace, work: Path, has_device: bool) -> None:
    """Medians of `args.runs` runs, polyptt and the bare reference taking turns."""
    configs = [(pages, frame_ms, False) for frame_ms in args.frame_ms for pages in args.pages]
    if has_device:
        configs += [(max(args.pages), frame_ms, True) for frame_ms in args.frame_ms]
    else:
        print("  (no output device: --play not measured)")
    for pages, frame_ms, play in configs:
        listen_cpu, bare_cpu, rss = [], [], []
        for run in range(args.runs):
            directory = work / f"load{pages}-{frame_ms}-{play}-{run}"
            directory.mkdir()
            share, peak = measure_load(pages, args.seconds, frame_ms, directory, play=play)
            listen_cpu.append(100 * share)
            rss.append(peak)
            if not play:
                (directory / "bare").mkdir()
                share, _ = measure_load(
                    pages, args.seconds, frame_ms, directory / "bare", bare=True
                )
                bare_cpu.append(100 * share)
        runs = "  ".join(f"{x:.1f}" for x in listen_cpu)
        mode = ", playing one" if play else ""
        line = (
            f"  {pages:3d} pages, {frame_ms} ms frames{mode}: cpu median "
            f"{statistics.median(listen_cpu):5.1f} % of one core (runs {runs})  "
            f"peak RSS {max(rss):5.1f} MB"
        )
        if bare_cpu and min(bare_cpu) > 0:
            ratio = statistics.median(a / b for a, b in zip(listen_cpu, bare_cpu, strict=True))
            line += f"  bare loop {statistics.median(bare_cpu):.1f} %, ratio {ratio:.2f}"
        print(line, flush=True)


class _SimulatedDevice:
    """Calls a fill callback every 10 ms, as a device would (no PortAudio)."""

    latency = 0.0

    def __init__(self, rate: int, callback) -> None:
        self._stop = threading.Event()
        block = np.zeros(rate // 100, dtype=np.int16)

        def run() -> None:
            due = time.monotonic()
            while not self._stop.is_set():
                callback(block)
                due += 0.01
                time.sleep(max(0.0, due - time.monotonic()))

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def measure_latency(seconds: float) -> tuple[list[float], list[float]]:
    """Per chunk: (arrival to output buffer, arrival to speaker), seconds."""
    port = free_port()
    try:
        player = Player.open()
        device = "PortAudio default output"
    except PlaybackUnavailable as exc:
        player = Player(_SimulatedDevice)
        device = f"simulated 10 ms device ({exc})"
    receiver = Receiver([player])
    sockets = open_sockets([Endpoint(GROUP, port)], "127.0.0.1")
    # a real sender in its own process, paced as phones pace
    sender = subprocess.Popen(
        [*polyptt_command("send"), "--to", f"{GROUP}:{port}", "--frame-ms", "20",
         "--repeat", str(max(1, round(seconds / 2.7))), "--serial", "0x99",
         str(ROOT / "examples" / "audio" / "chime.wav")],
        env=polyptt_env(),  # the same polyptt as the receiver in this process
    )  # fmt: skip
    try:
        serve(
            sockets,
            receiver,
            should_stop=lambda: receiver.stats.pages and not receiver.pages,
            coalesce_s=COALESCE_PLAYING_S,  # as `polyptt listen --play`
        )
    finally:
        sender.wait()
        for sock in sockets:
            sock.close()
        stream_latency = float(getattr(player._stream, "latency", 0.0) or 0.0)
        player.close()
    queue = player.queue
    to_buffer = list(queue.latencies) if queue else []
    to_speaker = (
        [a + b for a, b in zip(to_buffer, queue.device_delays, strict=True)] if queue else []
    )
    underruns = player.queue.underruns if player.queue else 0
    dropped = player.queue.dropped if player.queue else 0
    print(f"  device: {device}; PortAudio stream latency {1000 * stream_latency:.1f} ms"
          f"; {underruns} underruns, {dropped} samples dropped")  # fmt: skip
    return to_buffer, to_speaker


def _has_output_device() -> bool:
    try:
        Player.open().close()
    except PlaybackUnavailable:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="audio per page")
    parser.add_argument("--pages", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--frame-ms", type=int, nargs="+", default=[20, 30])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare_receiver(args.bare)
        return
    if not only_loopback():
        raise SystemExit("run inside tools/isolated: this sends multicast")
    os.environ.update(LOOPBACK_ENV)
    print(f"polyptt {polyptt.__version__}  python {platform.python_version()}  "
          f"numpy {np.__version__}")  # fmt: skip
    print(f"{platform.platform()}  cpus {os.cpu_count()}  load {os.getloadavg()}")
    print(f"G.722, {args.seconds:.0f} s pages, recording on, median of {args.runs} runs")
    print()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("CPU and memory of `polyptt listen --record` (goals: 50 pages <= 10 %, <= 80 MB)")
        load_table(args, work, _has_output_device())
        print()
        print("Latency from a packet's arrival, default 40 ms jitter buffer (goal 60 ms)")
        for name, values in zip(
            ("to the output buffer", "to the speaker"),
            measure_latency(min(args.seconds, 10.0)),
            strict=True,
        ):
            ms = sorted(1000 * x for x in values)
            if ms:
                p95 = ms[int(0.95 * (len(ms) - 1))]
                print(f"  {name}: {len(ms)} chunks, median {statistics.median(ms):.1f} ms  "
                      f"p95 {p95:.1f} ms  max {ms[-1]:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
