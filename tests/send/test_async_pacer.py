"""The asyncio pacers: the same page as the blocking one, never blocking the loop, and
always ended; waiting on the loop's timers (`send_page_async`) or in a real-time thread
that paces many pages (`PacerThread.send_page`), with one behaviour.

What a page sends and when, and how it ends, is checked on a clock that only waiting
moves (`tests.support.clocks.VirtualClock`): exact offsets, no sleeping. Real time is
used where it is the property: a page on the real clock is never early and keeps the
loop free, a capture is written without waiting, and a second cancel hurries the ends.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.support.clocks import VirtualClock

from polyptt import protocol
from polyptt.send import (
    MONOTONIC,
    Clock,
    PageParams,
    page_length,
    send_page_async,
    transmit_offset,
)
from polyptt.send.pacer_thread import PacerThread

ALERT, TRANSMIT, END = protocol.OpCode.ALERT, protocol.OpCode.TRANSMIT, protocol.OpCode.END
PARAMS = PageParams(26, 0x1234, "async", protocol.CodecId.G711U, 20, start_count=0)
FRAME = b"\x55" * 160


class LoopSink:
    """Records (due offset, the clock's time, datagram) from any thread; `on_send` is
    called with each datagram."""

    paced = True

    def __init__(self, clock: Clock = MONOTONIC) -> None:
        self.clock = clock
        self.sent: list[tuple[float, float, bytes]] = []
        self.on_send: Callable[[bytes], None] | None = None

    def send(self, datagram: bytes, offset: float) -> None:
        self.sent.append((offset, self.clock.now(), datagram))
        if self.on_send is not None:
            self.on_send(datagram)

    def ops(self) -> list[int]:
        return [data[0] for _o, _t, data in self.sent]

    def times(self, op: int) -> list[float]:
        return [when for _o, when, data in self.sent if data[0] == op]


class StallingSource:
    """`count` frames, then none ready ever again; `stalled` is called (once, from the
    pacer's thread) when the first missing one is asked for."""

    def __init__(self, count: int, stalled: Callable[[], None]) -> None:
        self.left = count
        self.stalled: Callable[[], None] | None = stalled

    def next_frame(self) -> bytes | None:
        if self.left:
            self.left -= 1
            return FRAME
        if self.stalled is not None:
            self.stalled, stalled = None, self.stalled
            stalled()
        return None


Pace = Callable[..., Any]


@pytest.fixture(params=["loop", "thread"])
def pacer(request: pytest.FixtureRequest) -> Iterator[Callable[[Clock], Pace]]:
    """Each asyncio pacer in turn: ``pacer(clock)`` is its send_page, kept on `clock`."""
    threads: list[PacerThread] = []

    def make(clock: Clock = MONOTONIC) -> Pace:
        if request.param == "loop":
            return functools.partial(send_page_async, clock=clock)
        threads.append(PacerThread(clock=clock))
        return threads[-1].send_page

    yield make
    for thread in threads:
        thread.close()


def later(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> Callable[[], None]:
    """`callback` run on `loop` soon, from whichever thread calls the result."""
    return lambda: loop.call_soon_threadsafe(callback)


def assert_paced_ends(sink: LoopSink) -> None:
    """Twelve ends, 30 ms apart on the sink's clock, the first one the pause after the
    last packet before them."""
    assert sink.ops()[-12:] == [END] * 12
    assert sink.ops().count(END) == 12
    ends = sink.times(END)
    gaps = [b - a for a, b in itertools.pairwise(ends)]
    assert gaps == pytest.approx([0.03] * 11, abs=1e-9)
    before = sink.sent[-13][1]
    assert ends[0] - before >= protocol.END_PAUSE_S - 1e-9


# ------------------------------------------------------------------ on a virtual clock


def test_every_packet_goes_out_at_its_due_time_on_the_clock(pacer: Callable[..., Pace]) -> None:
    clock = VirtualClock()
    sink = LoopSink(clock)
    frames = [bytes([i]) * 160 for i in range(40)]
    report = asyncio.run(pacer(clock)(frames, PARAMS, sink=sink))
    assert sink.ops() == [ALERT] * 31 + [TRANSMIT] * 40 + [END] * 12
    start = sink.sent[0][1]
    for offset, when, _data in sink.sent:
        assert when - start == pytest.approx(offset, abs=1e-9)
    assert sink.sent[-1][0] == pytest.approx(page_length(40, 20))
    last = [d[26:] for _o, _t, d in sink.sent if d[0] == TRANSMIT][-1]
    assert last == bytes([38]) * 160 + bytes([39]) * 160  # the previous frame, then its own
    assert (report.alerts, report.transmits, report.ends) == (31, 40, 12)
    assert (report.start_count, report.last_count) == (0, 39 * 160)
    assert not report.stopped


def test_max_frames_of_the_params_ends_the_audio(pacer: Callable[..., Pace]) -> None:
    clock = VirtualClock()
    sink = LoopSink(clock)
    params = PageParams(26, 1, "limit", protocol.CodecId.G711U, 20, max_frames=7)
    report = asyncio.run(pacer(clock)([FRAME] * 50, params, sink=sink))
    assert sink.ops() == [ALERT] * 31 + [TRANSMIT] * 7 + [END] * 12
    assert report.transmits == 7
    assert_paced_ends(sink)


def test_stop_event_ends_the_page_at_once(pacer: Callable[..., Pace]) -> None:
    """Stopped while its 21st frame is awaited: 20 frames out, then at once the ends."""
    clock = VirtualClock()

    async def main() -> tuple[Any, LoopSink]:
        sink, stop = LoopSink(clock), asyncio.Event()
        source = StallingSource(20, later(asyncio.get_running_loop(), stop.set))
        return await pacer(clock)(source, PARAMS, sink=sink, stop=stop), sink

    report, sink = asyncio.run(main())
    assert sink.ops()[:51] == [ALERT] * 31 + [TRANSMIT] * 20
    assert (report.transmits, report.ends, report.stopped) == (20, 12, True)
    assert_paced_ends(sink)


def test_cancelled_page_still_sends_its_ends_then_raises(pacer: Callable[..., Pace]) -> None:
    clock = VirtualClock()

    async def main() -> LoopSink:
        sink, tasks = LoopSink(clock), []
        source = StallingSource(20, later(asyncio.get_running_loop(), lambda: tasks[0].cancel()))
        tasks.append(asyncio.create_task(pacer(clock)(source, PARAMS, sink=sink)))
        with pytest.raises(asyncio.CancelledError):
            await tasks[0]
        return sink

    sink = asyncio.run(main())
    assert sink.ops()[:51] == [ALERT] * 31 + [TRANSMIT] * 20
    assert_paced_ends(sink)  # paced, not a burst


def test_failing_source_ends_the_page_and_raises(pacer: Callable[..., Pace]) -> None:
    def frames() -> Iterator[bytes]:
        yield b"\x01" * 160
        raise OSError("microphone unplugged")

    clock = VirtualClock()
    sink = LoopSink(clock)

    async def main() -> None:
        with pytest.raises(OSError, match="unplugged"):
            await pacer(clock)(frames(), PARAMS, sink=sink)

    asyncio.run(main())
    assert sink.ops() == [ALERT] * 31 + [TRANSMIT] + [END] * 12
    assert_paced_ends(sink)


def test_one_thread_paces_ten_pages_at_once_each_on_its_own_schedule() -> None:
    """The relay's case: ten talkers, one pacing thread; each page whole, each packet at
    its own page's due time (the real lateness: benchmarks/relay.py)."""
    frames = [bytes([i]) * 160 for i in range(50)]
    clock = VirtualClock()

    async def main() -> list[LoopSink]:
        pacer = PacerThread(clock=clock)
        sinks = [LoopSink(clock) for _ in range(10)]
        try:
            reports = await asyncio.gather(
                *(
                    pacer.send_page(frames, PageParams(26 + i, 1, "t", PARAMS.codec, 20), sink=s)
                    for i, s in enumerate(sinks)
                )
            )
        finally:
            pacer.close()
        assert all(report.transmits == 50 for report in reports)
        return sinks

    for sink in asyncio.run(main()):
        assert sink.ops() == [ALERT] * 31 + [TRANSMIT] * 50 + [END] * 12
        assert [d[26:] for _o, _t, d in sink.sent if d[0] == TRANSMIT][-1] == bytes(
            [48]
        ) * 160 + bytes([49]) * 160
        start = sink.sent[0][1]
        for offset, when, _data in sink.sent:
            assert when - start == pytest.approx(offset, abs=1e-9)


def test_closing_the_thread_waits_for_the_pages_ends() -> None:
    clock = VirtualClock()

    async def main() -> LoopSink:
        loop = asyncio.get_running_loop()
        pacer, sink = PacerThread(clock=clock), LoopSink(clock)
        stop, stalled = asyncio.Event(), asyncio.Event()

        def stall() -> None:
            stop.set()
            stalled.set()

        source = StallingSource(10, later(loop, stall))
        task = asyncio.create_task(pacer.send_page(source, PARAMS, sink=sink, stop=stop))
        await stalled.wait()  # the page is going: 10 frames out, the 11th awaited
        await asyncio.to_thread(pacer.close)  # returns once the ends are out
        assert sink.ops()[-12:] == [END] * 12
        await task
        return sink

    sink = asyncio.run(main())
    assert sink.ops().count(TRANSMIT) == 10
    assert_paced_ends(sink)


# ------------------------------------------------------------------ on the real clock


async def _ticker(period: float, lateness: list[float], stop: asyncio.Event) -> None:
    """A task that wants to run every `period`: how late it ran says if the loop blocked."""
    loop = asyncio.get_running_loop()
    due = loop.time()
    while not stop.is_set():
        due += period
        await asyncio.sleep(max(0.0, due - loop.time()))
        lateness.append(loop.time() - due)


@pytest.mark.exclusive  # bounds real lateness: measures the machine's load too
def test_page_on_the_loop_keeps_its_schedule_and_the_loop_free(
    pacer: Callable[..., Pace],
) -> None:
    frames = [bytes([i]) * 160 for i in range(25)]

    async def main() -> tuple[object, LoopSink, list[float]]:
        sink, lateness, done = LoopSink(), [], asyncio.Event()
        ticker = asyncio.create_task(_ticker(0.005, lateness, done))
        report = await pacer()(frames, PARAMS, sink=sink)
        done.set()
        await ticker
        return report, sink, lateness

    report, sink, lateness = asyncio.run(main())
    offsets = [o for o, _t, _d in sink.sent]
    assert sink.ops() == [ALERT] * 31 + [TRANSMIT] * 25 + [END] * 12
    assert offsets[-1] == pytest.approx(page_length(25, 20))
    start = sink.sent[0][1]
    for offset, when, _data in sink.sent:
        assert when - start >= offset - 1e-3  # never early (the loop's timer granularity)
    assert report.transmits == 25
    assert report.max_late < 0.05
    assert max(lateness) < 0.05  # another task ran all along


def test_cancelled_twice_sends_the_remaining_ends_at_once(pacer: Callable[..., Pace]) -> None:
    """Cancelled in the alerts, then again once the first end is out: the other 11 go
    out at once, not 30 ms apart (0.33 s)."""

    async def main() -> LoopSink:
        loop, sink = asyncio.get_running_loop(), LoopSink()
        task = asyncio.create_task(pacer()([FRAME] * 500, PARAMS, sink=sink))

        def cancel_again(datagram: bytes) -> None:
            if datagram[0] == END and sink.ops().count(END) == 1:
                loop.call_soon_threadsafe(task.cancel)

        sink.on_send = cancel_again
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return sink

    sink = asyncio.run(main())
    assert sink.ops()[-12:] == [END] * 12
    ends = sink.times(END)
    assert ends[-1] - ends[0] < 0.15


def test_unpaced_sink_is_written_without_waiting(pacer: Callable[..., Pace]) -> None:
    class Capture(LoopSink):
        paced = False

    async def main() -> Capture:
        sink = Capture()
        await pacer()([b"\x01" * 160] * 100, PARAMS, sink=sink)
        return sink

    started = time.monotonic()
    sink = asyncio.run(main())
    assert time.monotonic() - started < 1.0
    offsets = [o for o, _t, _d in sink.sent]
    assert offsets[31] == pytest.approx(transmit_offset(0, 20))
    assert offsets[-1] == pytest.approx(page_length(100, 20))
