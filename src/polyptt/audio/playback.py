"""Play pages on the speaker: the phones' one-at-a-time rules and a small jitter buffer.

`Player` is a page listener: the receiver hands it every page, `polyptt.receive.arbiter` picks
the one that owns the speaker, and only that page's audio enters the jitter buffer that
the PortAudio callback (a thread of its own) drains.

Jitter buffer
-------------
Packets arrive unevenly; the output device asks for audio at a steady pace. The buffer
starts playing once it holds `prefill_s` of audio (40 ms by default: more than the usual
network jitter, little enough to keep arrival-to-speaker latency near 50 ms), fills an
underrun with silence and then waits to hold `prefill_s` again. The end of a page plays
out without waiting for the prefill.

It never drops a page's audio to keep latency down. Some senders are faster than real
time (the original PolyPtt sender sends 30 ms of audio every 20 ms): their audio piles
up and plays on after their packets have stopped, for as long as it lasts, and the page
keeps the speaker until then (see `polyptt.receive.arbiter`). A stalled network that delivers a
burst, or audio that arrived while the output stream was opening, is likewise played
late rather than lost; the latency it adds lasts until the queue runs dry. Memory stays
bounded: the queue holds at most `MAX_QUEUED_S` (ten minutes: a page at 1.5 times real
time would have to last half an hour to fill it), and it cannot fill faster than real
time, since the frame buffer lets no page's audio arrive more than twice as fast as it
plays (see `polyptt.receive.jitter`).

sounddevice is imported only when a player is opened: without PortAudio (the library is
not bundled on Linux) listening and recording still work, and `Player.open` says why
playback is off in one line (`PlaybackUnavailable`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from polyptt.receive.arbiter import Arbiter
from polyptt.receive.session import Page, Pcm
from polyptt.signals import SignalFlag

__all__ = ["JitterQueue", "PlaybackUnavailable", "Player"]

#: Audio the queue holds at most (19 MB at 16 kHz); audio beyond it is dropped, counted.
MAX_QUEUED_S = 600.0
#: How long a page at another sample rate waits for the audio still queued at the old one
#: before the output stream is reopened (cutting the rest): the wait blocks the receiving
#: thread.
REOPEN_WAIT_S = 0.5
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
    max_queued_s : float
        Audio held at most; what would exceed it is dropped.

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
        Samples refused because the queue held `max_queued_s` already.
    queued, gone : int
        Samples ever queued, and of them those played or cleared: positions in the
        stream, so that the player can tell when a given page's audio has all played.
    """

    def __init__(
        self, rate: int, prefill_s: float = 0.04, max_queued_s: float = MAX_QUEUED_S
    ) -> None:
        self.rate = rate
        self.prefill = round(prefill_s * rate)
        self.limit = round(max_queued_s * rate)
        self._chunks: deque[tuple[Pcm, float]] = deque()
        self._offset = 0  # samples of the head chunk already played
        self._primed = False
        self._draining = False
        self._lock = threading.Lock()
        self.latencies: deque[float] = deque(maxlen=10_000)
        self.device_delays: deque[float] = deque(maxlen=10_000)
        self.underruns = 0
        self.dropped = 0
        self.queued = 0
        self.gone = 0

    def put(self, pcm: Pcm, arrival: float) -> None:
        """Queue `pcm`, which arrived at `arrival` (``time.time()`` clock)."""
        with self._lock:
            self._draining = False
            room = self.limit - (self.queued - self.gone)
            if len(pcm) > room:
                self.dropped += len(pcm) - room
                pcm = pcm[:room]
            if len(pcm):
                self._chunks.append((pcm, arrival))
                self.queued += len(pcm)

    def drain(self) -> None:
        """The page ended: play what is held even if it is less than the prefill."""
        with self._lock:
            self._draining = True

    def clear(self, keep: int = 0) -> None:
        """Drop what is held but its first `keep` samples (a page lost the speaker)."""
        with self._lock:
            kept: deque[tuple[Pcm, float]] = deque()
            if keep > 0 and self._chunks:
                pcm, arrival = self._chunks.popleft()
                chunks = [(pcm[self._offset :], arrival), *self._chunks]
                self._offset = 0
                for pcm, arrival in chunks:
                    if keep <= 0:
                        break
                    kept.append((pcm[:keep], arrival))
                    keep -= len(pcm)
            self._chunks = kept
            self._offset = 0
            self.gone = self.queued - sum(len(pcm) for pcm, _ in kept)
            if not kept:
                self._primed = False

    @property
    def held(self) -> int:
        """Samples queued and not yet played."""
        return self.queued - self.gone

    def fill(self, out: np.ndarray, ahead: float = 0.0) -> None:
        """Write ``len(out)`` samples into `out` (the audio callback's buffer).

        `ahead` is how long the device holds `out` before playing it (PortAudio's
        ``outputBufferDacTime - currentTime``), kept in `device_delays`.
        """
        now = time.time()
        written = 0
        with self._lock:
            held = self.queued - self.gone
            if not self._primed and (held >= self.prefill or self._draining):
                self._primed = held > 0
            while self._primed and written < len(out) and self._chunks:
                pcm, arrival = self._chunks[0]
                if self._offset == 0:
                    self.latencies.append(now - arrival)
                    self.device_delays.append(ahead)
                take = min(len(pcm) - self._offset, len(out) - written)
                out[written : written + take] = pcm[self._offset : self._offset + take]
                written += take
                self._offset += take
                if self._offset == len(pcm):
                    self._chunks.popleft()
                    self._offset = 0
            self.gone += written
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
        self._ended_at = 0  # queue position where the last page to end has played out

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
        from polyptt.audio.devices import DeviceError, find

        try:
            find(device, "output")
        except DeviceError as exc:
            raise PlaybackUnavailable(f"cannot play: {exc}") from None

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
        arbiter, queue = self.arbiter, self.queue
        if arbiter.sounding is not None and (queue is None or queue.gone >= self._ended_at):
            arbiter.played_out()
        preempted, sounding = arbiter.playing, arbiter.sounding
        if not arbiter.start(page.key, page.priority) or queue is None:
            return
        # the urgent page is heard at once: what it interrupts goes, except the audio of
        # an ended page that is not less urgent than it, which plays first
        if sounding is not None and arbiter.sounding is None:
            queue.clear()
        elif preempted is not None:
            queue.clear(keep=self._ended_at - queue.gone if arbiter.sounding else 0)

    def page_audio(self, page: Page, pcm: Pcm, now: float) -> None:
        if not self.arbiter.plays(page.key):
            return
        rate = page.codec.sample_rate
        if self.queue is None or self.queue.rate != rate:
            self._reopen(rate)
        assert self.queue is not None
        self.queue.put(pcm, now)

    def page_ended(self, page: Page) -> None:
        queue = self.queue
        audible = False
        if self.arbiter.plays(page.key) and queue is not None:
            queue.drain()
            self._ended_at = queue.queued
            audible = queue.held > 0
        self.arbiter.end(page.key, audible=audible)

    def close(self, wait: bool = True) -> int | None:
        """Let the queued audio play out (unless `wait` is False), then stop the stream.

        The wait lasts as long as the audio queued (a page faster than real time may
        leave much of it), and SIGINT or SIGTERM during it stops the sound at once.

        Returns
        -------
        int or None
            The signal that cut the wait short, if one did.
        """
        if self._stream is None:
            return None
        with SignalFlag() as signals:
            if wait and self.queue is not None:
                # the audio's own length, with room for underruns on a loaded machine
                seconds = self.queue.held / self.queue.rate + 1.0
                self._play_out(seconds, lambda: signals.received is not None)
        self._close_stream()
        return signals.received

    def release_idle(self) -> bool:
        """Close the output stream if no page plays and nothing is left to play.

        The next page's audio opens it again. An open stream costs its callbacks (every
        5 ms, a few percent of a core) even in silence, which a program that waits for
        pages most of the time (``polyptt loop``) should not pay between them.

        Returns
        -------
        bool
            Whether the stream was closed.
        """
        queue = self.queue
        if self._stream is None or self.arbiter.playing is not None:
            return False
        if queue is not None and queue.held:
            return False
        self._close_stream()
        self.queue = None
        self.arbiter.played_out()
        return True

    def _play_out(self, seconds: float, stop: Callable[[], bool] = lambda: False) -> None:
        """Wait up to `seconds` for the queued audio to reach the speaker."""
        assert self.queue is not None
        self.queue.drain()
        deadline = time.monotonic() + seconds
        while self.queue.held and time.monotonic() < deadline and not stop():
            time.sleep(0.01)
        if not stop():
            time.sleep(float(getattr(self._stream, "latency", 0.0)) + 0.05)

    def _close_stream(self) -> None:
        self._stream.close()
        self._stream = None

    def _reopen(self, rate: int) -> None:
        if self._stream is not None:
            # the audio left at the old rate plays first, unless it would hold up the
            # receiving thread too long (no signal handling here: the receive loop's own)
            self._play_out(REOPEN_WAIT_S)
            self._close_stream()
        self.queue = JitterQueue(rate, self.prefill_s)
        self._stream = self._factory(rate, self.queue.fill)
        self._ended_at = 0
        self.arbiter.played_out()  # whatever was left of it went with the old stream
