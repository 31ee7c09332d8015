"""``send --relay``: page through a relay, from a file or live.

A :class:`RelaySendJob` says what to page (a file, the microphone or raw PCM from a
pipe), how (channel, codec, repeats, gain, duration) and through which relay;
:func:`run` pages it, tells a `polyptt.console.Console` how it went and returns a
:class:`RelaySent`, whose ``summary`` (the relay's own account) is what ``send --relay
--json`` prints::

    from polyptt.remote.send import RelaySendJob, run

    sent = run(RelaySendJob("https://relay.example", token, file="chime.wav"))

A file is uploaded (the relay decodes, encodes and paces it; `send_file`) and the
answer comes after the page's end packets. Live audio (`polyptt.remote.sources`) is
streamed over the WebSocket (`send_live`), started when the relay says the page started
(so nothing said during the alerts is lost) and sent no faster than real time, until
its end, a duration, or SIGINT/SIGTERM (the first stops taking audio; what was taken is
still sent). Input that cannot work (a file, a device, a raw stream that is no raw
audio) is refused before the relay is asked for anything: `polyptt.errors.BadInput`;
the relay's refusals and an unreachable relay are
`polyptt.remote.failures.RelayClientError`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from polyptt import codecs
from polyptt.console import Console
from polyptt.errors import BadInput, device_refusal
from polyptt.relay.wire import FRAME_BYTES
from polyptt.remote.client import post_page, talk
from polyptt.remote.sources import LiveSource

__all__ = [
    "AHEAD_S",
    "MESSAGE_BYTES",
    "RelaySendJob",
    "RelaySent",
    "Talked",
    "run",
    "send_file",
    "send_live",
]

#: Live audio goes to the relay in messages of at most this many bytes (one frame of
#: the wire), and at most this far ahead of real time (the relay drops what runs more
#: than its slack, 0.5 s by default, ahead).
MESSAGE_BYTES = FRAME_BYTES
AHEAD_S = 0.2


@dataclass(frozen=True)
class RelaySendJob:
    """One page through the relay at `url` with `token` (``send --relay``'s options).

    The audio is `file` (any format the relay reads; ``"-"`` is standard input), the
    microphone (`mic`, `input_device`, `keep_pauses`) or raw PCM16LE mono at `raw_rate`
    read from `file` as it arrives (every sample sent: its pauses are kept), or the text
    `say`, which the relay speaks with its own engine (``[tts]`` in its configuration;
    `voice` an espeak-ng voice name, `rate_wpm` words per minute).
    """

    url: str
    token: str
    file: str | None = None
    mic: bool = False
    raw_rate: int | None = None
    input_device: str | None = None
    keep_pauses: bool = False
    say: str | None = None
    chime: bool = False
    voice: str | None = None
    rate_wpm: int | None = None
    channel: int = 26
    codec: str = codecs.DEFAULT
    repeat: int = 1
    gap: float = 1.0
    gain: float = 0.0
    duration: float | None = None
    sites: str | None = None  # north,south or all (`polyptt.relay.sites`); None: local


@dataclass(frozen=True)
class RelaySent:
    """How a page through the relay went: the exit status (0, or 128 + the signal that
    stopped a live page) and the relay's account (its answer to an upload, or the
    ``stopped`` event of a live page)."""

    status: int
    summary: dict[str, Any]


def run(
    job: RelaySendJob, console: Console | None = None, stdin: BinaryIO | None = None
) -> RelaySent:
    """Page `job` through the relay, blocking until its end packets are out.

    `stdin` is what ``"-"`` reads (standard input by default).

    Raises
    ------
    BadInput
        For audio or a device that cannot be used; the relay was not asked.
    polyptt.remote.failures.RelayClientError
        The relay refused or could not be reached.
    """
    console = console if console is not None else Console()
    stdin = stdin if stdin is not None else sys.stdin.buffer
    if job.mic or job.raw_rate is not None:
        return _run_live(job, console, stdin)
    body, speech = None, None
    if job.say is not None:
        from polyptt.audio.speech import clean_text

        clean_text(job.say)  # an empty text is refused here, before the relay is asked
        speech = {"say": job.say, "chime": job.chime, "voice": job.voice, "rate": job.rate_wpm}
    elif job.file is None:
        raise BadInput("no audio: give a file, mic, raw_rate or say")
    else:
        body = _read_file(job.file, stdin)
    answer = send_file(
        job.url,
        job.token,
        body,
        channel=job.channel,
        codec=job.codec,
        repeat=job.repeat,
        gap=job.gap,
        gain=job.gain,
        duration=job.duration,
        sites=job.sites,
        speech=speech,
    )
    _clipped(answer, console)
    console.info(
        f"sent {answer.get('transmits')} frames on channel {job.channel} through {job.url} "
        f"(page {answer.get('page')}, {answer.get('outcome')})"
    )
    return RelaySent(0, answer)


def _read_file(file: str, stdin: BinaryIO) -> bytes:
    try:
        return stdin.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise BadInput(f"{file}: {exc.strerror or exc}", "FILE") from None


def _run_live(job: RelaySendJob, console: Console, stdin: BinaryIO) -> RelaySent:
    """Stream the microphone or the raw pipe as the page; closes it."""
    source = open_source(job, stdin)
    try:
        talked = send_live(
            job.url,
            job.token,
            source,
            channel=job.channel,
            codec=job.codec,
            duration=job.duration,
            gain=job.gain,
            keep_pauses=job.keep_pauses or not job.mic,  # raw: every sample
            sites=job.sites,
        )
    finally:
        source.close()
    _clipped(talked.stopped, console)
    frames = talked.stopped.get("frames")
    console.info(f"sent {frames} frames on channel {job.channel} through {job.url}")
    return RelaySent(0 if talked.signal is None else 128 + talked.signal, talked.stopped)


def _clipped(summary: dict[str, Any], console: Console) -> None:
    if summary.get("clipped_samples"):
        console.warn(f"{summary['clipped_samples']} samples clipped at full scale; lower --gain")


def open_source(job: RelaySendJob, stdin: BinaryIO) -> LiveSource:
    """The microphone, or the raw pipe once its first audio is there (the page waits
    for it, as a local one does).

    Raises
    ------
    BadInput
        A microphone that cannot be used (`polyptt.errors.device_refusal`), or a raw
        file that cannot be opened, that ends before any audio or starts like an audio
        file.
    """
    from polyptt.audio.devices import DeviceError
    from polyptt.audio.sniff import RawInputError
    from polyptt.remote.sources import Microphone, open_raw

    if job.mic:
        try:
            return Microphone(job.input_device)
        except DeviceError as exc:
            raise device_refusal(str(exc), "--input-device", job.input_device) from None
    if job.file is None or job.raw_rate is None:
        raise BadInput("raw audio needs a file (- for standard input)", "FILE")
    try:
        return open_raw(job.file, job.raw_rate, stdin)
    except OSError as exc:
        raise BadInput(f"{job.file}: {exc.strerror or exc}", "FILE") from None
    except RawInputError as exc:
        raise BadInput(str(exc), "FILE") from None


def send_file(
    url: str,
    token: str,
    body: bytes | None,
    *,
    channel: int,
    codec: str,
    repeat: int,
    gap: float,
    gain: float,
    duration: float | None,
    sites: str | None = None,
    speech: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Page `body` (an audio file) through the relay; its answer after the end packets.

    `repeat`, `gap`, `gain` and `duration` mean what ``send``'s options do; `speech`
    instead of a `body` is a text the relay speaks (`polyptt.remote.client.post_page`).

    Raises
    ------
    polyptt.remote.client.RelayClientError
    """
    return asyncio.run(
        post_page(
            url,
            token,
            body,
            channel=channel,
            codec=codec,
            repeat=repeat,
            gap=gap,
            gain=gain,
            duration=duration,
            sites=sites,
            speech=speech,
        )
    )


@dataclass(frozen=True)
class Talked:
    """How `send_live` ended: the relay's ``stopped`` event, and the signal that stopped
    the source (None: it ended or the duration passed)."""

    stopped: dict[str, Any]
    signal: int | None


def send_live(
    url: str,
    token: str,
    source: LiveSource,
    *,
    channel: int,
    codec: str,
    duration: float | None,
    gain: float,
    keep_pauses: bool,
    sites: str | None = None,
) -> Talked:
    """Page live from `source` through the relay (see the module docstring).

    The relay resamples the audio and applies `gain`; unless `keep_pauses` it catches
    up after the alerts by shortening pauses. `source` is the caller's to close.

    Raises
    ------
    polyptt.remote.client.RelayClientError
    """
    from polyptt.signals import Stopping

    limit = None if duration is None else round(duration * source.rate) * 2
    signals: list[Stopping] = []

    async def main() -> dict[str, Any]:
        stopping = Stopping()
        signals.append(stopping)
        return await talk(
            url,
            token,
            lambda: _paced(source, stopping.event, limit),
            channel=channel,
            codec=codec,
            rate=source.rate,
            gain=gain,
            keep_pauses=keep_pauses,
            sites=sites,
        )

    stopped = asyncio.run(main())
    return Talked(stopped, signals[0].first)


async def _next_chunk(chunks: asyncio.Queue[bytes | None], stopping: asyncio.Event) -> bytes | None:
    """The source's next chunk, or None at its end or once `stopping` is set."""
    getting = asyncio.ensure_future(chunks.get())
    waiting = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({getting, waiting}, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if getting.done():
        return getting.result()
    getting.cancel()
    return None


async def _paced(
    source: LiveSource, stopping: asyncio.Event, limit: int | None
) -> AsyncIterator[bytes]:
    """`source`'s audio in messages of `MESSAGE_BYTES`, no more than `AHEAD_S` ahead of
    real time, `limit` bytes at most; started now, stopped when this ends."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue(64)
    rate = source.rate
    pending = bytearray()
    sent = 0
    started = loop.time()
    source.start(loop, chunks)
    try:
        while limit is None or sent < limit:
            chunk = await _next_chunk(chunks, stopping)
            if chunk is None:
                pending = pending[: len(pending) - len(pending) % 2]
            else:
                pending += chunk
            while pending and (chunk is None or len(pending) >= MESSAGE_BYTES):
                piece = bytes(pending[:MESSAGE_BYTES])
                if limit is not None:
                    piece = piece[: limit - sent]
                del pending[:MESSAGE_BYTES]
                due = started + sent / 2 / rate - AHEAD_S
                await asyncio.sleep(max(0.0, due - loop.time()))
                sent += len(piece)
                yield piece
                if limit is not None and sent >= limit:
                    return
            if chunk is None:
                return
    finally:
        source.stop()
