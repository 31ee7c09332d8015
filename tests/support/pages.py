"""Test helper: a received page taken apart and checked against docs/protocol.md.

:func:`split_page` turns captured ``(time, datagram)`` pairs into alerts, transmits and
ends with their arrival times, asserting the structure every sender must respect (order
of the parts, one sender, exact redundancy, a constant sample-count step), so a test
states only what is specific to it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from polyptt import protocol

__all__ = ["ReceivedPage", "split_page"]


@dataclass
class ReceivedPage:
    """One page as it arrived.

    Attributes
    ----------
    alerts, transmits, ends : list of (float, packet)
        Arrival time and parsed packet of each part.
    frames : list of bytes
        The new frame of every transmit packet, in order.
    """

    alerts: list[tuple[float, protocol.AlertPacket]]
    transmits: list[tuple[float, protocol.TransmitPacket]]
    ends: list[tuple[float, protocol.EndPacket]]
    frames: list[bytes]

    @property
    def audio(self) -> bytes:
        """All new frames joined: the coded signal of the page."""
        return b"".join(self.frames)

    @property
    def counts(self) -> list[int]:
        """Sample count of each transmit packet."""
        return [packet.sample_count for _t, packet in self.transmits]


def split_page(datagrams: list[tuple[float, bytes]], *, step: int | None = None) -> ReceivedPage:
    """Parse and check a whole page: alerts, then transmits, then ends, nothing else.

    Checks that every packet shares channel, serial and caller id; that the first transmit
    carries one frame and each later one the previous new frame then its own; and that
    the sample count advances by `step` (or by its first step) modulo 2**32.
    """
    parsed = [(when, protocol.parse_packet(data)) for when, data in datagrams]
    kinds = "".join(
        {protocol.OpCode.ALERT: "A", protocol.OpCode.TRANSMIT: "T", protocol.OpCode.END: "E"}[
            packet.OP
        ]
        for _when, packet in parsed
    )
    alerts = kinds.count("A")
    transmits = kinds.count("T")
    assert kinds == "A" * alerts + "T" * transmits + "E" * (len(kinds) - alerts - transmits), (
        f"page out of order: {kinds}"
    )
    first = parsed[0][1]
    for _when, packet in parsed:
        assert (packet.channel, packet.serial, packet.caller_id) == (
            first.channel,
            first.serial,
            first.caller_id,
        )
    tx = [(when, packet) for when, packet in parsed if isinstance(packet, protocol.TransmitPacket)]
    frames: list[bytes] = []
    previous = b""
    for when, packet in tx:
        redundant, frame = packet.split(len(previous))
        assert redundant == previous, f"redundant half of packet at {when} is not the last frame"
        frames.append(frame)
        previous = frame
    counts = [packet.sample_count for _when, packet in tx]
    if len(counts) > 1:
        expected_step = step if step is not None else protocol.distance(counts[0], counts[1])
        for a, b in itertools.pairwise(counts):
            assert protocol.distance(a, b) == expected_step, f"sample count {a:#x} -> {b:#x}"
            assert b == protocol.advance(a, expected_step)
    return ReceivedPage(
        alerts=[(w, p) for w, p in parsed if isinstance(p, protocol.AlertPacket)],
        transmits=tx,
        ends=[(w, p) for w, p in parsed if isinstance(p, protocol.EndPacket)],
        frames=frames,
    )
