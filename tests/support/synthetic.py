"""Synthetic pages as real packet bytes, for the listener's tests (a plain module: test
modules cannot import a conftest under --import-mode=importlib)."""

from __future__ import annotations

from dataclasses import dataclass

from polyptt.protocol import AlertPacket, CodecId, EndPacket, TransmitPacket


@dataclass(frozen=True)
class SyntheticPage:
    """A page as a sender would emit it: frames, and every datagram in send order."""

    frames: list[bytes]
    alerts: list[bytes]
    transmits: list[bytes]
    ends: list[bytes]
    start_count: int

    @property
    def datagrams(self) -> list[bytes]:
        return self.alerts + self.transmits + self.ends


def build_page(
    frames: list[bytes],
    *,
    codec: CodecId = CodecId.G722,
    step: int = 240,
    start_count: int = 0,
    channel: int = 26,
    serial: int = 0x12345678,
    caller_id: str = "Test",
    alerts: int = 3,
    ends: int = 3,
) -> SyntheticPage:
    """The datagrams of a page carrying `frames`, redundancy as real senders add it."""
    transmits = []
    previous = b""
    for index, frame in enumerate(frames):
        packet = TransmitPacket.from_frames(
            channel=channel,
            serial=serial,
            caller_id=caller_id,
            codec=codec,
            sample_count=(start_count + index * step) % (1 << 32),
            frame=frame,
            redundant=previous,
        )
        transmits.append(bytes(packet))
        previous = frame
    return SyntheticPage(
        frames=list(frames),
        alerts=[bytes(AlertPacket(channel, serial, caller_id))] * alerts,
        transmits=transmits,
        ends=[bytes(EndPacket(channel, serial, caller_id))] * ends,
        start_count=start_count,
    )
