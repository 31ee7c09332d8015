"""The page schedule: exact bytes, due offsets, and every way of ending."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyptt import protocol
from polyptt.send import PageParams, Phase, Schedule, page_length, transmit_offset

PARAMS = PageParams(26, 0x12345678, "bell", protocol.CodecId.G722, 30)


def take_all(schedule: Schedule, frames: list[bytes]) -> list[tuple[float, bytes]]:
    """Run `schedule` to its end with `frames`, as a pacer would."""
    out = []
    source = iter(frames)
    while (offset := schedule.next_offset()) is not None:
        frame = None
        if schedule.wants_frame:
            frame = next(source, None)
            if frame is None:
                schedule.end_audio()
                continue
        out.append((offset, schedule.take(frame)))
    return out


@given(
    channel=st.integers(1, 50),
    serial=st.integers(0, 2**32 - 1),
    caller_id=st.text(max_size=20).filter(lambda text: "\0" not in text),
    codec=st.sampled_from(list(protocol.CodecId)),
    frame_ms=st.sampled_from([10, 20, 30, 80]),
    start=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=6),
)
def test_datagrams_are_those_of_the_packet_classes(
    channel, serial, caller_id, codec, frame_ms, start, sizes
) -> None:
    """The hand-assembled bytes equal the validated packet objects' bytes, field by field."""
    params = PageParams(channel, serial, caller_id, codec, frame_ms)
    frames = [bytes([index]) * size for index, size in enumerate(sizes)]
    sent = take_all(Schedule(params, start_count=start), frames)
    alert = bytes(protocol.AlertPacket(channel, serial, caller_id))
    end = bytes(protocol.EndPacket(channel, serial, caller_id))
    expected, previous, count = [], b"", start
    for frame in frames:
        packet = protocol.TransmitPacket.from_frames(
            channel=channel,
            serial=serial,
            caller_id=caller_id,
            codec=codec,
            sample_count=count,
            frame=frame,
            redundant=previous,
        )
        expected.append(bytes(packet))
        previous, count = frame, protocol.advance(count, frame_ms * 8)
    datagrams = [data for _offset, data in sent]
    assert datagrams == [alert] * 31 + expected + [end] * 12


def test_offsets_and_counts() -> None:
    schedule = Schedule(PARAMS, start_count=7)
    sent = take_all(schedule, [b"x" * 240] * 4)
    offsets = [offset for offset, _data in sent]
    assert offsets[:31] == pytest.approx([i * 0.03 for i in range(31)])
    assert offsets[31:35] == pytest.approx([transmit_offset(i, 30) for i in range(4)])
    assert offsets[35:] == pytest.approx([offsets[34] + 0.05 + i * 0.03 for i in range(12)])
    assert offsets[-1] == pytest.approx(page_length(4, 30))
    assert (schedule.alerts, schedule.transmits, schedule.ends) == (31, 4, 12)
    assert schedule.last_count == 7 + 3 * 240
    assert schedule.done
    assert schedule.next_offset() is None
    with pytest.raises(ValueError, match="over"):
        schedule.take()


def test_no_audio_gives_alerts_then_ends() -> None:
    sent = take_all(Schedule(PARAMS), [])
    assert [data[0] for _o, data in sent] == [0x0F] * 31 + [0xFF] * 12
    assert sent[31][0] == pytest.approx(30 * 0.03 + 0.05)


@pytest.mark.parametrize("stop_after", [0, 5, 31, 40])
def test_stop_ends_the_page_from_the_moment_it_is_told(stop_after: int) -> None:
    schedule = Schedule(PARAMS)
    for _ in range(stop_after):
        schedule.take(b"f" * 240 if schedule.wants_frame else None)
    told_at = schedule.last_offset + 0.012
    schedule.stop(told_at)
    assert schedule.phase is Phase.ENDS
    assert schedule.stopped
    assert not schedule.wants_frame
    offsets = []
    while (offset := schedule.next_offset()) is not None:
        offsets.append(offset)
        assert schedule.take()[0] == 0xFF
    assert offsets == pytest.approx([told_at + 0.05 + i * 0.03 for i in range(12)])
    schedule.stop(99.0)  # over: nothing changes
    assert schedule.done


def test_delay_shifts_the_audio_that_follows() -> None:
    schedule = Schedule(PARAMS)
    while not schedule.wants_frame:
        schedule.take()
    schedule.take(b"a" * 240)
    schedule.delay(0.25)
    assert schedule.next_offset() == pytest.approx(transmit_offset(1, 30) + 0.25)
    schedule.take(b"b" * 240)
    assert schedule.next_offset() == pytest.approx(transmit_offset(2, 30) + 0.25)


def test_a_frame_is_required_exactly_when_due() -> None:
    schedule = Schedule(PARAMS)
    with pytest.raises(ValueError, match="no frame is due"):
        schedule.take(b"x")
    while not schedule.wants_frame:
        schedule.take()
    with pytest.raises(ValueError, match="non-empty frame"):
        schedule.take(b"")


def test_a_caller_id_is_cut_once_like_the_packets_do() -> None:
    schedule = Schedule(PageParams(1, 1, "é" * 10, protocol.CodecId.G711U, 20))
    assert schedule.alert == bytes(protocol.AlertPacket(1, 1, "é" * 10))


def test_the_params_first_count_is_the_pages_unless_one_is_given() -> None:
    params = PageParams(26, 1, "bell", protocol.CodecId.G722, 30, start_count=0xFFFFFF00)
    assert Schedule(params).start_count == 0xFFFFFF00
    assert Schedule(params, start_count=7).start_count == 7
    sent = take_all(Schedule(params), [b"\x01" * 240, b"\x02" * 240])
    transmits = [d for _o, d in sent if d[0] == protocol.OpCode.TRANSMIT]
    assert [int.from_bytes(d[22:26], "big") for d in transmits] == [0xFFFFFF00, 0xFFFFFFF0]
    starts = {Schedule(PARAMS).start_count for _ in range(4)}  # None: drawn per page
    assert len(starts) > 1
