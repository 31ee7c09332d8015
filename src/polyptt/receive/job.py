"""The listen job: what ``polyptt listen`` does, for a program as much as for the command.

A :class:`ListenJob` says where pages come from (multicast groups, or a capture file),
which channels count, and what to do with each page: report it (one line, or JSON
Lines: `polyptt.receive.report`), record it (`polyptt.receive.recorder`), play it
(`polyptt.audio.playback`). :func:`run` listens until `count` pages have ended, until
`timeout`, until the capture's end or until SIGINT/SIGTERM, and returns the exit
status::

    from pathlib import Path
    from polyptt.receive.job import ListenJob, run

    status = run(ListenJob(record=Path("pages"), play=False, count=1))

Decision on `timeout`: it bounds the whole run (like `count` bounds the pages), because
that is what a script waiting for a page needs; the silence after which one page is
over is `page_timeout` (1 s by default, as phones behave).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from polyptt.console import Console
from polyptt.errors import BadInput

if TYPE_CHECKING:
    from polyptt.audio.playback import Player
    from polyptt.receive.inbound import Endpoint
    from polyptt.receive.receiver import Receiver
    from polyptt.receive.recorder import Recorder
    from polyptt.receive.session import Page

__all__ = ["ListenJob", "open_player", "open_recorder", "run"]


@dataclass(frozen=True)
class ListenJob:
    """What to listen to and what to do with the pages (``polyptt listen``'s options).

    `channels` None hears every channel; `endpoints` empty joins the phones' default
    group (224.0.1.116:5001); `play` None plays if an output device exists; `pcap`
    reads a capture as fast as possible instead of the network, its timestamps standing
    in for the clock.
    """

    channels: frozenset[int] | None = None
    interface: str | None = None
    endpoints: tuple[Endpoint, ...] = ()
    play: bool | None = None
    record: Path | None = None
    as_json: bool = False
    pcap: Path | None = None
    count: int | None = None
    timeout: float | None = None
    page_timeout: float = 1.0


class _Counter:
    """Counts ended pages, for `count`."""

    def __init__(self) -> None:
        self.ended = 0

    def page_started(self, page: Page) -> None:
        pass

    def page_ended(self, page: Page) -> None:
        self.ended += 1


def open_recorder(directory: Path, console: Console) -> Recorder:
    """A `Recorder` into `directory`, refused now if it cannot be written (``--record``);
    a recording that fails later is reported to `console`."""
    from polyptt.receive.recorder import Recorder

    try:
        return Recorder(directory, console.error)
    except OSError as exc:
        raise BadInput(f"cannot write to {directory}: {exc.strerror or exc}", "--record") from None


def open_player(play: bool | None, console: Console, prefill_s: float = 0.04) -> Player | None:
    """The `Player` for `play` (None: if an output device exists), or None.

    Without an output device, ``play=True`` warns; the default (play where one exists)
    says why it does not play only with ``-v``: a machine without a speaker is no fault
    of a listener that was not asked to play, and a cron job should not mail about it.
    `prefill_s` is its jitter buffer's (see `polyptt.audio.playback`).
    """
    if play is False:
        return None
    from polyptt.audio.playback import PlaybackUnavailable, Player

    try:
        return Player.open(prefill_s=prefill_s)
    except PlaybackUnavailable as exc:
        if play:
            console.warn(f"{exc}; not playing, still reporting and recording")
        else:
            console.info(f"{exc}; not playing")
        return None


def run(job: ListenJob, console: Console | None = None, out: TextIO | None = None) -> int:
    """Listen as `job` says and return the exit status.

    Pages are reported on `out` (standard output by default). The status is 0 when done
    (`count`, `timeout`, the capture's end), 1 if a recording could not be written,
    128 + the signal that stopped the run; recordings are finalized first.

    Raises
    ------
    BadInput
        For a directory that cannot be recorded into, or an unreadable capture.
    NetworkError
        If the groups cannot be joined.
    """
    from polyptt.receive.receiver import Receiver
    from polyptt.receive.report import Reporter

    console = console if console is not None else Console()
    counter = _Counter()
    listeners: list[Any] = [Reporter(out or sys.stdout, as_json=job.as_json), counter]
    recorder = None if job.record is None else open_recorder(job.record, console)
    player = open_player(job.play, console) if job.pcap is None else None
    listeners += [listener for listener in (recorder, player) if listener is not None]
    receiver = Receiver(listeners, channels=job.channels, page_timeout=job.page_timeout)
    status = _receive(job, receiver, player, lambda: counter.ended, console)
    _summary(receiver, console)
    if status == 0 and recorder is not None and recorder.failures:
        return 1  # the recordings were the point: one that failed fails the run
    return status


def _receive(
    job: ListenJob,
    receiver: Receiver,
    player: Player | None,
    ended: Callable[[], int],
    console: Console,
) -> int:
    """Feed `receiver` from the network or the capture until done; the exit status."""
    from polyptt.signals import SignalFlag

    # the receive loop and the player note their own signals; this flag covers the
    # moments between them, and a capture's replay
    between = SignalFlag()

    def done() -> bool:
        return (job.count is not None and ended() >= job.count) or between.received is not None

    status = 1
    with between:
        try:
            if job.pcap is not None:
                status = _replay(job, job.pcap, receiver, done, console)
            else:
                status = _live(job, receiver, done, playing=player is not None)
        finally:
            if player is not None:
                # the last page plays to its end (a page faster than real time outlasts
                # its packets), unless a signal or a failure stopped the run: then at once
                signum = player.close(wait=status == 0 and between.received is None)
                status = status if signum is None else 128 + signum
    if status == 0 and between.received is not None:
        status = 128 + between.received
    return status


def _endpoints(job: ListenJob) -> tuple[Endpoint, ...]:
    from polyptt.protocol import DEFAULT_GROUP, DEFAULT_PORT
    from polyptt.receive.inbound import Endpoint

    return job.endpoints or (Endpoint(DEFAULT_GROUP, DEFAULT_PORT),)


def _live(job: ListenJob, receiver: Receiver, done: Callable[[], bool], *, playing: bool) -> int:
    from polyptt.receive.inbound import COALESCE_PLAYING_S, COALESCE_S, open_sockets, serve
    from polyptt.signals import SignalFlag
    from polyptt.transport import NetworkError

    endpoints = _endpoints(job)
    try:
        sockets = open_sockets(endpoints, job.interface)
    except OSError as exc:
        where = ", ".join(str(e) for e in endpoints)
        raise NetworkError(f"cannot listen on {where}: {exc.strerror or exc}") from None
    until = None if job.timeout is None else time.time() + job.timeout
    try:
        with SignalFlag() as signals:
            serve(
                sockets,
                receiver,
                should_stop=lambda: done() or signals.received is not None,
                until=until,
                coalesce_s=COALESCE_PLAYING_S if playing else COALESCE_S,
            )
    finally:
        receiver.close(time.time())
        for sock in sockets:
            sock.close()
    return 0 if signals.received is None else 128 + signals.received


def _replay(
    job: ListenJob, pcap: Path, receiver: Receiver, done: Callable[[], bool], console: Console
) -> int:
    """Feed a capture as if live: its timestamps drive page timeouts; no waiting.

    A capture cut short (tshark killed mid-write) still gives the pages it holds, so it
    is a warning, not an error.
    """
    import ipaddress

    from polyptt.pcap import CaptureError, read_datagrams

    endpoints = _endpoints(job)
    groups = {(e.address, e.port) for e in endpoints}
    ports = {e.port for e in endpoints}
    now: float | None = None
    until: float | None = None

    def cut_short(where: str) -> None:
        console.warn(f"{pcap}: {where}; read the packets before it")

    try:
        for datagram in read_datagrams(pcap, cut_short):
            address, port = datagram.destination
            if port not in ports:
                continue
            # the set lookup first: datagrams to a joined group skip parsing the address
            if (address, port) not in groups and ipaddress.ip_address(address).is_multicast:
                continue
            now = datagram.time
            if until is None and job.timeout is not None:
                until = now + job.timeout
            if until is not None and now >= until:
                break
            receiver.tick(now)
            receiver.feed(now, datagram.source, datagram.payload)
            if done():
                break
    except CaptureError as exc:
        raise BadInput(str(exc), "--pcap") from None
    if now is not None and not done():
        if until is not None and now >= until:
            receiver.close(until)
        else:
            receiver.tick(now + receiver.page_timeout)  # silence after the capture's end
    receiver.close(now or 0.0)
    return 0


def _summary(receiver: Receiver, console: Console) -> None:
    stats = receiver.stats
    console.info(stats.describe())
    for reason, number in stats.rejected.most_common():
        console.info(f"  invalid: {number} {reason}")
