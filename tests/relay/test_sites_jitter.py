"""The jitter buffer of pages from other sites (`polyptt.relay.sites.jitter`), on a
clock the test moves: the cushion, a lost frame, running dry, stale audio, the end."""

from __future__ import annotations

from polyptt.relay.sites.jitter import MAX_S, START_S, JitterSource


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def frame(n: int) -> bytes:
    return bytes([n % 256]) * 80


def source() -> tuple[JitterSource, Clock]:
    clock = Clock()
    return JitterSource(20, clock=clock), clock


def test_the_first_frame_waits_for_60_ms_of_audio() -> None:
    jitter, _clock = source()
    jitter.put(0, frame(0))
    jitter.put(1, frame(1))
    assert jitter.next_frame() is None  # 40 ms waiting
    jitter.put(2, frame(2))
    assert [jitter.next_frame() for _ in range(3)] == [frame(0), frame(1), frame(2)]


def test_or_for_the_first_frame_to_have_waited_60_ms() -> None:
    jitter, clock = source()
    jitter.put(0, frame(0))
    clock.now = START_S - 0.001
    assert jitter.next_frame() is None
    clock.now = START_S
    assert jitter.next_frame() == frame(0)


def test_a_lost_frame_is_concealed_and_dropped_if_it_comes_late() -> None:
    jitter, _clock = source()
    for n in (0, 1, 3, 4):
        jitter.put(n, frame(n))
    taken = [jitter.next_frame() for _ in range(4)]
    assert taken == [frame(0), frame(1), frame(1), frame(3)]  # 2 lost: 1 again
    jitter.put(2, frame(2))  # too late
    assert (jitter.concealed, jitter.dropped) == (1, 1)
    assert jitter.next_frame() == frame(4)


def test_running_dry_grows_the_cushion_up_to_300_ms() -> None:
    jitter, clock = source()
    for seq in range(20):
        jitter.put(seq, frame(seq))
        clock.now += 1.0  # waited long enough: it goes out
        assert jitter.next_frame() == frame(seq)
        assert jitter.next_frame() is None  # dry
    assert jitter.target_s == MAX_S


def test_audio_waiting_past_500_ms_is_dropped_down_to_the_cushion() -> None:
    jitter, _clock = source()
    for n in range(3):
        jitter.put(n, frame(n))
    assert jitter.next_frame() == frame(0)
    for n in range(3, 26):  # 1-25: 0.5 s waiting, kept
        jitter.put(n, frame(n))
    assert round(jitter.waiting_s, 3) == 0.5
    jitter.put(26, frame(26))  # past 0.5 s: down to the cushion, the newest audio
    assert round(jitter.waiting_s, 3) == START_S
    assert jitter.dropped == 23
    assert [jitter.next_frame() for _ in range(3)] == [frame(24), frame(25), frame(26)]


def test_a_page_delayed_for_a_busy_channel_keeps_every_frame() -> None:
    jitter, _clock = source()
    jitter.delayed = True
    for n in range(100):
        jitter.put(n, frame(n))
    jitter.close(100)
    taken = [jitter.next_frame() for _ in range(101)]
    assert taken == [frame(n) for n in range(100)] + [b""]


def test_the_end_after_what_waits_and_an_abort_at_once() -> None:
    jitter, _clock = source()
    jitter.put(0, frame(0))
    jitter.close(1)
    assert [jitter.next_frame(), jitter.next_frame()] == [frame(0), b""]
    aborted, _clock = source()
    for n in range(5):
        aborted.put(n, frame(n))
    aborted.abort()
    assert aborted.next_frame() == b""


def test_a_longer_gap_is_skipped_not_filled() -> None:
    jitter, _clock = source()
    for n in (0, 1, 2, 40, 41, 42):  # 37 frames never came (a link that came back)
        jitter.put(n, frame(n))
    taken = [jitter.next_frame() for _ in range(6)]
    assert taken == [frame(n) for n in (0, 1, 2, 40, 41, 42)]
    assert (jitter.concealed, jitter.dropped) == (0, 37)
