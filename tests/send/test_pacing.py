"""The page sender on a simulated clock: schedule, packet contents, ending on every path."""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Iterator

import pytest
from tests.support.pages import split_page

from polyptt import protocol
from polyptt.send import PageParams, PageReport, realtime_priority, send_page, transmit_offset
from polyptt.send import pacing as sender

CHANNEL, SERIAL, CALLER = 26, 0x12345678, "bell"


class FakeClock:
    """A monotonic clock that only sleeping moves; `hiccups` adds delays at given sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.time = start
        self.sleeps: list[float] = []
        self.hiccups: dict[int, float] = {}

    def __call__(self) -> float:
        return self.time

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.time += seconds + self.hiccups.pop(len(self.sleeps), 0.0)
        self.sleeps.append(seconds)


class RecordingSink:
    def __init__(self, clock: FakeClock | None = None, paced: bool = True) -> None:
        self.clock = clock
        self.paced = paced
        self.sent: list[tuple[float, float, bytes]] = []  # (offset, clock time, datagram)

    def send(self, datagram: bytes, offset: float) -> None:
        self.sent.append((offset, self.clock() if self.clock else 0.0, datagram))


def frames_of(count: int, size: int = 240) -> list[bytes]:
    return [bytes([index % 256]) * size for index in range(count)]


PARAMS = PageParams(CHANNEL, SERIAL, CALLER, protocol.CodecId.G722, 30, start_count=0x1000)
_PARAM_NAMES = {field.name for field in dataclasses.fields(PageParams)}


def page(frames, sink, clock=None, **overrides) -> PageReport:
    """`send_page` of PARAMS with `overrides` (of the page or of send_page's options)."""
    params = dataclasses.replace(
        PARAMS, **{k: v for k, v in overrides.items() if k in _PARAM_NAMES}
    )
    options = {k: v for k, v in overrides.items() if k not in _PARAM_NAMES}
    if clock is not None:
        options["clock"] = clock
    return send_page(frames, params, sink=sink, **options)


def expected_offsets(frame_count: int, frame_ms: int) -> list[float]:
    alerts = [i * protocol.ALERT_INTERVAL_S for i in range(protocol.ALERT_COUNT)]
    transmits = [transmit_offset(i, frame_ms) for i in range(frame_count)]
    end_base = transmits[-1] + protocol.END_PAUSE_S
    ends = [end_base + i * protocol.END_INTERVAL_S for i in range(protocol.END_COUNT)]
    return alerts + transmits + ends


@pytest.mark.parametrize("frame_ms", [10, 20, 30, 80])
def test_schedule_and_packets(frame_ms: int) -> None:
    clock = FakeClock()
    sink = RecordingSink(clock)
    frames = frames_of(17, size=frame_ms * 8)
    report = page(frames, sink, clock, frame_ms=frame_ms)

    offsets = [offset for offset, _t, _d in sink.sent]
    assert offsets == pytest.approx(expected_offsets(17, frame_ms), abs=1e-12)
    # Each packet went out at its due time on the clock, never before.
    start = sink.sent[0][1]
    for offset, when, _data in sink.sent:
        assert when - start >= offset - 1e-9
        assert when - start == pytest.approx(offset, abs=1e-9)
    received = split_page([(when, data) for _o, when, data in sink.sent], step=8 * frame_ms)
    assert received.frames == frames
    assert len(received.transmits[0][1].audio) == frame_ms * 8  # the first: one frame
    assert received.counts[0] == 0x1000
    assert bytes(received.alerts[0][1]) == bytes(protocol.AlertPacket(CHANNEL, SERIAL, CALLER))
    assert bytes(received.ends[0][1]) == bytes(protocol.EndPacket(CHANNEL, SERIAL, CALLER))
    assert (report.alerts, report.transmits, report.ends) == (31, 17, 12)
    assert report.last_count == 0x1000 + 16 * 8 * frame_ms
    assert report.interrupted is None
    # wake-ups with nothing due (80 ms frames: sleeps are cut to 50 ms) are not lateness
    assert report.max_late == pytest.approx(0.0, abs=1e-9)
    assert report.elapsed == pytest.approx(offsets[-1])


def test_sample_count_wraps() -> None:
    sink = RecordingSink(paced=False)
    report = page(frames_of(5), sink, start_count=0xFFFFFE00)
    received = split_page([(0.0, data) for _o, _t, data in sink.sent], step=240)
    assert received.counts == [0xFFFFFE00, 0xFFFFFEF0, 0xFFFFFFE0, 0xD0, 0x1C0]
    assert report.last_count == 0x1C0


def test_random_start_count_differs() -> None:
    starts = {page(frames_of(1), RecordingSink(paced=False), start_count=None).start_count}
    starts |= {page(frames_of(1), RecordingSink(paced=False), start_count=None).start_count}
    assert len(starts) == 2  # 1 in 2**32 chance of a false failure


def test_unpaced_sink_never_sleeps() -> None:
    clock = FakeClock()
    sink = RecordingSink(clock, paced=False)
    page(frames_of(100), sink, clock)
    assert clock.sleeps == []
    assert [o for o, _t, _d in sink.sent] == pytest.approx(expected_offsets(100, 30))


def test_late_process_catches_up_in_order_without_drift() -> None:
    clock = FakeClock()
    clock.hiccups = {40: 0.200}  # the 41st sleep overshoots by 200 ms (~7 frames)
    sink = RecordingSink(clock)
    page(frames_of(60), sink, clock)
    start = sink.sent[0][1]
    lateness = [when - start - offset for offset, when, _d in sink.sent]
    assert min(lateness) >= -1e-9
    assert max(lateness) == pytest.approx(0.2, abs=0.031)
    # Back on the absolute schedule afterwards: no accumulated delay.
    assert lateness[-20:] == pytest.approx([0.0] * 20, abs=1e-9)
    assert [o for o, _t, _d in sink.sent] == sorted(o for o, _t, _d in sink.sent)


def test_spin_polls_the_clock_instead_of_sleeping_at_the_end() -> None:
    polls: list[float] = []

    class PolledClock(FakeClock):
        def now(self) -> float:
            polls.append(self.time)
            self.time += 0.0001  # every poll costs 100 us of "spinning"
            return self.time

    clock = PolledClock()
    sink = RecordingSink(clock)
    page(frames_of(3), sink, clock, spin_s=0.002)
    assert clock.sleeps  # slept for most of each wait
    assert all(s <= 0.050 for s in clock.sleeps)
    assert len(polls) > 100  # and spun through the last 2 ms


def interrupt_after(frames: list[bytes], index: int, signum: int) -> Iterator[bytes]:
    for position, frame in enumerate(frames):
        if position == index:
            os.kill(os.getpid(), signum)
        yield frame


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_audio_ends_the_page(signum: int) -> None:
    before = signal.getsignal(signum)
    clock = FakeClock()
    sink = RecordingSink(clock)
    report = page(interrupt_after(frames_of(50), 10, signum), sink, clock)
    assert report.interrupted == signum
    received = split_page([(when, data) for _o, when, data in sink.sent])
    assert len(received.alerts) == 31
    assert len(received.ends) == 12
    assert 9 <= len(received.transmits) <= 11
    assert signal.getsignal(signum) is before  # handlers restored


def test_signal_during_alerts_ends_the_page() -> None:
    clock = FakeClock()
    sink = RecordingSink(clock)

    def progress(report: PageReport) -> None:
        if report.alerts == 5 and report.ends == 0:
            os.kill(os.getpid(), signal.SIGTERM)

    report = page(frames_of(50), sink, clock, progress=progress)
    assert report.interrupted == signal.SIGTERM
    assert (report.alerts, report.transmits, report.ends) == (5, 0, 12)
    offsets = [o for o, _t, _d in sink.sent]
    assert offsets[5] == pytest.approx(offsets[4] + protocol.END_PAUSE_S)


def test_source_error_still_ends_the_page_then_raises() -> None:
    def failing() -> Iterator[bytes]:
        yield from frames_of(3)
        raise RuntimeError("microphone gone")

    sink = RecordingSink(paced=False)
    report = PageReport()
    with pytest.raises(RuntimeError, match="microphone gone"):
        page(failing(), sink, report=report)
    assert (report.alerts, report.transmits, report.ends) == (31, 3, 12)
    assert protocol.parse_packet(sink.sent[-1][2]).OP is protocol.OpCode.END


def test_sink_error_is_raised_after_trying_the_ends() -> None:
    class FlakySink(RecordingSink):
        calls = 0

        def send(self, datagram: bytes, offset: float) -> None:
            self.calls += 1
            if self.calls == 41 or self.calls > 43:  # one transmit, then most ends fail
                raise OSError("network is down")
            super().send(datagram, offset)

    sink = FlakySink(paced=False)
    report = PageReport()
    with pytest.raises(OSError, match="network is down"):
        page(frames_of(20), sink, report=report)
    assert (report.alerts, report.transmits, report.ends) == (31, 9, 2)
    assert report.end_errors == ["network is down"] * 10
    assert [protocol.parse_packet(d).OP for _o, _t, d in sink.sent[-2:]] == [
        protocol.OpCode.END
    ] * 2


# ------------------------------------------------------------------ real-time scheduling


class _PolicyRecordingSink:
    """A paced sink that notes the scheduling policy each packet is sent under."""

    paced = True

    def __init__(self) -> None:
        self.policies: set[int] = set()

    def send(self, datagram: bytes, offset: float) -> None:
        self.policies.add(os.sched_getscheduler(0))


class _HurriedClock(FakeClock):
    """10 s pass per look: never a wait."""

    def now(self) -> float:
        self.time += 10.0
        return self.time


def _short_page(sink: object, **kwargs: object) -> sender.PageReport:
    params = PageParams(26, 1, "t", protocol.CodecId.G722, 30)
    return sender.send_page(
        [b"\x00" * 240],
        params,
        sink=sink,  # type: ignore[arg-type]
        clock=_HurriedClock(0.0),
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_paced_page_runs_under_sched_fifo_and_restores_the_policy() -> None:
    before = os.sched_getscheduler(0)
    with realtime_priority.realtime() as granted:
        pass
    if not granted:
        pytest.skip("this process may not use real-time scheduling (needs root or CAP_SYS_NICE)")
    sink = _PolicyRecordingSink()
    report = _short_page(sink)
    assert report.realtime is True
    assert sink.policies == {os.SCHED_FIFO}
    assert os.sched_getscheduler(0) == before


def test_no_realtime_keeps_the_normal_policy() -> None:
    sink = _PolicyRecordingSink()
    report = _short_page(sink, realtime=False)
    assert report.realtime is False
    assert sink.policies == {os.sched_getscheduler(0)} != {os.SCHED_FIFO}


def test_refused_realtime_sends_the_page_at_normal_priority(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An unprivileged user cannot be made here (the tests run as root in CI): the refusal
    # the kernel would give such a user is simulated.
    def refuse(*_args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    sink = _PolicyRecordingSink()
    report = _short_page(sink)
    assert report.realtime is False
    assert report.transmits == 1
    assert report.ends == protocol.END_COUNT
