"""Where a page's frames come from, as the pacers see it.

A pacer asks for the next frame when its transmit packet is due and must never block on
it (the asyncio pacer shares its thread with a web server), so a source answers at once:
a frame, "not yet" (a live source that has not captured it), or "no more". A file is
all there before the page starts; a microphone, a pipe or a browser delivers as it
goes, and what it captured while the alerts went out waits in its buffer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

__all__ = ["END_OF_AUDIO", "FrameSource", "IterableFrames", "as_source"]

#: What `FrameSource.next_frame` returns when the audio is over.
END_OF_AUDIO = b""


@runtime_checkable
class FrameSource(Protocol):
    """Encoded frames for a page, asked for one at a time when each is due."""

    def next_frame(self) -> bytes | None:
        """The next frame; None if it is not ready yet; `END_OF_AUDIO` (``b""``) if the
        audio is over. Never blocks."""


class IterableFrames:
    """Frames from any iterable (a list from a file, a generator): always ready.

    A generator that blocks makes the pacer wait with it; use a live source for audio
    that arrives in real time.
    """

    def __init__(self, frames: Iterable[bytes]) -> None:
        self._frames: Iterator[bytes] = iter(frames)

    def next_frame(self) -> bytes:
        frame = next(self._frames, END_OF_AUDIO)
        if frame is not END_OF_AUDIO and not frame:
            raise ValueError("an empty frame in a page's audio")
        return frame


def as_source(frames: FrameSource | Iterable[bytes]) -> FrameSource:
    """`frames` as a `FrameSource`: a source is taken as it is, an iterable wrapped."""
    if isinstance(frames, FrameSource):
        return frames
    return IterableFrames(frames)
