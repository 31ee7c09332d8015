"""``send --relay`` and ``listen --relay``: the commands as clients of a remote relay.

The relay pages and listens on its LAN; these functions only upload a file, or follow
the relay's WebSocket and report and record what it says, with the local commands'
exit statuses: 0 done, 1 the relay could not be reached or failed, 2 refused (bad
token, scope, channel, audio), 130/143 interrupted.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import wave
from pathlib import Path
from typing import Any

import click

from polyptt.cli import options
from polyptt.cli.console import Console

__all__ = ["listen_via_relay", "send_via_relay", "talk_via_relay"]

CLIENT_RATE = 16000


def _need_token(token: str | None) -> str:
    if not token:
        raise click.UsageError("--relay needs --token (or POLYPTT_TOKEN)")
    return token


def _fail(exc: Any) -> int:
    """Exit status of a `RelayClientError`: 2 if the relay refused the request, else 1."""
    if 400 <= exc.status < 500:
        raise click.UsageError(str(exc))
    raise options.NetworkFailure(str(exc))


def send_via_relay(
    url: str,
    token: str | None,
    file: str,
    *,
    channel: int,
    codec: str,
    repeat: int,
    as_json: bool,
    console: Console,
) -> int:
    """Upload `file` to the relay and wait for the page's end."""
    from polyptt.relay.client import RelayClientError, post_page

    token = _need_token(token)
    try:
        body = click.get_binary_stream("stdin").read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise click.BadParameter(f"{file}: {exc.strerror or exc}", param_hint="FILE") from None
    try:
        answer = asyncio.run(
            post_page(url, token, body, channel=channel, codec=codec, repeat=repeat)
        )
    except RelayClientError as exc:
        return _fail(exc)
    console.info(
        f"sent {answer.get('transmits')} frames on channel {channel} through {url} "
        f"(page {answer.get('page')}, {answer.get('outcome')})"
    )
    if as_json:
        click.echo(json.dumps(answer, indent=2))
    return 0


def talk_via_relay(
    url: str,
    token: str | None,
    *,
    channel: int,
    codec: str,
    duration: float | None,
    input_device: str | None,
    as_json: bool,
    console: Console,
) -> int:
    """Page live from the microphone through the relay until Ctrl-C, SIGTERM or `duration`.

    The microphone is captured at 16 kHz (the relay's client rate; PortAudio or the
    sound server resamples) from the moment the relay says the page started, so nothing
    said while the alerts go out is lost.
    """
    from polyptt.audio.live import DeviceError, parse_device
    from polyptt.relay.client import RelayClientError, talk

    token = _need_token(token)
    try:
        import sounddevice
    except OSError as exc:
        raise click.BadParameter(f"no PortAudio: {exc}", param_hint="'--mic'") from None
    device = parse_device(input_device)
    received: list[int] = []

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue()

        def on_signal(signum: int) -> None:
            received.append(signum)
            loop.call_soon(chunks.put_nowait, None)

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal, signum)

        def captured(indata: Any, _frames: int, _time: Any, _status: Any) -> None:
            loop.call_soon_threadsafe(chunks.put_nowait, bytes(indata))

        try:
            stream = sounddevice.InputStream(
                device=device,
                channels=1,
                dtype="int16",
                samplerate=CLIENT_RATE,
                blocksize=CLIENT_RATE // 50,
                callback=captured,
            )
        except (ValueError, sounddevice.PortAudioError) as exc:
            raise DeviceError(f"cannot capture at {CLIENT_RATE} Hz: {exc}") from None

        async def audio() -> Any:
            limit = None if duration is None else round(duration * CLIENT_RATE) * 2
            sent = 0
            stream.start()
            try:
                while limit is None or sent < limit:
                    chunk = await chunks.get()
                    if chunk is None:
                        return
                    if limit is not None:
                        chunk = chunk[: limit - sent]
                    sent += len(chunk)
                    yield chunk
            finally:
                stream.stop()

        try:
            return await talk(url, token, audio, channel=channel, codec=codec)
        finally:
            stream.close()

    try:
        stopped = asyncio.run(main())
    except RelayClientError as exc:
        return _fail(exc)
    except DeviceError as exc:
        raise click.BadParameter(str(exc), param_hint="'--input-device'") from None
    console.info(f"sent {stopped.get('frames')} frames on channel {channel} through {url}")
    if as_json:
        click.echo(json.dumps(stopped, indent=2))
    return 128 + received[0] if received else 0


class _Recordings:
    """Each page's audio from the relay as DIR/relay-ID.wav (16 kHz) + its JSON event."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.open: dict[int, wave.Wave_write] = {}

    def audio(self, page: int, pcm: bytes) -> None:
        writer = self.open.get(page)
        if writer is None:
            writer = wave.open(str(self.directory / f"relay-{page}.wav"), "wb")  # noqa: SIM115
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(CLIENT_RATE)
            self.open[page] = writer
        writer.writeframesraw(pcm)

    def ended(self, event: dict[str, Any]) -> None:
        writer = self.open.pop(event["id"], None)
        if writer is not None:
            writer.close()
        path = self.directory / f"relay-{event['id']}.json"
        path.write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")

    def close(self) -> None:
        for writer in self.open.values():
            writer.close()
        self.open.clear()


def listen_via_relay(
    url: str,
    token: str | None,
    *,
    channels: frozenset[int] | None,
    record: Path | None,
    as_json: bool,
    count: int | None,
    timeout: float | None,
) -> int:
    """Report (and record) the pages the relay hears until --count, --timeout or a signal."""
    from polyptt.relay.client import RelayClientError, listen

    token = _need_token(token)
    recordings = None
    if record is not None:
        try:
            recordings = _Recordings(record)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot write to {record}: {exc.strerror or exc}", param_hint="'--record'"
            ) from None
    ended = 0
    received: list[int] = []

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal(signum: int) -> None:
            received.append(signum)
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal, signum)

        def on_event(event: dict[str, Any]) -> None:
            nonlocal ended
            if event.get("type") not in ("page_start", "page_end"):
                return
            if as_json:
                line = json.dumps({"event": event["type"], **_without(event, "type")})
            else:
                line = (
                    f"{event['type'].replace('_', ' ')}: channel {event['channel']} "
                    f"({event.get('channel_name')}) from {event.get('caller_id')!r}"
                )
            click.echo(line)
            sys.stdout.flush()
            if event["type"] == "page_end":
                if recordings is not None:
                    recordings.ended(event)
                ended += 1
                if count is not None and ended >= count:
                    stop.set()

        def on_audio(page: int, pcm: bytes) -> None:
            if recordings is not None:
                recordings.audio(page, pcm)

        if timeout is not None:
            loop.call_later(timeout, stop.set)
        await listen(
            url,
            token,
            channels=None if channels is None else sorted(channels),
            on_event=on_event,
            on_audio=on_audio,
            stop=stop,
        )

    try:
        asyncio.run(main())
    except RelayClientError as exc:
        return _fail(exc)
    finally:
        if recordings is not None:
            recordings.close()
    return 128 + received[0] if received else 0


def _without(event: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != key}
