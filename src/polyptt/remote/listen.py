"""``listen --relay``: follow a relay's pages, report them, record them, play them.

A :class:`RelayListenJob` says which relay, which channels and what to do with each
page; :func:`run` follows the relay's WebSocket (`polyptt.remote.client.listen`) until
`count` pages ended, `timeout` or SIGINT/SIGTERM, and returns the exit status. It does
with the relay's pages what ``listen`` does with the phones': the lines are ``listen``'s
(`polyptt.receive.report.Reporter`, from the relay's records), the recordings its
(`polyptt.receive.recorder.Recorder`: ``<UTC start>_ch<NN>_<caller>.wav`` at the relay's
rate, the relay's record of the page as the JSON), and playing follows its rules (a
`polyptt.audio.playback.Player`: one page at a time by the phones' priorities)::

    from polyptt.remote.listen import RelayListenJob, run

    status = run(RelayListenJob("https://relay.example", token, count=1, play=False))

Only pages whose start it saw are reported, recorded and played: one under way when it
connects has no ``page_start`` to name its channel and caller.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from polyptt.console import Console
from polyptt.protocol import Priority, channel_priority
from polyptt.relay.wire import RATE, MessageType
from polyptt.remote.client import listen

if TYPE_CHECKING:
    from polyptt.receive.recorder import Recorder

__all__ = [
    "RELAY_PREFILL_S",
    "Followed",
    "RelayListenJob",
    "RelayPage",
    "follow",
    "run",
]

#: Jitter buffer of pages played from the relay: its audio crosses the internet and an
#: event loop or two, not one LAN, so it arrives less evenly than multicast does (with
#: the 40 ms of ``listen``, a test page through the relay had audible gaps).
RELAY_PREFILL_S = 0.2


@dataclass(frozen=True)
class RelayListenJob:
    """What to follow on the relay at `url` with `token`, and what to do with the
    pages (``listen --relay``'s options): `channels` None hears every channel the token
    may; `play` None plays if an output device exists."""

    url: str
    token: str
    channels: frozenset[int] | None = None
    play: bool | None = None
    record: Path | None = None
    as_json: bool = False
    count: int | None = None
    timeout: float | None = None


def run(job: RelayListenJob, console: Console | None = None, out: TextIO | None = None) -> int:
    """Follow the relay as `job` says; the exit status.

    Pages are reported on `out` (standard output by default). The status is 0 when done
    (`count`, `timeout`), 1 if a recording could not be written, 128 + the signal that
    stopped the run; recordings are finalized and the last page played first.

    Raises
    ------
    polyptt.errors.BadInput
        For a directory that cannot be recorded into.
    polyptt.remote.failures.RelayClientError
        The relay could not be reached, refused, or closed the connection.
    """
    from polyptt.receive.job import open_player, open_recorder
    from polyptt.receive.report import Reporter

    console = console if console is not None else Console()
    reporter = Reporter(out or sys.stdout, as_json=job.as_json)
    recorder = None if job.record is None else open_recorder(job.record, console)
    player = open_player(job.play, console, prefill_s=RELAY_PREFILL_S)

    def page_line(event: dict[str, Any]) -> None:
        fields = {k: v for k, v in event.items() if k != "type"}
        if event["type"] == MessageType.PAGE_START:
            reporter.started(fields)
        else:
            reporter.ended(fields)

    status = 1
    channels = None if job.channels is None else sorted(job.channels)
    try:
        followed = follow(
            job.url,
            job.token,
            channels=channels,
            say=console.info,
            page_line=page_line,
            player=player,
            recorder=recorder,
            count=job.count,
            timeout=job.timeout,
        )
        status = 0 if followed.signal is None else 128 + followed.signal
    finally:
        if player is not None:
            # as listen: the last page plays to its end unless a signal stopped the run
            signum = player.close(wait=status == 0)
            status = status if signum is None else 128 + signum
    console.info(f"{followed.ended} pages ended")
    if status == 0 and recorder is not None and recorder.failures:
        return 1  # the recordings were the point: one that failed fails the run
    return status


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
    recorder: Recorder | None = None,
    count: int | None = None,
    timeout: float | None = None,
) -> Followed:
    """Follow the relay's pages until `count` of them ended, `timeout` or SIGINT/SIGTERM.

    `say` gets who the relay knows us as; `page_line` every ``page_start`` and
    ``page_end`` event (after `player` and `recorder` were told of it). `player` (a
    `Player`, or None) is the caller's to close; the pages `recorder` still records at
    the end are closed as ``listen`` closes them, ``interrupted``.

    Raises
    ------
    polyptt.remote.client.RelayClientError
        The relay could not be reached, refused, or closed the connection.
    """
    follower = _Follower(url, say, page_line, player, recorder, count)

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

    try:
        asyncio.run(main())
    finally:
        follower.close_recordings()
    return Followed(follower.ended, follower.signal)


class _Follower:
    """What `follow` does with each event and each piece of audio."""

    def __init__(
        self,
        url: str,
        say: Callable[[str], None],
        page_line: Callable[[dict[str, Any]], None],
        player: Any,
        recorder: Recorder | None,
        count: int | None,
    ) -> None:
        self.url = url
        self.say = say
        self.page_line = page_line
        self.player = player
        self.recorder = recorder
        self.count = count
        self.ended = 0
        self.signal: int | None = None
        self.pages: dict[int, tuple[RelayPage, dict[str, Any]]] = {}  # started, not ended
        self.stop = asyncio.Event()

    def on_signal(self, signum: int) -> None:
        if self.signal is None:
            self.signal = signum
        self.stop.set()

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == MessageType.HELLO:
            self.say(f"listening through {self.url} as {event.get('name')}")
        if kind == MessageType.PAGE_START:
            self._started(event)
        elif kind == MessageType.PAGE_END:
            self._ended(event)

    def _started(self, event: dict[str, Any]) -> None:
        page = RelayPage(event["id"], event["channel"])
        record = {k: v for k, v in event.items() if k != "type"}
        self.pages[page.key] = (page, record)
        if self.player is not None:
            self.player.page_started(page)
        if self.recorder is not None:
            start = _timestamp(event.get("start"))
            self.recorder.open(page.key, start, page.channel, str(event.get("caller_id", "")))
        self.page_line(event)

    def _ended(self, event: dict[str, Any]) -> None:
        started = self.pages.pop(event["id"], None)
        if started is not None and self.player is not None:
            self.player.page_ended(started[0])
        if self.recorder is not None:
            self.recorder.close(event["id"], {k: v for k, v in event.items() if k != "type"})
        self.page_line(event)
        self.ended += 1
        if self.count is not None and self.ended >= self.count:
            self.stop.set()

    def on_audio(self, key: int, pcm: bytes) -> None:
        started = self.pages.get(key)
        if started is None:
            return
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
        if self.recorder is not None:
            self.recorder.write(key, samples, RATE)
        if self.player is not None:
            self.player.page_audio(started[0], samples, time.time())

    def close_recordings(self) -> None:
        """Finish the recordings of pages still under way, ``interrupted`` as
        ``listen``'s (their JSON says the WAV beside it is complete)."""
        from polyptt.receive.recorder import iso_utc

        if self.recorder is None:
            return
        end = iso_utc(time.time())
        for key, (_page, record) in self.pages.items():
            self.recorder.close(key, {**record, "end": end, "end_reason": "interrupted"})


def _timestamp(iso: Any) -> float:
    """The relay's ``start`` (UTC ISO 8601, ``...Z``) in seconds since the epoch; now if
    it has none."""
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()
