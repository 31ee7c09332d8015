"""Live audio for talking through a relay: the microphone, or raw PCM from a pipe.

``send --relay --mic`` and ``send --relay --raw RATE`` stream PCM16LE mono to the
relay's WebSocket (`polyptt.remote.send` paces it). The sources here hand that audio to
an asyncio queue; capturing and reading are `polyptt.audio.live`'s, the same as a local
page's (:class:`~polyptt.audio.live.Capture`, :class:`~polyptt.audio.live.PcmReader`).
The relay frames, resamples and encodes the audio, so nothing here touches a codec.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import numpy.typing as npt

from polyptt.relay.wire import FRAME_MS, RATE

__all__ = ["LiveSource", "Microphone", "RawPipe", "open_raw"]


class LiveSource(Protocol):
    """Where a live page's audio comes from: PCM16LE mono at `rate`."""

    rate: int

    def start(self, loop: asyncio.AbstractEventLoop, chunks: asyncio.Queue[bytes | None]) -> None:
        """Start delivering chunks to `chunks` (None at the end of the audio)."""

    def stop(self) -> None:
        """Stop taking audio (what was delivered is still sent)."""

    def close(self) -> None: ...


class Microphone:
    """The microphone (`polyptt.audio.live.Capture`) in blocks of one wire frame, at the
    relay's rate if the device takes it (PortAudio or the sound server resamples), else
    at the device's own, which the relay resamples.

    Raises
    ------
    polyptt.audio.devices.DeviceError
        No PortAudio, no such device, or it cannot be opened.
    """

    def __init__(self, input_device: str | None) -> None:
        from polyptt.audio.live import Capture, parse_device

        self._deliver: Callable[[bytes], object] = lambda _chunk: None

        def on_block(block: np.ndarray) -> None:  # in PortAudio's thread: a copy, handed on
            self._deliver(block.tobytes())

        self._capture = Capture(
            RATE, on_block, device=parse_device(input_device), block_s=FRAME_MS / 1000
        )
        self.rate = self._capture.samplerate

    def start(self, loop: asyncio.AbstractEventLoop, chunks: asyncio.Queue[bytes | None]) -> None:
        def offer(chunk: bytes) -> None:
            with contextlib.suppress(asyncio.QueueFull):
                chunks.put_nowait(chunk)

        self._deliver = lambda chunk: loop.call_soon_threadsafe(offer, chunk)
        self._capture.start()

    def stop(self) -> None:
        self._capture.stop()

    def close(self) -> None:
        self._capture.close()


class RawPipe:
    """Raw PCM16LE mono at `rate` from a file or a pipe, read as it arrives by a
    `polyptt.audio.live.PcmReader`.

    The reader waits while the queue is full, so a file read faster than real time is
    held back by the pacing instead of piling up in memory. Audio read before `start`
    (the first bytes, `wait_for_audio`) is queued first.
    """

    def __init__(self, stream: BinaryIO, rate: int, closers: list[Callable[[], None]]) -> None:
        from polyptt.audio.live import PcmReader

        self.rate = rate
        self._closers = closers
        self._early: list[bytes | None] = []
        self._put: Callable[[bytes | None], None] = self._early.append
        self._stopped = threading.Event()
        self._reader = PcmReader(
            stream, self._on_pcm, lambda: self._put(None), name="polyptt-raw-relay"
        )

    def _on_pcm(self, pcm: npt.NDArray[np.int16]) -> None:
        self._put(pcm.astype("<i2").tobytes())

    def wait_for_audio(self, name: str) -> None:
        """Wait for the stream's first bytes and check them (`PcmReader.wait_for_audio`).

        Raises
        ------
        polyptt.audio.sniff.RawInputError
            The stream ended before its first sample, or starts like an audio file.
        """
        self._reader.wait_for_audio(name)

    def start(self, loop: asyncio.AbstractEventLoop, chunks: asyncio.Queue[bytes | None]) -> None:
        for chunk in self._early:
            chunks.put_nowait(chunk)
        self._early.clear()

        def put(chunk: bytes | None) -> None:  # in the reader's thread
            try:
                future = asyncio.run_coroutine_threadsafe(chunks.put(chunk), loop)
            except RuntimeError:  # the loop is closed: nobody takes audio any more
                return
            while not self._stopped.is_set():  # a full queue: wait, unless told to stop
                try:
                    future.result(timeout=0.1)
                    return
                except concurrent.futures.TimeoutError:
                    continue
                except concurrent.futures.CancelledError:  # the loop is going away
                    return
            future.cancel()

        self._put = put
        self._reader.start()

    def stop(self) -> None:
        self._stopped.set()
        self._reader.stop()

    def close(self) -> None:
        for closer in self._closers:
            closer()


def open_raw(file: str, rate: int, stdin: BinaryIO) -> RawPipe:
    """``send --raw RATE FILE`` as a live source (FILE, or `stdin` for ``-``), once its
    first audio is there: the page waits for it, as a local one does.

    Raises
    ------
    OSError
        FILE cannot be opened.
    polyptt.audio.sniff.RawInputError
        The stream ended before its first sample, or starts like an audio file.
    """
    closers: list[Callable[[], None]] = []
    if file == "-":
        stream, name = stdin, "standard input"
    else:
        stream = Path(file).open("rb")  # noqa: SIM115 - closed with the page
        name = file
        closers.append(stream.close)
    pipe = RawPipe(stream, rate, closers)
    try:
        pipe.wait_for_audio(name)
    except BaseException:  # not audio, or a read that failed: the page is not begun
        pipe.close()
        raise
    return pipe
