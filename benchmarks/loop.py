"""How fast ``polyptt loop`` answers the talk key, how far its audio runs behind the
microphone, and what it costs while idle.

Run inside the private network namespace, from the repository root, with the virtual
audio devices up (tools/virtual-audio; tools/isolated):

    PYTHONPATH=src tools/isolated python benchmarks/loop.py [--talks 20]

Key press to first alert: the loop's own application (`polyptt.loop.app.LoopApp`) runs
in this process with the real microphone (the default input), a real multicast socket
and the real receiver; its "terminal" is a pipe, so a key press is one ``os.write``.
The time runs from that write to the first alert leaving the socket (``sendto``
returned), on the monotonic clock. The pty's own hop (a few microseconds) is left out.

Microphone to wire: for every transmit packet, the time from the audio callback that
delivered the frame's last sample (PortAudio's thread, when the samples reach software)
to the packet leaving the socket. Capture starts at the key press and is buffered while
the 31 alerts (0.93 s) go out, so nothing said is lost; the page then catches up with
the talker by skipping pauses, never speech (`polyptt.audio.catchup`). Speech from
espeak-ng is played into the virtual microphone in two ways: a talker who waits for the
alerts' chirp (speech 1 s after the key), and one who speaks at once, whose page is
caught up only after enough pauses (the time that takes is reported, and the latency
after it). Gaps count the transmits that left more than 1.5 frames after the one before
(the page ran dry: phones hear it). `--keep-ms` tries another cushion for a caught-up
page, fixed, in place of the default (`polyptt.audio.catchup.for_capture`).

Idle CPU: a real ``polyptt loop`` process in a pseudo-terminal (tests/support/terminal.py),
listening with nothing on the wire, for `--idle` seconds: its CPU time (all threads,
from the scheduler's nanosecond accounting) as a share of one core; then again after a
page from ``polyptt send`` was heard and played (the loop closes the output stream a
few seconds after the last page: open, its callbacks cost about 2 % of a core).

Goals (issue 9): key press to first alert <= 20 ms; microphone to wire <= 60 ms once the
alerts are over (p50/p99); idle <= 1 % of a core.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import soundfile
import soxr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.*; polyptt itself: installed or PYTHONPATH=src

from benchmarks.listen import cpu_seconds  # noqa: E402
from tests.support.listen import CHIME  # noqa: E402
from tests.support.processes import (  # noqa: E402
    LOOPBACK_ENV,
    only_loopback,
    polyptt_command,
    polyptt_env,
)
from tests.support.terminal import LoopTerminal  # noqa: E402
from tests.support.udp_capture import free_port  # noqa: E402

import polyptt  # noqa: E402
from polyptt import codecs, protocol  # noqa: E402
from polyptt.audio.catchup import CatchUp  # noqa: E402
from polyptt.audio.live import Microphone  # noqa: E402
from polyptt.loop.app import RELEASE_SPEAKER_S, LoopApp, TalkSettings  # noqa: E402
from polyptt.loop.keys import RawTerminal  # noqa: E402
from polyptt.loop.panel import Screen  # noqa: E402
from polyptt.loop.state import LoopState  # noqa: E402
from polyptt.receive.inbound import Endpoint, open_sockets  # noqa: E402
from polyptt.transport import Destination, UdpSink  # noqa: E402

CODEC = "g722"
FRAME_MS = 30
CAUGHT_UP_S = 0.06  # a talk is caught up from its first frame this close to the microphone
MESSAGE = (
    "Dock four, this is the front desk. The truck from Miller is at the gate. "
    "Can you send someone to open it? Thanks. Also, the forklift on aisle nine "
    "needs a charge before the night shift. Front desk out."
)


class TimedSink:
    """A `UdpSink` that notes when each datagram left: (monotonic time, op code)."""

    def __init__(self, sink: UdpSink) -> None:
        self.sink = sink
        self.paced = sink.paced
        self.sent: list[tuple[float, int]] = []

    @property
    def source(self) -> tuple[str, int]:
        return self.sink.source

    def send(self, datagram: bytes, offset: float) -> None:
        self.sink.send(datagram, offset)
        self.sent.append((time.monotonic(), datagram[0]))


class TimedMicrophones:
    """Opens the loop's microphones, noting when each captured block arrived.

    `keep_s`, if given, replaces what a caught-up page keeps waiting (`CatchUp.keep_s`).
    """

    def __init__(self, keep_s: float | None = None) -> None:
        self.blocks: list[list[tuple[float, int]]] = []  # per talk: (time, samples)
        self.rates: list[int] = []
        self.opened: list[Microphone] = []
        self.keep_s = keep_s

    def open(self, monitor: Any) -> Microphone:
        blocks: list[tuple[float, int]] = []

        def noted(pcm: Any) -> None:
            blocks.append((time.monotonic(), len(pcm)))
            monitor(pcm)

        rate = codecs.info(CODEC).sample_rate
        catch_up = True if self.keep_s is None else CatchUp(rate, keep_s=self.keep_s)
        microphone = Microphone(CODEC, FRAME_MS, monitor=noted, catch_up=catch_up)
        assert microphone.samplerate == rate, "the virtual microphone captures at 16 kHz"
        self.opened.append(microphone)
        self.blocks.append(blocks)
        self.rates.append(microphone.samplerate)
        return microphone


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * (len(ordered) - 1) + 0.5))]


async def _talks(
    app: LoopApp, write_fd: int, count: int, speech: Path, speech_s: float, delay_s: float
) -> list[float]:
    """Press Space `count` times, play `speech` into the microphone `delay_s` later, press
    Space again when it is over; the press times."""
    presses = []
    await asyncio.sleep(0.5)
    for _ in range(count):
        presses.append(time.monotonic())
        os.write(write_fd, b" ")
        await asyncio.sleep(delay_s)
        player = await asyncio.create_subprocess_exec("paplay", "-d", "micsink", str(speech))
        await asyncio.sleep(speech_s + 0.2)
        await player.wait()
        os.write(write_fd, b" ")
        while app.state.transmitting:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
    app.quit()
    return presses


def measure_talks(
    count: int, speech: Path, speech_s: float, delay_s: float, keep_s: float | None = None
) -> tuple[list[float], list[list[float]], int]:
    """Key press to first alert, per talk microphone to wire for every transmit
    (seconds), and the gaps: transmits more than half a frame later than a frame after
    the one before (the page ran dry; phones hear it)."""
    port = free_port()
    destination = Destination(protocol.DEFAULT_GROUP, port)
    sink = TimedSink(UdpSink(destination, interface="127.0.0.1", ttl=0))
    sockets = open_sockets([Endpoint(protocol.DEFAULT_GROUP, port)], "127.0.0.1")
    microphones = TimedMicrophones(keep_s)
    read_fd, write_fd = os.pipe()
    state = LoopState(26, 0x9000)
    app = LoopApp(
        state=state,
        talk=TalkSettings(CODEC, FRAME_MS, "bench", 0x9000, 120.0),
        sink=sink,
        sockets=sockets,
        terminal=RawTerminal(read_fd),  # not entered: a pipe has no terminal settings
        screen=Screen(io.StringIO()),
        open_microphone=microphones.open,
    )

    async def main() -> list[float]:
        running = asyncio.create_task(app.run())
        presses = await _talks(app, write_fd, count, speech, speech_s, delay_s)
        await running
        return presses

    try:
        presses = asyncio.run(main())
    finally:
        sink.sink.close()
        for sock in sockets:
            sock.close()
        os.close(read_fd)
        os.close(write_fd)
    first_alerts = []
    for press in presses:
        first_alerts.append(
            next(t for t, op in sink.sent if op == protocol.OpCode.ALERT and t >= press) - press
        )
    # talk i used microphone i (one more was opened for the talk that never came)
    latencies, gaps = [], 0
    transmits = [t for t, op in sink.sent if op == protocol.OpCode.TRANSMIT]
    talk_starts = [*presses, float("inf")]
    talks = zip(microphones.blocks, microphones.rates, microphones.opened, strict=True)
    for index, (blocks, rate, microphone) in enumerate(talks):
        if index >= len(presses):
            break
        sent = [t for t in transmits if talk_starts[index] <= t < talk_starts[index + 1]]
        gaps += sum(b - a > 1.5 * FRAME_MS / 1000 for a, b in itertools.pairwise(sent))
        frame = round(rate * FRAME_MS / 1000)
        captured, times = 0, []
        for at, samples in blocks:
            captured += samples
            times.append((captured, at))
        position, talk = 0, []
        for number, at in enumerate(sent):
            needed = input_position((number + 1) * frame, microphone.frames.skipped)
            while position < len(times) and times[position][0] < needed:
                position += 1
            if position == len(times):
                break  # the last, partial frame (the flush at the stop)
            talk.append(at - times[position][1])
        latencies.append(talk)
    return first_alerts, latencies, gaps


def input_position(sent: int, skipped: list[tuple[int, int]]) -> int:
    """Where in the captured audio the `sent`-th sample of the page was, past the
    pauses skipped before it."""
    position = sent
    for start, length in skipped:
        if start >= position:
            break
        position += length
    return position


def speech_file(folder: Path) -> tuple[Path, float]:
    """A radio message from espeak-ng at the codec's rate (its length in seconds)."""
    path = folder / "message.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "165", "-w", str(folder / "raw.wav"),
                    MESSAGE], check=True)  # fmt: skip
    audio, rate = soundfile.read(folder / "raw.wav", dtype="float32")
    audio = soxr.resample(audio, rate, 16000)
    soundfile.write(path, audio, 16000)
    return path, len(audio) / 16000


def measure_idle(seconds: float) -> tuple[float, float]:
    """CPU share of one core of an idle ``polyptt loop`` in a pty: before any page, and
    after one was heard and played (the speaker's stream is then released again)."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        terminal = LoopTerminal(Path(tmp), port)
        try:
            time.sleep(1.0)  # imports and start-up are not the steady state
            pid = terminal.loop_pid

            def share() -> float:
                before, start = cpu_seconds(pid), time.monotonic()
                time.sleep(seconds)
                return (cpu_seconds(pid) - before) / (time.monotonic() - start)

            before_any = share()
            subprocess.run(
                polyptt_command("send", "-q", "--to", f"{protocol.DEFAULT_GROUP}:{port}",
                                str(CHIME)),
                env=polyptt_env(),
                check=True,
            )  # fmt: skip
            terminal.expect("state: idle")
            time.sleep(RELEASE_SPEAKER_S + 0.5)
            after_page = share()
            terminal.press("q")
            terminal.finish()
        finally:
            terminal.close()
    return before_any, after_page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--talks", type=int, default=8, help="talks measured per way of talking")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle measured")
    parser.add_argument(
        "--keep-ms", type=float, help="try another fixed cushion (CatchUp.keep_s; not adaptive)"
    )
    args = parser.parse_args()
    if not only_loopback():
        raise SystemExit("run inside tools/isolated: this sends multicast")
    os.environ.update(LOOPBACK_ENV)
    print(f"polyptt {polyptt.__version__}  python {platform.python_version()}  "
          f"{platform.platform()}  cpus {os.cpu_count()}  load {os.getloadavg()}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        speech, speech_s = speech_file(Path(tmp))
        print(f"{CODEC}, {FRAME_MS} ms frames ({codecs.info(CODEC).sample_rate} Hz); "
              f"{args.talks} talks of a {speech_s:.1f} s espeak-ng message each way")  # fmt: skip
        keep_s = None if args.keep_ms is None else args.keep_ms / 1000
        waited_alerts, waited, waited_gaps = measure_talks(
            args.talks, speech, speech_s, 1.0, keep_s
        )
        at_once_alerts, at_once, at_once_gaps = measure_talks(
            args.talks, speech, speech_s, 0.0, keep_s
        )
    ms = [1000 * x for x in waited_alerts + at_once_alerts]
    print(f"key press to first alert (goal <= 20 ms): median {statistics.median(ms):.2f} ms  "
          f"p99 {percentile(ms, 0.99):.2f} ms  max {max(ms):.2f} ms")  # fmt: skip
    print("microphone to wire once the alerts are over (goal <= 60 ms):")
    every = [1000 * x for talk in waited for x in talk]
    print(f"  waiting for the chirp, all {len(every)} frames: p50 {percentile(every, 0.5):.1f} ms"
          f"  p99 {percentile(every, 0.99):.1f} ms  max {max(every):.1f} ms;"
          f"  gaps {waited_gaps}")  # fmt: skip
    catch_up_s, after = [], []
    for talk in at_once:
        caught = next((i for i, x in enumerate(talk) if x <= CAUGHT_UP_S), len(talk))
        catch_up_s.append(caught * FRAME_MS / 1000)
        after += [1000 * x for x in talk[caught:]]
    every = [1000 * x for talk in at_once for x in talk]
    print(f"  speaking at once: caught up after median {statistics.median(catch_up_s):.1f} s "
          f"(max {max(catch_up_s):.1f} s); then {len(after)} frames: p50 "
          f"{percentile(after, 0.5):.1f} ms  p99 {percentile(after, 0.99):.1f} ms  "
          f"max {max(after):.1f} ms")  # fmt: skip
    print(f"  speaking at once, all {len(every)} frames: p50 {percentile(every, 0.5):.1f} ms  "
          f"p99 {percentile(every, 0.99):.1f} ms (the catch-up included); "
          f"gaps {at_once_gaps}")  # fmt: skip
    before_any, after_page = measure_idle(args.idle)
    print(f"idle listening (goal <= 1 % of a core), {args.idle:g} s: {100 * before_any:.2f} %"
          f"; after a page was played: {100 * after_page:.2f} %")  # fmt: skip


if __name__ == "__main__":
    main()
