"""``send --relay`` and ``listen --relay``: the commands as clients of a remote relay.

The relay pages and listens on its LAN; these functions upload a file, stream live
audio (`polyptt.cli.remote_sources`) no faster than real time, or follow the relay's
WebSocket and report, record and play what it says, with the local commands' exit
statuses: 0 done, 1 the relay could not be reached or failed, 2 refused (bad token,
scope, channel, target, audio, or an option that only means something on the LAN) or a
URL to fix (no scheme, https:// to a relay without TLS or the reverse, a certificate
this host does not accept), 130/143 interrupted; the words of each failure are
`polyptt.relay.failures`'.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from polyptt.cli import options
from polyptt.cli.console import Console
from polyptt.protocol import Priority, channel_priority
from polyptt.relay.hub import CLIENT_RATE

if TYPE_CHECKING:
    from polyptt.cli.remote_sources import LiveSource

__all__ = [
    "LISTEN_LOCAL_ONLY",
    "SEND_LOCAL_ONLY",
    "listen_via_relay",
    "need_token",
    "refuse_local_options",
    "send_via_relay",
    "talk_via_relay",
]


def need_token(token: str | None) -> str:
    if not token:
        raise click.UsageError("--relay needs --token (or POLYPTT_TOKEN)")
    return token


def _fail(exc: Any) -> int:
    """Exit status of a `RelayClientError`: 2 if the relay refused the request or the fix
    is in what the user gave (the URL, the relay's certificate), else 1."""
    if exc.usage or 400 <= exc.status < 500:
        raise options.UsageFailure(str(exc))
    raise options.NetworkFailure(str(exc))


def send_via_relay(
    url: str,
    token: str | None,
    file: str,
    *,
    channel: int,
    codec: str,
    repeat: int,
    gap: float,
    gain: float,
    duration: float | None,
    as_json: bool,
    console: Console,
) -> int:
    """Upload `file` to the relay and wait for the page's end.

    The relay decodes and encodes it, with `repeat`, `gap`, `gain` and `duration` as
    ``send`` applies them.
    """
    from polyptt.relay.client import RelayClientError, post_page

    token = need_token(token)
    try:
        body = click.get_binary_stream("stdin").read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise click.BadParameter(f"{file}: {exc.strerror or exc}", param_hint="FILE") from None
    try:
        answer = asyncio.run(
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
            )
        )
    except RelayClientError as exc:
        return _fail(exc)
    if answer.get("clipped_samples"):
        console.warn(f"{answer['clipped_samples']} samples clipped at full scale; lower --gain")
    console.info(
        f"sent {answer.get('transmits')} frames on channel {channel} through {url} "
        f"(page {answer.get('page')}, {answer.get('outcome')})"
    )
    if as_json:
        click.echo(json.dumps(answer, indent=2))
    return 0


#: Options of ``send`` and ``listen`` that mean nothing through a relay, and why: given
#: on the command line with ``--relay`` they are refused (exit 2). The same settings in
#: the environment (``POLYPTT_IFACE`` in a crontab shared by every command) are left
#: alone: they configure this host's own multicast, which ``--relay`` does not use.
SEND_LOCAL_ONLY = {
    "caller_id": "pages through the relay show the token's name",
    "serial": "pages through the relay carry the relay's serial",
    "destination": "the relay sends to its own --to",
    "interface": "the relay uses its own network interface",
    "ttl": "the relay sets its own TTL",
    "source_port": "the relay sends from its own port",
    "frame_ms": "the relay chooses the frame length",
    "pcap": "the relay sends the page; nothing is captured here",
    "realtime": "the relay paces the page",
    "start_count": "the relay numbers the page's samples",
}
LISTEN_LOCAL_ONLY = {
    "interface": "the relay listens on its own network interface",
    "endpoints": "the relay listens to its own group",
    "pcap": "a capture is read here, not through a relay",
    "page_timeout": "the relay decides when a page is over",
}


def refuse_local_options(ctx: click.Context, local_only: dict[str, str]) -> None:
    """A usage error for the first of `local_only` given on the command line."""
    for param in ctx.command.params:
        if param.name in local_only:
            source = ctx.get_parameter_source(param.name)
            if source is click.core.ParameterSource.COMMANDLINE:
                flag = "/".join(max(o, key=len) for o in (param.opts, param.secondary_opts) if o)
                raise click.UsageError(
                    f"{flag} does nothing with --relay ({local_only[param.name]})"
                )


#: Live audio goes to the relay in messages of at most this many bytes (20 ms at
#: 16 kHz), and at most this far ahead of real time (the relay drops what runs more
#: than its slack, 0.5 s by default, ahead).
MESSAGE_BYTES = 640
AHEAD_S = 0.2


def talk_via_relay(
    url: str,
    token: str | None,
    source: LiveSource,
    *,
    channel: int,
    codec: str,
    duration: float | None,
    gain: float,
    keep_pauses: bool,
    as_json: bool,
    console: Console,
) -> int:
    """Page live from `source` through the relay until its end, a signal or `duration`.

    The source starts from the moment the relay says the page started, so nothing said
    while the alerts go out is lost; its audio is sent no faster than real time (a file
    given to ``--raw`` is read as fast as it is paced). The first Ctrl-C or SIGTERM
    stops taking audio and sends what was taken.
    """
    from polyptt.relay.client import RelayClientError, talk

    token = need_token(token)
    received: list[int] = []
    rate = source.rate
    limit = None if duration is None else round(duration * rate) * 2

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue(64)
        stopping = asyncio.Event()

        def on_signal(signum: int) -> None:
            received.append(signum)
            stopping.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal, signum)

        async def next_chunk() -> bytes | None:
            getting = asyncio.ensure_future(chunks.get())
            waiting = asyncio.ensure_future(stopping.wait())
            await asyncio.wait({getting, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if getting.done():
                return getting.result()
            getting.cancel()
            return None

        async def audio() -> AsyncIterator[bytes]:
            pending = bytearray()
            sent = 0
            started = loop.time()
            source.start(loop, chunks)
            try:
                while limit is None or sent < limit:
                    chunk = await next_chunk()
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

        return await talk(
            url,
            token,
            audio,
            channel=channel,
            codec=codec,
            rate=rate,
            gain=gain,
            keep_pauses=keep_pauses,
        )

    try:
        stopped = asyncio.run(main())
    except RelayClientError as exc:
        return _fail(exc)
    finally:
        source.close()
    if stopped.get("clipped_samples"):
        console.warn(f"{stopped['clipped_samples']} samples clipped at full scale; lower --gain")
    console.info(f"sent {stopped.get('frames')} frames on channel {channel} through {url}")
    if as_json:
        click.echo(json.dumps(stopped, indent=2))
    return 128 + received[0] if received else 0


#: Jitter buffer of pages played from the relay: its audio crosses the internet and an
#: event loop or two, not one LAN, so it arrives less evenly than multicast does (with
#: the 40 ms of ``listen``, a test page through the relay had audible gaps).
RELAY_PREFILL_S = 0.2


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
    play: bool | None,
    record: Path | None,
    as_json: bool,
    count: int | None,
    timeout: float | None,
    console: Console,
) -> int:
    """Report, record and play the relay's pages until --count, --timeout or a signal.

    Playing follows ``listen``'s rules (`polyptt.audio.playback.Player`: one page at a
    time by the phones' priorities), on the relay's 16 kHz audio; the lines are
    ``listen``'s (`polyptt.receive.report.Reporter`), from the relay's records.
    """
    from polyptt.cli.listen import open_player
    from polyptt.receive.report import Reporter
    from polyptt.relay.client import RelayClientError, listen

    token = need_token(token)
    reporter = Reporter(sys.stdout, as_json=as_json)
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
    player = open_player(play, console, prefill_s=RELAY_PREFILL_S)
    playing: dict[int, _RelayPage] = {}

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
            if event.get("type") == "hello":
                console.info(f"listening through {url} as {event.get('name')}")
            if event.get("type") not in ("page_start", "page_end"):
                return
            if player is not None:
                if event["type"] == "page_start":
                    playing[event["id"]] = page = _RelayPage(event["id"], event["channel"])
                    player.page_started(page)
                elif event["id"] in playing:
                    player.page_ended(playing.pop(event["id"]))
            if event["type"] == "page_start":
                reporter.started(_without(event, "type"))
            else:
                reporter.ended(_without(event, "type"))
            if event["type"] == "page_end":
                if recordings is not None:
                    recordings.ended(event)
                ended += 1
                if count is not None and ended >= count:
                    stop.set()

        def on_audio(page: int, pcm: bytes) -> None:
            if recordings is not None:
                recordings.audio(page, pcm)
            if player is not None and page in playing:
                samples = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
                player.page_audio(playing[page], samples, time.time())

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

    status = 1
    try:
        asyncio.run(main())
        status = 128 + received[0] if received else 0
    except RelayClientError as exc:
        return _fail(exc)
    finally:
        if recordings is not None:
            recordings.close()
        if player is not None:
            # as listen: the last page plays to its end unless a signal stopped the run
            signum = player.close(wait=status == 0)
            status = status if signum is None else 128 + signum
    console.info(f"{ended} pages ended")
    return status


@dataclass(frozen=True)
class _Rate:
    sample_rate: int = CLIENT_RATE


@dataclass(frozen=True)
class _RelayPage:
    """A page announced by the relay, as much of one as `Player` needs to play it."""

    key: int
    channel: int
    codec: _Rate = _Rate()

    @property
    def priority(self) -> Priority:
        return channel_priority(self.channel)


def _without(event: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != key}
