"""A `polyptt.audio.playback.Player` with no device: fake streams and pages, for the
tests of how it arbitrates the speaker and when it lets the stream go."""

from __future__ import annotations

from typing import Any

import numpy as np

from polyptt.audio.playback import Player
from polyptt.protocol import Priority
from polyptt.receive.session import PageKey

__all__ = ["FakePage", "FakeStream", "play", "player_with_fake_streams"]


class FakeStream:
    """Stands in for the PortAudio stream in arbitration tests (no device needed)."""

    def __init__(self, rate: int, callback: Any) -> None:
        self.rate, self.callback, self.closed = rate, callback, False
        self.latency = 0.0

    def close(self) -> None:
        self.closed = True


class FakePage:
    """A page as the player sees one: its key, channel, priority and sample rate."""

    def __init__(self, channel: int, rate: int = 16000) -> None:
        self.key = PageKey(("10.0.0.1", 5001), channel, channel)
        self.channel = channel
        self.codec = type("Info", (), {"sample_rate": rate})()

    @property
    def priority(self) -> Priority:
        from polyptt.protocol import channel_priority

        return channel_priority(self.channel)


def player_with_fake_streams() -> tuple[Player, list[FakeStream]]:
    """A player whose output streams are fakes, and the list each is added to."""
    streams: list[FakeStream] = []
    return Player(lambda rate, cb: streams.append(FakeStream(rate, cb)) or streams[-1]), streams


def play(player: Player, samples: int) -> np.ndarray:
    """The next `samples` the speaker would play (the prefill waived)."""
    assert player.queue is not None
    player.queue.drain()
    out = np.zeros(samples, dtype=np.int16)
    player.queue.fill(out)
    return out
