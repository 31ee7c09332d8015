"""The microphone for ``--vox``: one capture stream that both opens the gate and talks.

Voice-operated talk needs the microphone all the time, not only from a key press: its
level opens the gate (`polyptt.loop.state.VoxGate`). The same stream then carries the
page, so the audio is continuous from before the gate opened: each page starts with the
last `PREROLL_S` heard (the word that opened the gate), followed by everything captured
until the gate closes. One stream, so it also works on a device only one program may
open at a time.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable

from polyptt.audio.catchup import for_capture
from polyptt.audio.framer import Framer
from polyptt.audio.levels import level_db
from polyptt.audio.live import Capture, LiveFrames
from polyptt.receive.session import Pcm

__all__ = ["PREROLL_S", "VoxInput", "VoxTalk"]

#: Audio from before the gate opened that each page still gets.
PREROLL_S = 0.3


class VoxInput:
    """A running capture that measures levels and feeds the page in progress, if any.

    Parameters
    ----------
    open_stream : callable
        ``on_block -> Capture`` (`polyptt.audio.live.Capture`): the microphone, opened
        here, started by `start`.
    codec, frame_ms : str, int
        The pages' codec and frame length.
    gain_db : float
        Gain applied to the pages' audio.
    catch_up : bool
        Whether a page catches up after its alerts by shortening pauses
        (`polyptt.audio.catchup`).

    Raises
    ------
    DeviceError
        If the microphone cannot be opened.
    """

    def __init__(
        self,
        open_stream: Callable[[Callable[[Pcm], None]], Capture],
        codec: str,
        frame_ms: int,
        gain_db: float = 0.0,
        catch_up: bool = True,
    ) -> None:
        self.codec = codec
        self.catch_up = catch_up
        self.frame_ms = frame_ms
        self.gain_db = gain_db
        #: Level of the last block, in dBFS (None before the first).
        self.level: float | None = None
        self._peak: float | None = None
        self._lock = threading.Lock()
        self._preroll: collections.deque[Pcm] = collections.deque()
        self._preroll_samples = 0
        self._feeding: LiveFrames | None = None
        self._stream = open_stream(self._on_block)
        self.rate = self._stream.samplerate
        self._keep = PREROLL_S * self.rate

    def start(self) -> None:
        """Start capturing."""
        self._stream.start()

    def close(self) -> None:
        """Stop capturing and release the device."""
        self._stream.close()

    def take_peak(self) -> float | None:
        """The loudest block since the last call, in dBFS (None if no block came)."""
        peak, self._peak = self._peak, None
        return peak

    def talk(self) -> VoxTalk:
        """A source for one page (attached to the capture by its ``start``)."""
        framer = Framer(self.codec, self.frame_ms, input_rate=self.rate, gain_db=self.gain_db)
        catch_up = for_capture(self.rate) if self.catch_up else False
        return VoxTalk(self, LiveFrames(framer, catch_up=catch_up))

    def _attach(self, frames: LiveFrames) -> None:
        with self._lock:  # no block between the pre-roll and the live audio is lost
            for pcm in self._preroll:
                frames.feed(pcm)
            self._feeding = frames

    def _detach(self, frames: LiveFrames) -> None:
        with self._lock:
            if self._feeding is frames:
                self._feeding = None
        frames.close()

    def _on_block(self, pcm: Pcm) -> None:  # PortAudio's thread
        self.level = level = level_db(pcm)
        if self._peak is None or level > self._peak:
            self._peak = level
        with self._lock:
            if self._feeding is not None:
                self._feeding.feed(pcm)
            self._preroll.append(pcm.copy())
            self._preroll_samples += len(pcm)
            while self._preroll_samples - len(self._preroll[0]) >= self._keep:
                self._preroll_samples -= len(self._preroll.popleft())


class VoxTalk:
    """One VOX page's source, with the `Microphone` interface the application uses."""

    def __init__(self, vox: VoxInput, frames: LiveFrames) -> None:
        self.frames = frames
        self._vox = vox

    def start(self) -> None:
        """Take the pre-roll and then the live audio."""
        self._vox._attach(self.frames)

    def stop(self) -> None:
        """No more audio: what was taken is sent, then the page ends."""
        self._vox._detach(self.frames)

    def close(self) -> None:
        self.stop()
