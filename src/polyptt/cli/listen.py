"""``polyptt listen``: monitor pages, play them, record them and report them.

The command only wires parts together: a `polyptt.receive.receiver.Receiver` fed by the
network (`polyptt.receive.inbound`) or a capture file (`polyptt.pcap`), and page listeners
that report (`polyptt.receive.report`), record (`polyptt.receive.recorder`) and play
(`polyptt.audio.playback`). Heavy modules are imported inside the command so
``polyptt --help`` stays instant.

Decision on ``--timeout``: it bounds the whole run (like ``--count`` bounds the pages),
because that is what a script waiting for a page needs; the silence after which one page
is considered over is ``--page-timeout`` (1 s by default, as phones behave).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from polyptt.cli import options
from polyptt.cli.console import Console

if TYPE_CHECKING:
    from polyptt.receive.receiver import Receiver
    from polyptt.receive.session import Page

__all__ = ["listen", "parse_channels"]


def parse_channels(text: str) -> frozenset[int] | None:
    """``26-50,1,24`` (any channel notation of `parse_channel`) as a set; ``all`` is None.

    An empty list or item is an error, not "all": ``--channels "$UNSET"`` in a script must
    not silently record every channel.

    Raises
    ------
    ValueError
        For an empty list or item, an unknown channel or a range that runs backwards.
    """
    from polyptt.protocol import parse_channel

    if text.strip().lower() == "all":
        return None
    channels: set[int] = set()
    for item in text.split(","):
        if not item.strip():
            raise ValueError(f"{text!r} has an empty item (expected e.g. 26-50,1,24 or all)")
        first, dash, last = item.strip().partition("-")
        low = parse_channel(first)
        high = parse_channel(last) if dash else low
        if high < low:
            raise ValueError(f"channel range {item.strip()!r} runs backwards")
        channels.update(range(low, high + 1))
    return frozenset(channels)


class _ChannelsType(click.ParamType):
    name = "channels"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, frozenset):
            return value
        try:
            return parse_channels(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class _EndpointType(click.ParamType):
    name = "group:port"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from polyptt.receive.inbound import Endpoint, parse_endpoint

        if isinstance(value, Endpoint):
            return value
        try:
            return parse_endpoint(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class _Counter:
    """Counts ended pages, for ``--count``."""

    def __init__(self) -> None:
        self.ended = 0

    def page_started(self, page: Page) -> None:
        pass

    def page_ended(self, page: Page) -> None:
        self.ended += 1


@click.command(cls=options.OneLineCommand)
@click.option(
    "--channels",
    type=_ChannelsType(),
    default="all",
    show_default=True,
    show_envvar=True,
    help="Channels to listen to: a comma list of channels and ranges, e.g. 26-50,1,24 "
    "(page:N and ptt:N notations too).",
)
@options.iface_option
@click.option(
    "--from",
    "endpoints",
    type=_EndpointType(),
    multiple=True,
    envvar="POLYPTT_LISTEN_FROM",
    show_envvar=True,
    metavar="GROUP:PORT",
    help="Multicast group and port to join; repeat for several. Unicast to the port is "
    "accepted too.  [default: 224.0.1.116:5001]",
)
@click.option(
    "--play/--no-play",
    default=None,
    show_envvar=True,
    help="Play pages on the default output device, one at a time by the phones' priority "
    "rules; at --count or --timeout the last page still plays to its end (a signal stops "
    "it at once).  [default: on if an output device exists]",
)
@options.record_option(
    "Write every page to DIR: a WAV at the codec's rate and a JSON of its metadata."
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    envvar="POLYPTT_LISTEN_JSON",
    show_envvar=True,
    help="JSON Lines on stdout: one object per page_start and page_end event.",
)
@click.option(
    "--pcap",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    show_envvar=True,
    metavar="FILE",
    help="Read pages from a capture (pcap or pcapng) instead of the network, as fast as "
    "possible, its timestamps standing in for the clock.",
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    show_envvar=True,
    metavar="N",
    help="Exit after N pages have ended.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    show_envvar=True,
    metavar="SECONDS",
    help="Exit after SECONDS (pages still running end as interrupted).",
)
@click.option(
    "--page-timeout",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    show_envvar=True,
    metavar="SECONDS",
    help="Silence after which a page without end packets is over.",
)
@options.relay_option
@options.token_option
@click.option("-v", "--verbose", count=True, help="Also report what was dropped (on stderr).")
@click.option("-q", "--quiet", is_flag=True, help="Errors only: no warnings.")
def listen(**kwargs: Any) -> None:
    """Monitor pages: report, record and play them.

    Joins the paging group (224.0.1.116:5001 unless --from says otherwise), follows every
    page on the chosen channels, repairs lost packets from the redundancy the senders
    add, and prints one line when a page starts and one when it ends.

    Exit status: 0 done (--count, --timeout or end of --pcap), 1 network failure or a
    recording that could not be written, 2 bad usage (an unwritable --record DIR too),
    130/143 stopped by SIGINT/SIGTERM (recordings are finalized first).
    """
    console = Console.from_flags(kwargs.pop("quiet"), kwargs.pop("verbose"))
    relay, token = kwargs.pop("relay"), kwargs.pop("token")
    if relay is not None:
        from polyptt.cli import remote

        ctx = click.get_current_context()
        remote.refuse_local_options(ctx, remote.LISTEN_LOCAL_ONLY)
        status = remote.listen_via_relay(
            relay,
            token,
            channels=kwargs["channels"],
            play=kwargs["play"],
            record=kwargs["record"],
            as_json=kwargs["as_json"],
            count=kwargs["count"],
            timeout=kwargs["timeout"],
            console=console,
        )
        ctx.exit(status)
    try:
        status = _listen(console=console, **kwargs)
    except KeyboardInterrupt:  # before anything was listened to: nothing to finalize
        status = 130
    click.get_current_context().exit(status)


def _listen(
    *,
    console: Console,
    channels: frozenset[int] | None,
    interface: str | None,
    endpoints: tuple[Any, ...],
    play: bool | None,
    record: Path | None,
    as_json: bool,
    pcap: Path | None,
    count: int | None,
    timeout: float | None,
    page_timeout: float,
) -> int:
    from polyptt.protocol import DEFAULT_GROUP, DEFAULT_PORT
    from polyptt.receive.inbound import Endpoint
    from polyptt.receive.receiver import Receiver
    from polyptt.receive.report import Reporter
    from polyptt.signals import SignalFlag

    endpoints = endpoints or (Endpoint(DEFAULT_GROUP, DEFAULT_PORT),)
    counter = _Counter()
    listeners: list[Any] = [Reporter(sys.stdout, as_json=as_json), counter]
    recorder = None
    if record is not None:
        from polyptt.receive.recorder import Recorder

        try:
            recorder = Recorder(record, console.error)
            listeners.append(recorder)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot write to {record}: {exc.strerror or exc}", param_hint="'--record'"
            ) from None
    player = options.open_player(play, console) if pcap is None else None
    if player is not None:
        listeners.append(player)
    receiver = Receiver(listeners, channels=channels, page_timeout=page_timeout)

    # the receive loop and the player note their own signals; this flag covers the
    # moments between them, and a capture's replay
    between = SignalFlag()

    def done() -> bool:
        return (count is not None and counter.ended >= count) or between.received is not None

    status = 1
    with between:
        try:
            if pcap is not None:
                status = _replay(pcap, receiver, endpoints, done, timeout, console)
            else:
                status = _live(
                    receiver, endpoints, interface, done, timeout, playing=player is not None
                )
        finally:
            if player is not None:
                # the last page plays to its end (a page faster than real time outlasts
                # its packets), unless a signal or a failure stopped the run: then at once
                signum = player.close(wait=status == 0 and between.received is None)
                status = status if signum is None else 128 + signum
    if status == 0 and between.received is not None:
        status = 128 + between.received
    _summary(receiver, console)
    if status == 0 and recorder is not None and recorder.failures:
        return 1  # the recordings were the point: one that failed fails the run
    return status


def _live(
    receiver: Receiver,
    endpoints: tuple[Any, ...],
    interface: str | None,
    done: Any,
    timeout: float | None,
    *,
    playing: bool,
) -> int:
    from polyptt.receive.inbound import COALESCE_PLAYING_S, COALESCE_S, open_sockets, serve
    from polyptt.signals import SignalFlag

    try:
        sockets = open_sockets(endpoints, interface)
    except OSError as exc:
        where = ", ".join(str(e) for e in endpoints)
        raise options.NetworkFailure(f"cannot listen on {where}: {exc.strerror or exc}") from None
    until = None if timeout is None else time.time() + timeout
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
    pcap: Path,
    receiver: Receiver,
    endpoints: tuple[Any, ...],
    done: Any,
    timeout: float | None,
    console: Console,
) -> int:
    """Feed a capture as if live: its timestamps drive page timeouts; no waiting.

    A capture cut short (tshark killed mid-write) still gives the pages it holds, so it
    is a warning, not an error.
    """
    import ipaddress

    from polyptt.pcap import CaptureError, read_datagrams

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
            if until is None and timeout is not None:
                until = now + timeout
            if until is not None and now >= until:
                break
            receiver.tick(now)
            receiver.feed(now, datagram.source, datagram.payload)
            if done():
                break
    except CaptureError as exc:
        raise click.BadParameter(str(exc), param_hint="'--pcap'") from None
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
