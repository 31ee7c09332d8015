"""Frame reassembly: order, duplicates, repair from redundancy, gaps, wrap, learning."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.synthetic import build_page

from polyptt.protocol import CodecId, TransmitPacket
from polyptt.receive.jitter import FrameBuffer, FrameKind, Released, infer_step

ONE = Fraction(1)


def feed(buffer: FrameBuffer, datagrams: list[bytes], start: float = 0.0) -> list[Released]:
    out: list[Released] = []
    for index, data in enumerate(datagrams):
        out += buffer.push(start + index * 0.03, TransmitPacket.parse(data))
    return out + buffer.flush()


def test_in_order_page_comes_out_unchanged(make_page):
    page = make_page(20, 240)
    out = feed(FrameBuffer(ONE), page.transmits)
    assert [r.frame for r in out] == page.frames
    assert all(r.kind is FrameKind.RECEIVED for r in out)
    assert [r.sample_count for r in out] == [i * 240 for i in range(20)]


@pytest.mark.parametrize(
    ("codec", "frame_bytes", "step", "tpb"),
    [
        (CodecId.G722, 240, 240, ONE),  # 30 ms G.722
        (CodecId.G722, 160, 160, ONE),  # 20 ms G.722
        (CodecId.G711U, 160, 160, ONE),  # 20 ms G.711u
        (CodecId.G726QI, 90, 240, Fraction(8, 3)),  # 30 ms G.726QI
        (CodecId.G726QI, 60, 160, Fraction(8, 3)),  # 20 ms G.726QI
    ],
)
def test_frame_size_is_learnt(make_page, codec, frame_bytes, step, tpb):
    page = make_page(10, frame_bytes, codec=codec, step=step)
    buffer = FrameBuffer(tpb)
    out = feed(buffer, page.transmits)
    assert buffer.step == step
    assert [r.frame for r in out] == page.frames


def test_short_last_frame_is_split_as_previous_size_then_rest(make_page):
    page = make_page(5, 240)
    frames = [*page.frames[:-1], page.frames[-1][:80]]
    page = build_page(frames)
    out = feed(FrameBuffer(ONE), page.transmits)
    assert [r.frame for r in out] == frames
    assert out[-1].ticks == 80


def test_single_loss_is_repaired_exactly(make_page):
    page = make_page(10, 240)
    datagrams = page.transmits[:4] + page.transmits[5:]
    buffer = FrameBuffer(ONE)
    out = feed(buffer, datagrams)
    assert [r.frame for r in out] == page.frames
    assert [r.kind for r in out].count(FrameKind.REPAIRED) == 1
    assert out[4].kind is FrameKind.REPAIRED


def test_lost_first_packet_is_repaired(make_page):
    page = make_page(6, 160, step=160)
    out = feed(FrameBuffer(ONE), page.transmits[1:])
    assert [r.frame for r in out] == page.frames
    assert out[0].kind is FrameKind.REPAIRED


@pytest.mark.parametrize("burst", [2, 3])
def test_burst_is_concealed_but_for_its_last_frame(make_page, burst):
    page = make_page(12, 240)
    datagrams = page.transmits[:5] + page.transmits[5 + burst :]
    out = feed(FrameBuffer(ONE), datagrams)
    assert len(out) == 12
    assert [r.kind for r in out[5 : 5 + burst]] == [FrameKind.MISSING] * (burst - 1) + [
        FrameKind.REPAIRED
    ]
    assert all(r.ticks == 240 and r.frame == b"" for r in out[5 : 5 + burst - 1])
    received = [r.frame for r in out if r.kind is not FrameKind.MISSING]
    assert received == page.frames[:5] + page.frames[5 + burst - 1 :]


def test_duplicates_change_nothing_and_are_counted(make_page):
    page = make_page(8, 240)
    datagrams = []
    for data in page.transmits:
        datagrams += [data, data]
    datagrams.append(page.transmits[2])  # again, long after release
    buffer = FrameBuffer(ONE)
    out = feed(buffer, datagrams)
    assert [r.frame for r in out] == page.frames
    assert all(r.kind is FrameKind.RECEIVED for r in out)
    assert (buffer.duplicates, buffer.late) == (9, 0)


def test_reordering_within_the_window_changes_nothing(make_page):
    page = make_page(10, 240)
    t = page.transmits
    datagrams = [t[0], t[2], t[1], t[3], t[5], t[4], t[6], t[7], t[9], t[8]]
    buffer = FrameBuffer(ONE)
    out = feed(buffer, datagrams)
    assert [r.frame for r in out] == page.frames
    assert all(r.kind is FrameKind.RECEIVED for r in out)
    assert (buffer.duplicates, buffer.late) == (0, 0)


def test_packet_later_than_the_window_is_late(make_page):
    page = make_page(10, 240)
    t = page.transmits
    datagrams = [t[0], t[1], t[3], t[4], t[5], t[2], *t[6:]]
    buffer = FrameBuffer(ONE)
    out = feed(buffer, datagrams)
    assert [r.frame for r in out] == page.frames
    assert out[2].kind is FrameKind.REPAIRED
    assert (buffer.duplicates, buffer.late) == (0, 1)


def test_sample_count_wraps(make_page):
    page = make_page(10, 160, step=160, start_count=(1 << 32) - 3 * 160 + 7)
    datagrams = page.transmits[:3] + page.transmits[4:]  # lose the one across the wrap
    out = feed(FrameBuffer(ONE), datagrams)
    assert [r.frame for r in out] == page.frames
    assert out[3].sample_count == (page.start_count + 3 * 160) % (1 << 32) == 7
    assert out[3].kind is FrameKind.REPAIRED


def test_time_bound_releases_a_repair_when_the_stream_stops(make_page):
    page = make_page(4, 240)
    buffer = FrameBuffer(ONE, reorder_s=0.05)
    out = []
    for index in (0, 1, 3):
        out += buffer.push(index * 0.03, TransmitPacket.parse(page.transmits[index]))
    assert [r.kind for r in out] == [FrameKind.RECEIVED] * 2
    assert buffer.next_deadline == pytest.approx(0.09 + 0.05)
    assert buffer.expire(0.13) == []
    late = buffer.expire(0.14)
    assert [(r.frame, r.kind) for r in late] == [
        (page.frames[2], FrameKind.REPAIRED),
        (page.frames[3], FrameKind.RECEIVED),
    ]


def test_one_packet_page_is_released_on_flush(make_page):
    page = make_page(1, 160, step=160)
    buffer = FrameBuffer(ONE)
    assert buffer.push(0.0, TransmitPacket.parse(page.transmits[0])) == []
    out = buffer.flush()
    assert [r.frame for r in out] == page.frames
    assert buffer.step == 160


def test_far_jump_resynchronises_without_buffering_the_gap(make_page):
    first = make_page(5, 240)
    second = make_page(5, 240, seed=2, start_count=1_000_000)
    buffer = FrameBuffer(ONE)
    out = feed(buffer, first.transmits + second.transmits[1:])
    # the first two packets after the jump are not yet evidence of it and are dropped;
    # the third restarts the stream at its redundant frame
    assert [r.frame for r in out] == first.frames + second.frames[2:]
    assert (buffer.resyncs, buffer.discarded) == (1, 2)
    assert [r.kind for r in out].count(FrameKind.MISSING) == 0


def test_isolated_far_future_packets_do_not_disturb_the_stream(make_page):
    """Forged counts far ahead, interleaved with the page, never line up into a restart."""
    page = make_page(30, 240)
    forged = make_page(30, 240, seed=9, start_count=3_000_000).transmits
    mixed = [d for pair in zip(page.transmits, forged, strict=True) for d in pair]
    buffer = FrameBuffer(ONE)
    out = feed(buffer, mixed)
    assert [r.frame for r in out] == page.frames
    assert (buffer.resyncs, buffer.discarded) == (0, 30)


def test_audio_never_runs_ahead_of_twice_the_elapsed_time(make_page):
    """Jumps within the window are concealed only as far as the clock allows (the
    reviewer's repro: every other packet 49 frames ahead, 300 packets in 0.3 s): at most
    2 x the elapsed time, plus 1 s and the reorder window."""
    buffer = FrameBuffer(ONE, reorder_s=0.06, max_lead_s=1.0)
    count, released = 0, []
    for index in range(300):
        packet = TransmitPacket(26, 1, "", CodecId.G722, count, b"\0" * (480 if index else 240))
        released += buffer.push(index * 0.001, packet)
        count = (count + (49 * 240 if index % 2 else 240)) % (1 << 32)
    released += buffer.flush()
    ticks = sum(r.ticks for r in released)
    assert ticks <= (2 * 0.299 + 1.06) * 8000
    assert buffer.discarded > 250


def test_a_page_far_faster_than_real_time_is_cut_to_twice_the_elapsed_time(make_page):
    """Consecutive packets (the shortcut's case) obey the clock like any others."""
    page = make_page(300, 240)  # 9 s of audio, delivered in 0.3 s
    buffer = FrameBuffer(ONE, reorder_s=0.06, max_lead_s=1.0)
    released = []
    for index, data in enumerate(page.transmits):
        released += buffer.push(index * 0.001, TransmitPacket.parse(data))
    released += buffer.flush()
    assert sum(r.ticks for r in released) <= (2 * 0.299 + 1.06) * 8000
    assert buffer.discarded > 250
    # what the clock allowed plays as sent: 37 frames by the 37th millisecond
    # (240 (i + 1) <= 16 i + 1.06 * 8000 up to i = 36)
    assert [r.frame for r in released[:37]] == page.frames[:37]
    assert released[37].count != 37 * 240  # the 38th frame did not fit


@pytest.mark.parametrize("speed", [1.0, 1.48, 1.99])
def test_a_page_up_to_twice_real_time_passes_whole_however_long(make_page, speed):
    """Ten minutes of 30 ms frames at up to twice real time: every frame, as sent."""
    page = make_page(20_000, 240)
    buffer = FrameBuffer(ONE)
    released = []
    for index, data in enumerate(page.transmits):
        released += buffer.push(index * 0.03 / speed, TransmitPacket.parse(data))
    released += buffer.flush()
    assert buffer.discarded == 0
    assert [r.frame for r in released] == page.frames


def test_the_packet_that_fills_a_gap_releases_the_frames_parked_behind_it(make_page):
    page = make_page(6, 240)
    t = [TransmitPacket.parse(d) for d in page.transmits]
    buffer = FrameBuffer(ONE, reorder_frames=3)
    out = []
    for index in (0, 1, 3):
        out += buffer.push(index * 0.03, t[index])
    assert [r.frame for r in out] == page.frames[:2]  # frame 3 waits for frame 2
    assert [r.frame for r in buffer.push(0.1, t[2])] == page.frames[2:4]
    assert [r.frame for r in buffer.push(0.12, t[4])] == [page.frames[4]]


@pytest.mark.parametrize("size", [240 + 720, 1000, 5000])
def test_a_packet_longer_than_two_frames_is_dropped(make_page, size):
    """A new frame longer than the step would overtake the frames after it: dropped."""
    page = make_page(6, 240)
    packets = [TransmitPacket.parse(d) for d in page.transmits]
    long = TransmitPacket(26, 1, "", CodecId.G722, 3 * 240, b"\1" * size)
    buffer = FrameBuffer(ONE)
    out = [
        r
        for i, p in enumerate([*packets[:3], long, *packets[3:]])
        for r in buffer.push(i * 0.03, p)
    ]
    out += buffer.flush()
    assert [r.frame for r in out] == page.frames
    assert buffer.unsplittable == 1


@pytest.mark.parametrize("step", [80, 160, 240, 320, 480, 640])
def test_plausible_steps_are_learnt(make_page, step):
    page = make_page(8, step, step=step)
    buffer = FrameBuffer(ONE)
    assert [r.frame for r in feed(buffer, page.transmits)] == page.frames
    assert buffer.step == step


@pytest.mark.parametrize("step", [40, 100, 1249, 720, 8000])
def test_implausible_steps_are_not_learnt(make_page, step):
    page = make_page(8, step, step=step)
    buffer = FrameBuffer(ONE)
    feed(buffer, page.transmits)
    assert buffer.step in {80 * k for k in range(1, 9)}
    assert buffer.step != step


def test_hostile_counts_keep_the_buffer_bounded(make_page):
    import random

    rng = random.Random(5)
    page = make_page(3, 240)
    buffer = FrameBuffer(ONE)
    feed_only = [TransmitPacket.parse(d) for d in page.transmits]
    for index, packet in enumerate(feed_only):
        buffer.push(index * 0.03, packet)
    for index in range(5000):
        count = rng.randrange(1 << 32)
        audio = rng.randbytes(rng.choice([1, 240, 480, 300, 1000]))
        packet = TransmitPacket(26, 1, "", CodecId.G722, count, audio)
        buffer.push(1 + index * 1e-4, packet)
        assert buffer.held <= 52


@pytest.mark.parametrize(
    ("packets", "step"),
    [
        ([(0, 240), (240, 480)], 240),  # first packet, then a full one
        ([(240, 480), (480, 480)], 240),  # first lost
        ([(0, 240), (480, 480)], 240),  # one lost between
        ([(240, 480), (720, 480)], 240),  # one lost between, no first packet
        ([(240, 480), (960, 480)], 240),  # two lost between
        ([(480, 480), (240, 480)], 240),  # reordered
        ([(0, 160), (160, 320), (320, 200)], 160),  # short last frame
        ([(0, 240), (0, 240)], None),  # a duplicate decides nothing
        ([(0, 240)], None),
        ([(100, 7), (200, 13)], None),  # nothing consistent
        ([(0, 2000), (1000, 2000)], None),  # 125 ms frames: implausible
        ([(0, 1498), (749, 1498)], None),  # not whole 10 ms
    ],
)
def test_infer_step(packets, step):
    assert infer_step(packets) == step


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.booleans(), min_size=30, max_size=30),
    st.integers(0, (1 << 32) - 1),
    st.sampled_from([160, 240]),
)
def test_any_isolated_losses_are_repaired_exactly(losses, start_count, step):
    """Property: losing no two adjacent packets, nor the last, leaves the frames intact."""
    import random

    rng = random.Random(start_count)
    frames = [rng.randbytes(step) for _ in range(30)]
    page = build_page(frames, step=step, start_count=start_count)
    lost = {i for i, lose in enumerate(losses[:-1]) if lose and not (i and losses[i - 1])}
    datagrams = [d for i, d in enumerate(page.transmits) if i not in lost]
    out = feed(FrameBuffer(ONE), datagrams)
    assert [r.frame for r in out] == frames
    assert [r.kind for r in out].count(FrameKind.REPAIRED) == len(lost)
    assert [r.kind for r in out].count(FrameKind.MISSING) == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-3000, 3000), st.integers(1, 1000)), min_size=1, max_size=60),
    st.integers(0, (1 << 32) - 1),
)
def test_any_packet_sequence_terminates_and_stays_bounded(packets, base):
    """Property: hostile counts and lengths never stall, loop or grow the buffer."""
    buffer = FrameBuffer(ONE, max_ahead_frames=10)
    released = 0
    for index, (offset, size) in enumerate(packets):
        packet = TransmitPacket(26, 1, "", CodecId.G722, (base + offset) % (1 << 32), b"\0" * size)
        released += len(buffer.push(index * 0.01, packet))
        released += len(buffer.expire(index * 0.01 + 0.005))
        assert buffer.held <= 10 + 2 + 8
    released += len(buffer.flush())
    assert buffer.held == 0


def test_a_count_restarted_lower_is_followed_after_three_packets(make_page):
    first = make_page(60, 240, start_count=1_000_000)
    second = make_page(6, 240, seed=2, start_count=0)
    buffer = FrameBuffer(ONE)
    out = feed(buffer, first.transmits + second.transmits[1:])
    received = [r.frame for r in out if r.kind is not FrameKind.MISSING]
    # the first two packets after the restart look merely late; the third restarts the
    # stream at its redundant frame
    assert received == first.frames + second.frames[2:]
    assert (buffer.resyncs, buffer.late) == (1, 2)


def test_one_very_late_packet_does_not_restart_the_stream(make_page):
    page = make_page(70, 240)
    t = page.transmits
    buffer = FrameBuffer(ONE)
    out = feed(buffer, [*t[:65], t[2], *t[65:]])
    assert [r.frame for r in out] == page.frames
    assert (buffer.resyncs, buffer.duplicates) == (0, 1)


class _GeneralPathOnly(FrameBuffer):
    """The buffer without its shortcut: every packet parked in a slot, then drained."""

    def take_next(self, now: float, count: int, audio: bytes) -> bytes | None:
        return None


def _state(buffer: FrameBuffer) -> tuple:
    """Everything that decides what the buffer does next."""
    slots = {count: (slot.primary, slot.redundant) for count, slot in buffer._slots.items()}
    return (
        buffer._head,
        buffer._newest,
        buffer._due_since,
        list(buffer._history),
        buffer._far_streak,
        buffer._released_ticks,
        slots,
        (buffer.duplicates, buffer.late, buffer.resyncs, buffer.unsplittable, buffer.discarded),
    )


@pytest.mark.parametrize("seed", range(60))
def test_the_shortcut_leaves_the_buffer_as_the_general_path_does(make_page, seed):
    """Same releases and same state after every packet, shortcut or not."""
    rng = random.Random(seed)
    codec, frame_bytes, step, tpb = rng.choice(
        [(CodecId.G722, 160, 160, ONE), (CodecId.G722, 240, 240, ONE),
         (CodecId.G726QI, 60, 160, Fraction(8, 3))]
    )  # fmt: skip
    page = make_page(80, frame_bytes, codec=codec, step=step, seed=seed, start_count=rng.choice(
        [0, (1 << 32) - 5 * step]))  # fmt: skip
    traffic = []
    now = 0.0
    pace = (0.001,) if seed % 5 == 0 else (0.02, 0.02, 0.02, 0.001, 0.08)
    for data in page.transmits:
        now += rng.choice(pace)  # on time, a burst, a stall; or much faster than real time
        roll = rng.random()
        if roll < 0.08:
            continue  # lost
        if roll < 0.12 and traffic:
            traffic.insert(len(traffic) - 1, (now, data))  # overtakes the previous one
            continue
        traffic.append((now, data))
        if roll > 0.95:
            traffic.append((now, data))  # duplicated
        if roll > 0.9:  # forged: a count nearby or far, a length off
            count = int.from_bytes(data[22:26], "big") + rng.choice((step, -step, 99 * step))
            forged = data[:22] + (count % (1 << 32)).to_bytes(4, "big") + data[26:]
            traffic.append((now, forged[: rng.choice((len(forged), len(forged) - 7))]))
    buffers = [FrameBuffer(tpb), _GeneralPathOnly(tpb)]
    for now, data in traffic:
        packet = TransmitPacket.parse(data)
        shortcut, general = (buffer.push(now, packet) for buffer in buffers)
        assert shortcut == general
        assert _state(buffers[0]) == _state(buffers[1])
    assert buffers[0].flush() == buffers[1].flush()
