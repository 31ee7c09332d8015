"""The asyncio pacers: the same page as the blocking one, never blocking the loop, and
always ended; waiting on the loop's timers (`send_page_async`) or in a real-time thread
that paces many pages (`PacerThread.send_page`), with one behaviour."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from polyptt import protocol
from polyptt.send import page_length, send_page_async, transmit_offset
from polyptt.send.pacer_thread import PacerThread

ALERT, TRANSMIT, END = protocol.OpCode.ALERT, protocol.OpCode.TRANSMIT, protocol.OpCode.END


class LoopSink:
    """Records (due offset, monotonic time, datagram) from any thread."""

    paced = True

    def __init__(self) -> None:
        self.sent: list[tuple[float, float, bytes]] = []

    def send(self, datagram: bytes, offset: float) -> None:
        self.sent.append((offset, time.monotonic(), datagram))

    def ops(self) -> list[int]:
        return [data[0] for _o, _t, data in self.sent]


@pytest.fixture(params=["loop", "thread"])
def pace(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Each asyncio pacer in turn."""
    if request.param == "loop":
        yield send_page_async
    else:
        pacer = PacerThread()
        yield pacer.send_page
        pacer.close()


def page(pace: Callable[..., Any], sink: LoopSink, frames: object, **overrides: object):
    arguments = dict(
        sink=sink,
        channel=26,
        serial=0x1234,
        caller_id="async",
        codec=protocol.CodecId.G711U,
        frame_ms=20,
        start_count=0,
    )
    arguments.update(overrides)
    return pace(frames, **arguments)


async def _ticker(period: float, lateness: list[float], stop: asyncio.Event) -> None:
    """A task that wants to run every `period`: how late it ran says if the loop blocked."""
    loop = asyncio.get_running_loop()
    due = loop.time()
    while not stop.is_set():
        due += period
        await asyncio.sleep(max(0.0, due - loop.time()))
        lateness.append(loop.time() - due)


def test_page_on_the_loop_keeps_its_schedule_and_the_loop_free(pace: Callable[..., Any]) -> None:
    frames = [bytes([i]) * 160 for i in range(25)]

    async def main() -> tuple[object, list[float]]:
        sink, lateness, done = LoopSink(), [], asyncio.Event()
        ticker = asyncio.create_task(_ticker(0.005, lateness, done))
        report = await page(pace, sink, frames)
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


def test_stop_event_ends_the_page_at_once(pace: Callable[..., Any]) -> None:
    frames = [b"\x55" * 160] * 500  # 10 s of audio

    async def main() -> tuple[object, LoopSink, float]:
        sink, stop = LoopSink(), asyncio.Event()
        asyncio.get_running_loop().call_later(1.2, stop.set)
        started = time.monotonic()
        report = await page(pace, sink, frames, stop=stop)
        return report, sink, time.monotonic() - started

    report, sink, took = asyncio.run(main())
    assert sink.ops()[-12:] == [END] * 12
    assert 0 < report.transmits < 30
    assert report.stopped
    assert took < 1.2 + 0.05 + 11 * 0.03 + 0.2


def test_cancelled_page_still_sends_its_ends_then_raises(pace: Callable[..., Any]) -> None:
    frames = [b"\x55" * 160] * 500

    async def main() -> LoopSink:
        sink = LoopSink()
        task = asyncio.create_task(page(pace, sink, frames))
        await asyncio.sleep(1.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return sink

    sink = asyncio.run(main())
    ops = sink.ops()
    assert ops[-12:] == [END] * 12
    assert TRANSMIT in ops
    ends = [when for _o, when, data in sink.sent if data[0] == END]
    assert ends[-1] - ends[0] == pytest.approx(11 * 0.03, abs=0.03)  # paced, not a burst


def test_cancelled_twice_sends_the_remaining_ends_at_once(pace: Callable[..., Any]) -> None:
    async def main() -> LoopSink:
        sink = LoopSink()
        task = asyncio.create_task(page(pace, sink, [b"\x55" * 160] * 500))
        await asyncio.sleep(1.0)
        task.cancel()
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return sink

    assert asyncio.run(main()).ops()[-12:] == [END] * 12


def test_failing_source_ends_the_page_and_raises(pace: Callable[..., Any]) -> None:
    def frames():
        yield b"\x01" * 160
        raise OSError("microphone unplugged")

    async def main() -> LoopSink:
        sink = LoopSink()
        with pytest.raises(OSError, match="unplugged"):
            await page(pace, sink, frames())
        return sink

    sink = asyncio.run(main())
    assert sink.ops() == [ALERT] * 31 + [TRANSMIT] + [END] * 12


def test_unpaced_sink_is_written_without_waiting(pace: Callable[..., Any]) -> None:
    class Capture(LoopSink):
        paced = False

    async def main() -> Capture:
        sink = Capture()
        await page(pace, sink, [b"\x01" * 160] * 100)
        return sink

    started = time.monotonic()
    sink = asyncio.run(main())
    assert time.monotonic() - started < 1.0
    offsets = [o for o, _t, _d in sink.sent]
    assert offsets[31] == pytest.approx(transmit_offset(0, 20))
    assert offsets[-1] == pytest.approx(page_length(100, 20))


def test_one_thread_paces_ten_pages_at_once_each_on_its_own_schedule() -> None:
    """The relay's case: ten talkers, one pacing thread; each page is whole and on time
    (a loose bound here: benchmarks/relay.py measures the real figure)."""
    frames = [bytes([i]) * 160 for i in range(50)]

    async def main() -> list[LoopSink]:
        pacer = PacerThread()
        sinks = [LoopSink() for _ in range(10)]
        try:
            reports = await asyncio.gather(
                *(
                    page(pacer.send_page, sink, frames, channel=26 + i)
                    for i, sink in enumerate(sinks)
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
            assert offset - 1e-4 <= when - start < offset + 0.05


def test_closing_the_thread_waits_for_the_pages_ends() -> None:
    async def main() -> LoopSink:
        pacer, sink, stop = PacerThread(), LoopSink(), asyncio.Event()
        task = asyncio.create_task(page(pacer.send_page, sink, [b"\x55" * 160] * 500, stop=stop))
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.sleep(0)
        await asyncio.to_thread(pacer.close)  # returns once the ends are out
        assert sink.ops()[-12:] == [END] * 12
        await task
        return sink

    sink = asyncio.run(main())
    assert sink.ops().count(END) == 12
