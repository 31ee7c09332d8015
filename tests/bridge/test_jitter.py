"""The RTP jitter buffer on a clock the tests move (`polyptt.bridge.jitter`)."""

from __future__ import annotations

from collections.abc import Iterable

from polyptt.bridge.jitter import JitterBuffer, JitterStats, Lost
from polyptt.bridge.rtp import RtpPacket


def packet(seq: int) -> RtpPacket:
    return RtpPacket(0, seq & 0xFFFF, 160 * seq & 0xFFFFFFFF, 0x1234, bytes([seq & 0xFF]))


def released(items: Iterable[RtpPacket | Lost]) -> list[int | str]:
    """Sequence numbers released, ``"lost N"`` for gaps."""
    return [f"lost {i.count}" if isinstance(i, Lost) else i.sequence for i in items]


def feed(buffer: JitterBuffer, order: Iterable[int], start: float = 0.0) -> list[list[int | str]]:
    """Push `order` 20 ms apart; what each push released."""
    return [released(buffer.push(start + 0.02 * n, packet(s))) for n, s in enumerate(order)]


def test_packets_in_order_come_out_at_once() -> None:
    buffer = JitterBuffer()
    assert feed(buffer, range(5)) == [[0], [1], [2], [3], [4]]
    assert buffer.next_deadline is None
    assert buffer.stats == JitterStats(received=5, released=5)


def test_reordering_within_three_packets_is_put_back_in_order() -> None:
    buffer = JitterBuffer(depth=3)
    assert feed(buffer, [0, 2, 3, 1, 4, 8, 5, 6, 7]) == [
        [0], [], [], [1, 2, 3], [4], [], [5], [6], [7, 8],
    ]  # fmt: skip
    assert buffer.stats == JitterStats(received=9, released=9, reordered=4)  # 1, 5, 6, 7


def test_a_gap_is_given_up_when_four_packets_wait_behind_it() -> None:
    buffer = JitterBuffer(depth=3)
    assert feed(buffer, [0, 1, 3, 4, 5, 6, 7]) == [
        [0],
        [1],
        [],
        [],
        [],
        ["lost 1", 3, 4, 5, 6],
        [7],
    ]
    assert (buffer.stats.lost, buffer.stats.released) == (1, 7)


def test_a_gap_is_given_up_when_its_time_is_out() -> None:
    buffer = JitterBuffer(wait_s=0.08)
    feed(buffer, [0, 2], start=10.0)  # 2 waits from 10.02
    assert buffer.next_deadline == 10.02 + 0.08
    assert released(buffer.expire(10.0999)) == []
    assert released(buffer.expire(10.1)) == ["lost 1", 2]
    assert buffer.next_deadline is None


def test_a_packet_after_its_gap_was_given_up_is_late_never_played() -> None:
    buffer = JitterBuffer(depth=3)
    feed(buffer, [0, 1, 3, 4, 5, 6])
    assert released(buffer.push(1.0, packet(2))) == []
    assert (buffer.stats.late, buffer.stats.duplicates) == (1, 0)


def test_duplicates_of_released_and_of_held_packets_are_dropped() -> None:
    buffer = JitterBuffer()
    assert feed(buffer, [0, 1, 1, 3, 3, 2, 0]) == [[0], [1], [], [], [], [2, 3], []]
    assert buffer.stats == JitterStats(received=7, released=4, duplicates=3, reordered=1)


def test_sequence_numbers_wrap() -> None:
    buffer = JitterBuffer()
    order = [65533, 65534, 0, 65535, 1, 2]
    assert feed(buffer, order) == [[65533], [65534], [], [65535, 0], [1], [2]]
    assert buffer.stats == JitterStats(received=6, released=6, reordered=1)


def test_a_loss_across_the_wrap_is_one_lost_packet() -> None:
    buffer = JitterBuffer(depth=1)
    assert feed(buffer, [65534, 0, 1]) == [[65534], [], ["lost 1", 0, 1]]


def test_a_jump_restarts_the_numbering_without_counting_losses() -> None:
    buffer = JitterBuffer()
    assert feed(buffer, [10, 11, 13, 5000, 5001]) == [[10], [11], [], ["lost 1", 13, 5000], [5001]]
    assert (buffer.stats.restarts, buffer.stats.lost) == (1, 1)


def test_flush_releases_what_is_held_with_its_gaps() -> None:
    buffer = JitterBuffer()
    feed(buffer, [0, 2, 5])
    assert released(buffer.flush()) == ["lost 1", 2, "lost 2", 5]
    assert released(buffer.flush()) == []
