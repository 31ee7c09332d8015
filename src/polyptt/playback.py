"""Play pages on the speaker: the phones' one-at-a-time rules and a small jitter buffer.

`Player` is a page listener: the receiver hands it every page, `polyptt.arbiter` picks
the one that owns the speaker, and only that page's audio enters the jitter buffer that
the PortAudio callback (a thread of its own) drains.

Jitter buffer
-------------
Packets arrive unevenly; the output device asks for audio at a steady pace. The buffer
starts playing once it holds `prefill_s` of audio (40 ms by default: more than the usual
network jitter, little enough to keep arrival-to-speaker latency near 50 ms), fills an
underrun with silence and then waits to hold `prefill_s` again, and when it holds more
than `prefill_s` + `MAX_EXCESS_S` drops the oldest audio back to `prefill_s`, so latency
cannot creep up when a sender's clock runs fast or a stalled network delivers a burst.
The end of a page plays out without waiting for the prefill.

sounddevice is imported only when a player is opened: without PortAudio (the library is
not bundled on Linux) listening and recording still work, and `Player.open` says why
playback is off in one line (`PlaybackUnavailable`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import numpy as np

from polyptt.arbiter import Arbiter
from polyptt.session import Page, Pcm

__all__ = ["JitterQueue", "PlaybackUnavailable", "Player"]

#: Audio held beyond the prefill that makes the queue drop back to the prefill.
MAX_EXCESS_S = 0.06
#: What the output stream itself buffers. PortAudio's "low" (8 ms here, 4 ms callbacks)
#: underran now and then on a loaded 2-vCPU VM even with a callback that only wrote
#: zeros, and the audio callback also needs the interpreter; 20 ms did not, and costs
#: about half the CPU (callbacks every 5 ms instead of 4 ms of audio).
DEVICE_LATENCY_S = 0.02


class PlaybackUnavailable(Exception):
    """No way to play: PortAudio is missing or there is no output device."""


class JitterQueue:
    """Samples between the receiving thread and the audio callback (thread-safe).

    Parameters
    ----------
    rate : int
        Sample rate, to turn seconds into samples.
    prefill_s : float
        Audio held before playing starts (and restarts after an underrun).

    Attributes
    ----------
    latencies : deque of float
        For each chunk, seconds from its arrival to its first sample being handed to the
        output buffer (bounded to the last 10 000).
    device_delays : deque of float
        For the same chunks, how long the device said that buffer would wait before
        being played: ``latencies[i] + device_delays[i]`` is arrival to speaker.
    underruns : int
        Times the device asked for audio the buffer did not have while playing.
    dropped : int
        Samples dropped to bring latency back after a burst.
    """

    def __init__(self, rate: int, prefill_s: float = 0.04) -> None:
        self.rate = rate
        self.prefill = round(prefill_s * rate)
        self.limit = self.prefill + round(MAX_EXCESS_S * rate)
        self._chunks: deque[tuple[Pcm, float]] = deque()
        self._offset = 0  # samples of the head chunk already played
        self._held = 0
        self._primed = False
        self._draining = False
        self._lock = threading.Lock()
        self.latencies: deque[float] = deque(maxlen=10_000)
        self.device_delays: deque[float] = deque(maxlen=10_000)
        self.underruns = 0
        self.dropped = 0

    def put(self, pcm: Pcm, arrival: float) -> None:
        """Queue `pcm`, which arrived at `arrival` (``time.time()`` clock)."""
        with self._lock:
            self._draining = False
            self._chunks.append((pcm, arrival))
            self._held += len(pcm)
            if self._held > self.limit:  # a burst after a stall: back to the prefill
                self._skip(self._held - self.prefill)

    def _skip(self, count: int) -> None:
        """Drop the oldest `count` samples (the lock is held)."""
        self.dropped += count
        self._held -= count
        while count and self._chunks:
            pcm, _ = self._chunks[0]
            take = min(count, len(pcm) - self._offset)
            count -= take
            self._offset += take
            if self._offset == len(pcm):
                self._chunks.popleft()
                self._offset = 0

    def drain(self) -> None:
        """The page ended: play what is held even if it is less than the prefill."""
        with self._lock:
            self._draining = True

    def clear(self) -> None:
        """Drop everything (the page lost the speaker)."""
        with self._lock:
            self._chunks.clear()
            self._held = self._offset = 0
            self._primed = False

    @property
    def held(self) -> int:
        return self._held

    def fill(self, out: np.ndarray, ahead: float = 0.0) -> None:
        """Write ``len(out)`` samples into `out` (the audio callback's buffer).

        `ahead` is how long the device holds `out` before playing it (PortAudio's
        ``outputBufferDacTime - currentTime``), kept in `device_delays`.
        """
        now = time.time()
        written = 0
        with self._lock:
            if not self._primed and (self._held >= self.prefill or self._draining):
                self._primed = self._held > 0
                if self._held > self.prefill and not self._draining:
                    # start exactly at the prefill: audio that piled up while the stream
                    # opened would otherwise stay as latency for the whole page
                    self._skip(self._held - self.prefill)
            while self._primed and written < len(out) and self._chunks:
                pcm, arrival = self._chunks[0]
                if self._offset == 0:
                    self.latencies.append(now - arrival)
                    self.device_delays.append(ahead)
                take = min(len(pcm) - self._offset, len(out) - written)
                out[written : written + take] = pcm[self._offset : self._offset + take]
                written += take
                self._offset += take
                self._held -= take
                if self._offset == len(pcm):
                    self._chunks.popleft()
                    self._offset = 0
            if written < len(out):
                if self._primed and not self._draining:
                    self.underruns += 1
                self._primed = False
        out[written:] = 0


class Player:
    """A page listener that plays the page the arbiter chooses.

    Use `Player.open` rather than the constructor; `close` when done.

    Parameters
    ----------
    stream_factory : callable
        ``(rate, callback) -> started stream with close()``; PortAudio's by default.
    prefill_s : float
        Jitter buffer prefill (see the module docstring).
    """

    def __init__(self, stream_factory: Any, prefill_s: float = 0.04) -> None:
        self.arbiter = Arbiter()
        self.prefill_s = prefill_s
        self.queue: JitterQueue | None = None
        self._factory = stream_factory
        self._stream: Any = None

    @classmethod
    def open(cls, device: int | str | None = None, prefill_s: float = 0.04) -> Player:
        """A player on `device` (the default output by default).

        Raises
        ------
        PlaybackUnavailable
            Without PortAudio or without an output device; the message is one line.
        """
        try:
            import sounddevice
        except OSError as exc:  # "PortAudio library not found"
            raise PlaybackUnavailable(f"cannot play: {exc} (install libportaudio2)") from None
        try:
            sounddevice.query_devices(device, kind="output")
        except (ValueError, sounddevice.PortAudioError) as exc:
            raise PlaybackUnavailable(f"cannot play: no audio output device ({exc})") from None

        def factory(rate: int, callback: Any) -> Any:
            def portaudio_callback(out: np.ndarray, frames: int, times: Any, _status: Any) -> None:
                callback(out[:, 0], max(0.0, times.outputBufferDacTime - times.currentTime))

            stream = sounddevice.OutputStream(
                samplerate=rate,
                channels=1,
                dtype="int16",
                device=device,
                latency=DEVICE_LATENCY_S,
                callback=portaudio_callback,
            )
            stream.start()
            return stream

        return cls(factory, prefill_s)

    def page_started(self, page: Page) -> None:
        before = self.arbiter.playing
        preempts = self.arbiter.start(page.key, page.priority) and before is not None
        if preempts and self.queue is not None:
            self.queue.clear()  # the urgent page is heard at once

    def page_audio(self, page: Page, pcm: Pcm, now: float) -> None:
        if not self.arbiter.plays(page.key):
            return
        rate = page.codec.sample_rate
        if self.queue is None or self.queue.rate != rate:
            self._reopen(rate)
        assert self.queue is not None
        self.queue.put(pcm, now)

    def page_ended(self, page: Page) -> None:
        if self.arbiter.plays(page.key) and self.queue is not None:
            self.queue.drain()
        self.arbiter.end(page.key)

    def close(self, wait: bool = True) -> None:
        """Let the queued audio play out (unless `wait` is False), then stop the stream."""
        if self._stream is None:
            return
        if wait and self.queue is not None:
            self.queue.drain()
            deadline = time.monotonic() + 2.0
            while self.queue.held and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(float(getattr(self._stream, "latency", 0.0)) + 0.05)
        self._stream.close()
        self._stream = None

    def _reopen(self, rate: int) -> None:
        if self._stream is not None:
            self.close()
        self.queue = JitterQueue(rate, self.prefill_s)
        self._stream = self._factory(rate, self.queue.fill)
