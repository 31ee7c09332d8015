"""``send --relay`` and ``listen --relay``: the options' wiring to `polyptt.remote`.

What the commands do through a relay is `polyptt.remote`'s (upload a file, stream live
audio, follow the relay's pages); this module checks the options, opens what the
command line names (the file, the source, the recordings, the player), prints, and
gives the local commands' exit statuses: 0 done, 1 the relay could not be reached or
failed, 2 refused (bad token, scope, channel, target, audio, or an option that only
means something on the LAN) or a URL to fix (no scheme, https:// to a relay without
TLS or the reverse, a certificate this host does not accept), 130/143 interrupted; the
words of each failure are `polyptt.remote.failures`'.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from polyptt.cli import options
from polyptt.cli.console import Console

if TYPE_CHECKING:
    from polyptt.remote.client import RelayClientError
    from polyptt.remote.sources import LiveSource, Microphone, RawPipe

__all__ = [
    "LISTEN_LOCAL_ONLY",
    "SEND_LOCAL_ONLY",
    "listen_via_relay",
    "need_token",
    "open_microphone",
    "open_raw",
    "refuse_local_options",
    "send_via_relay",
    "talk_via_relay",
]


def need_token(token: str | None) -> str:
    if not token:
        raise click.UsageError("--relay needs --token (or POLYPTT_TOKEN)")
    return token


def _fail(exc: RelayClientError) -> int:
    """Exit status of a `RelayClientError`: 2 if the relay refused the request or the fix
    is in what the user gave (the URL, the relay's certificate), else 1."""
    if exc.usage or 400 <= exc.status < 500:
        raise options.UsageFailure(str(exc))
    raise options.NetworkFailure(str(exc))


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
    """Upload `file` to the relay and wait for the page's end (`remote.send.send_file`)."""
    from polyptt.remote.client import RelayClientError
    from polyptt.remote.send import send_file

    token = need_token(token)
    try:
        body = click.get_binary_stream("stdin").read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise click.BadParameter(f"{file}: {exc.strerror or exc}", param_hint="FILE") from None
    try:
        answer = send_file(
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


def open_raw(file: str, rate: int) -> RawPipe:
    """``send --raw RATE FILE`` as a live source for the relay, once its first audio is
    there (one line and exit 2 for a file that cannot be opened, a stream that ends
    before any audio or starts like an audio file: nothing is sent)."""
    from polyptt.audio.sniff import RawInputError
    from polyptt.remote.sources import open_raw as open_raw_source

    try:
        return open_raw_source(file, rate, click.get_binary_stream("stdin"))
    except OSError as exc:
        raise click.BadParameter(f"{file}: {exc.strerror or exc}", param_hint="FILE") from None
    except RawInputError as exc:
        raise click.BadParameter(str(exc), param_hint="FILE") from None


def open_microphone(input_device: str | None) -> Microphone:
    """``send --mic`` as a live source for the relay."""
    from polyptt.audio.devices import DeviceError
    from polyptt.remote.sources import Microphone

    try:
        return Microphone(input_device)
    except DeviceError as exc:
        raise options.device_error(exc, "--input-device", input_device) from None


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
    """Page live from `source` through the relay (`remote.send.send_live`); closes it."""
    from polyptt.remote.client import RelayClientError
    from polyptt.remote.send import send_live

    token = need_token(token)
    try:
        talked = send_live(
            url,
            token,
            source,
            channel=channel,
            codec=codec,
            duration=duration,
            gain=gain,
            keep_pauses=keep_pauses,
        )
    except RelayClientError as exc:
        return _fail(exc)
    finally:
        source.close()
    stopped = talked.stopped
    if stopped.get("clipped_samples"):
        console.warn(f"{stopped['clipped_samples']} samples clipped at full scale; lower --gain")
    console.info(f"sent {stopped.get('frames')} frames on channel {channel} through {url}")
    if as_json:
        click.echo(json.dumps(stopped, indent=2))
    return 0 if talked.signal is None else 128 + talked.signal


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
    """Report, record and play the relay's pages until --count, --timeout or a signal
    (`remote.listen.follow`).

    Playing follows ``listen``'s rules (`polyptt.audio.playback.Player`: one page at a
    time by the phones' priorities), on the relay's audio; the lines are ``listen``'s
    (`polyptt.receive.report.Reporter`), from the relay's records.
    """
    from polyptt.receive.report import Reporter
    from polyptt.relay.wire import MessageType
    from polyptt.remote.client import RelayClientError
    from polyptt.remote.listen import RELAY_PREFILL_S, Recordings, follow

    token = need_token(token)
    reporter = Reporter(sys.stdout, as_json=as_json)
    recordings = None
    if record is not None:
        try:
            recordings = Recordings(record)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot write to {record}: {exc.strerror or exc}", param_hint="'--record'"
            ) from None
    player = options.open_player(play, console, prefill_s=RELAY_PREFILL_S)

    def page_line(event: dict[str, Any]) -> None:
        fields = {k: v for k, v in event.items() if k != "type"}
        if event["type"] == MessageType.PAGE_START:
            reporter.started(fields)
        else:
            reporter.ended(fields)

    status = 1
    try:
        followed = follow(
            url,
            token,
            channels=None if channels is None else sorted(channels),
            say=console.info,
            page_line=page_line,
            player=player,
            recordings=recordings,
            count=count,
            timeout=timeout,
        )
        status = 0 if followed.signal is None else 128 + followed.signal
    except RelayClientError as exc:
        return _fail(exc)
    finally:
        if recordings is not None:
            recordings.close()
        if player is not None:
            # as listen: the last page plays to its end unless a signal stopped the run
            signum = player.close(wait=status == 0)
            status = status if signum is None else 128 + signum
    console.info(f"{followed.ended} pages ended")
    return status
