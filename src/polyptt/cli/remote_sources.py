"""Live audio for talking through a relay: the microphone, or raw PCM from a pipe.

``send --relay --mic`` and ``send --relay --raw RATE`` stream PCM16LE mono to the
relay's WebSocket (`polyptt.cli.remote.talk_via_relay` paces it); the sources here only
capture or read it, in a thread of their own, into an asyncio queue. The relay frames,
resamples and encodes it, so nothing here touches a codec.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

import click

from polyptt.audio import sniff
from polyptt.relay.hub import CLIENT_RATE

__all__ = ["LiveSource", "Microphone", "RawPipe", "open_microphone", "open_raw"]


class LiveSource(Protocol):
    """Where a live page's audio comes from: PCM16LE mono at `rate`."""

    rate: int

    def start(self, loop: asyncio.AbstractEventLoop, chunks: asyncio.Queue[bytes | None]) -> None:
        """Start delivering chunks to `chunks` (None at the end of the audio)."""

    def stop(self) -> None:
        """Stop taking audio (what was delivered is still sent)."""

    def close(self) -> None: ...


class Microphone:
    """The microphone at the relay's 16 kHz (PortAudio or the sound server resamples,
    and the relay has nothing to)."""

    rate = CLIENT_RATE

    def __init__(self, input_device: str | None) -> None:
        from polyptt.audio.devices import DeviceError, find, load_sounddevice
        from polyptt.audio.live import parse_device

        sounddevice = load_sounddevice()
        device = parse_device(input_device)
        find(device, "input")
        self._deliver: Callable[[bytes], object] = lambda _chunk: None
        try:
            self._stream = sounddevice.InputStream(
                device=device,
                channels=1,
                dtype="int16",
                samplerate=CLIENT_RATE,
                blocksize=CLIENT_RATE // 50,
                callback=lambda indata, *_: self._deliver(bytes(indata)),
            )
        except (ValueError, sounddevice.PortAudioError) as exc:
            raise DeviceError(f"cannot capture at {CLIENT_RATE} Hz: {exc}") from None

    def start(self, loop: asyncio.AbstractEventLoop, chunks: asyncio.Queue[bytes | None]) -> None:
        def offer(chunk: bytes) -> None:
            with contextlib.suppress(asyncio.QueueFull):
                chunks.put_nowait(chunk)

        self._deliver = lambda chunk: loop.call_soon_threadsafe(offer, chunk)
        self._stream.start()

    def stop(self) -> None:
        self._stream.stop()

    def close(self) -> None:
        self._stream.close()


class RawPipe:
    """Raw PCM16LE mono at `rate` from a file or a pipe, read by a thread as it arrives.

    The thread waits while the queue is full, so a file read faster than real time is
    held back by the pacing instead of piling up in memory.
    """

    def __init__(
        self, stream: BinaryIO, rate: int, closers: list[Callable[[], None]], head: bytes = b""
    ) -> None:
        self.rate = rate
        self._read = sniff.reader_of(stream)
        self._head = head  # read before the page (`sniff.read_head`): its first audio
        self._closers = closers
        self._stopped = threading.Event()

    def start(self, loop: asyncio.AbstractEventLoop, chunks: asyncio.Queue[bytes | None]) -> None:
        def read() -> None:
            data = self._head
            try:
                while not self._stopped.is_set():
                    chunk = (data or self._read(1 << 14)) or None  # None: end of file
                    asyncio.run_coroutine_threadsafe(chunks.put(chunk), loop).result()
                    if chunk is None:
                        return
                    data = b""
            except (OSError, RuntimeError, concurrent.futures.CancelledError):
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(chunks.put_nowait, None)

        threading.Thread(target=read, name="polyptt-raw-relay", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()

    def close(self) -> None:
        for closer in self._closers:
            closer()


def open_raw(file: str, rate: int) -> RawPipe:
    """``send --raw RATE FILE`` as a live source for the relay, once its first audio is
    there (the page waits for it, as a local one does)."""
    if file == "-":
        stream: BinaryIO = click.get_binary_stream("stdin")
    else:
        try:
            stream = Path(file).open("rb")  # noqa: SIM115 - closed with the page
        except OSError as exc:
            raise click.BadParameter(f"{file}: {exc.strerror or exc}", param_hint="FILE") from None
    name, closers = ("standard input", []) if file == "-" else (file, [stream.close])
    try:
        head = sniff.read_head(sniff.reader_of(stream), name)
    except sniff.RawInputError as exc:
        for closer in closers:
            closer()
        raise click.BadParameter(str(exc), param_hint="FILE") from None
    return RawPipe(stream, rate, closers, head)


def open_microphone(input_device: str | None) -> Microphone:
    """``send --mic`` as a live source for the relay."""
    from polyptt.audio.devices import DeviceError
    from polyptt.cli.options import device_error

    try:
        return Microphone(input_device)
    except DeviceError as exc:
        raise device_error(exc, "--input-device", input_device) from None
