"""``listen --relay``: follow a relay's pages, report them, record them, play them.

`follow` connects to the relay's WebSocket (`polyptt.remote.client.listen`) and, for
each page, hands its ``page_start`` and ``page_end`` events to the caller (who prints
``listen``'s lines from them), writes its audio and its ``page_end`` event
(`Recordings`), and plays it (a `polyptt.audio.playback.Player`,
with ``listen``'s rules: one page at a time by the phones' priorities), until a count of
pages, a timeout or a signal.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from polyptt.protocol import Priority, channel_priority
from polyptt.relay.wire import RATE, MessageType
from polyptt.remote.client import listen

__all__ = ["RELAY_PREFILL_S", "Followed", "Recordings", "RelayPage", "follow"]

#: Jitter buffer of pages played from the relay: its audio crosses the internet and an
#: event loop or two, not one LAN, so it arrives less evenly than multicast does (with
#: the 40 ms of ``listen``, a test page through the relay had audible gaps).
RELAY_PREFILL_S = 0.2


class Recordings:
    """Each page's audio from the relay as DIR/relay-ID.wav + its ``page_end`` event as
    DIR/relay-ID.json.

    Raises
    ------
    OSError
        If `directory` cannot be created.
    """

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
            writer.setframerate(RATE)
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


@dataclass(frozen=True)
class _Rate:
    sample_rate: int = RATE


@dataclass(frozen=True)
class RelayPage:
    """A page announced by the relay, as much of one as `Player` needs to play it."""

    key: int
    channel: int
    codec: _Rate = _Rate()

    @property
    def priority(self) -> Priority:
        return channel_priority(self.channel)


@dataclass(frozen=True)
class Followed:
    """How `follow` ended: pages that ended while it listened, and the signal that
    stopped it (None: the count or the timeout)."""

    ended: int
    signal: int | None


def follow(
    url: str,
    token: str,
    *,
    channels: list[int] | None,
    say: Callable[[str], None],
    page_line: Callable[[dict[str, Any]], None],
    player: Any = None,
    recordings: Recordings | None = None,
    count: int | None = None,
    timeout: float | None = None,
) -> Followed:
    """Follow the relay's pages until `count` of them ended, `timeout` or SIGINT/SIGTERM.

    `say` gets who the relay knows us as; `page_line` every ``page_start`` and
    ``page_end`` event (after `player` and before `recordings` were told of it).
    `player` (a `Player`, or None) and `recordings` are the caller's to close.

    Raises
    ------
    polyptt.remote.client.RelayClientError
        The relay could not be reached, refused, or closed the connection.
    """
    follower = _Follower(url, say, page_line, player, recordings, count)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, follower.on_signal, signum)
        if timeout is not None:
            loop.call_later(timeout, follower.stop.set)
        await listen(
            url,
            token,
            channels=channels,
            on_event=follower.on_event,
            on_audio=follower.on_audio,
            stop=follower.stop,
        )

    asyncio.run(main())
    return Followed(follower.ended, follower.signal)


class _Follower:
    """What `follow` does with each event and each piece of audio."""

    def __init__(
        self,
        url: str,
        say: Callable[[str], None],
        page_line: Callable[[dict[str, Any]], None],
        player: Any,
        recordings: Recordings | None,
        count: int | None,
    ) -> None:
        self.url = url
        self.say = say
        self.page_line = page_line
        self.player = player
        self.recordings = recordings
        self.count = count
        self.ended = 0
        self.signal: int | None = None
        self.playing: dict[int, RelayPage] = {}
        self.stop = asyncio.Event()

    def on_signal(self, signum: int) -> None:
        if self.signal is None:
            self.signal = signum
        self.stop.set()

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == MessageType.HELLO:
            self.say(f"listening through {self.url} as {event.get('name')}")
        if kind not in (MessageType.PAGE_START, MessageType.PAGE_END):
            return
        if self.player is not None:
            if kind == MessageType.PAGE_START:
                self.playing[event["id"]] = page = RelayPage(event["id"], event["channel"])
                self.player.page_started(page)
            elif event["id"] in self.playing:
                self.player.page_ended(self.playing.pop(event["id"]))
        self.page_line(event)
        if kind == MessageType.PAGE_END:
            if self.recordings is not None:
                self.recordings.ended(event)
            self.ended += 1
            if self.count is not None and self.ended >= self.count:
                self.stop.set()

    def on_audio(self, page: int, pcm: bytes) -> None:
        if self.recordings is not None:
            self.recordings.audio(page, pcm)
        if self.player is not None and page in self.playing:
            samples = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
            self.player.page_audio(self.playing[page], samples, time.time())
