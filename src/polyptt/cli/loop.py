"""``polyptt loop``: a walkie-talkie at the terminal.

Hears pages as ``listen`` does and talks as ``send --mic`` does, keyed from the terminal
(see `polyptt.loop`). Everything that can fail on bad input (options, devices, sockets)
fails here, before the terminal is switched to raw keys, so an error is one line on a
terminal left as it was.

Decision: the talk channel is always listened to, whatever ``--channels`` says, since
its pages decide whether the channel is busy and who wins a contention.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from polyptt import codecs
from polyptt.cli import options
from polyptt.cli.console import Console
from polyptt.cli.listen import _ChannelsType

__all__ = ["loop"]

EXIT_USAGE = 2


@click.command(cls=options.OneLineCommand)
@click.option(
    "-c",
    "--channel",
    type=options.ChannelType(),
    default="26",
    show_default=True,
    show_envvar=True,
    help="Channel to talk on, 1-50, page:N or ptt:N (as for send); keys c and 0-9 change it.",
)
@click.option(
    "--channels",
    type=_ChannelsType(),
    default="all",
    show_default=True,
    show_envvar=True,
    help="Channels to hear, e.g. 26-50,1,24 (the talk channel always is).",
)
@click.option(
    "--codec",
    type=options.choice(*codecs.WIRE_NAMES),
    default="g722",
    show_default=True,
    show_envvar=True,
    help="Codec to talk in (all three are heard).",
)
@options.sender_options
@options.frame_ms_option
@click.option(
    "--input-device",
    default=None,
    show_envvar=True,
    metavar="DEV",
    help="Microphone: a device index or (part of) its name (see --list-devices).",
)
@options.keep_pauses_option
@click.option(
    "--output-device",
    default=None,
    show_envvar=True,
    metavar="DEV",
    help="Speaker: a device index or (part of) its name (see --list-devices).",
)
@click.option(
    "--list-devices",
    is_flag=True,
    help="List the audio devices and exit.",
)
@options.record_option("Write every page heard to DIR (as listen --record), while talking too.")
@click.option(
    "--hold",
    is_flag=True,
    show_envvar=True,
    help="Talk while Space is held (detected from key repeat) instead of Space "
    "starting and stopping.",
)
@click.option(
    "--max-talk",
    type=click.FloatRange(1, 3600),
    default=120.0,
    show_default=True,
    show_envvar=True,
    metavar="SECONDS",
    help="End a talk after this long (a stuck key).",
)
@click.option(
    "--vox",
    "vox_db",
    type=click.FloatRange(-90, 0),
    default=None,
    envvar="POLYPTT_LOOP_VOX",  # and, after it, POLYPTT_LOOP_VOX_DB (see options)
    show_envvar=True,
    metavar="DBFS",
    help="Hands-free: talk while the microphone is above this level (e.g. -30), until "
    "it has been below it for 1 s; the 0.3 s before it rose are sent too.",
)
@click.option(
    "--full-duplex",
    is_flag=True,
    show_envvar=True,
    help="Play incoming pages while talking too (half duplex by default).",
)
@click.option(
    "--gain",
    type=click.FloatRange(-96, 48),
    default=0.0,
    show_default=True,
    show_envvar=True,
    metavar="DB",
    help="Gain in decibels applied to the microphone before encoding.",
)
@click.option("-v", "--verbose", count=True, help="Say more on exit (on stderr).")
@click.option("-q", "--quiet", is_flag=True, help="Errors only: no warnings.")
def loop(**kwargs: Any) -> None:
    """A walkie-talkie: hear pages as they happen, press Space, talk, press Space.

    Hears every page on the channels (all three codecs, the phones' priority rules) and
    plays it; talks on --channel from the microphone. Keys: Space talks and stops
    (--hold: talk while held), c next channel, 0-9 then Enter a channel, m mutes the
    speaker, q or Ctrl-C quits. Half duplex: pages heard while talking are not played
    (but recorded with --record); talk is refused while someone else holds the channel,
    except on priority and emergency channels (24/25, 49/50).

    Needs a terminal: from a script, page with 'polyptt send --mic' and listen with
    'polyptt listen'.

    Exit status: 0 quit with q, 1 network failure, 2 bad usage, no terminal or no
    usable audio device, 130/143/129 SIGINT/SIGTERM/SIGHUP (a page in progress is
    ended first).
    """
    console = Console.from_flags(kwargs.pop("quiet"), kwargs.pop("verbose"))
    if kwargs.pop("list_devices"):
        _list_devices()
        return
    refusal = codecs.info(kwargs["codec"]).frame_ms_refusal(kwargs["frame_ms"])
    if refusal is not None:
        raise click.UsageError(f"--codec {refusal}")
    if not sys.stdin.isatty():
        raise click.UsageError(
            "loop reads its keys from a terminal and stdin is not one; from a script, "
            "page with 'polyptt send --mic' and listen with 'polyptt listen'"
        )
    status = _loop(console=console, **kwargs)
    click.get_current_context().exit(status)


def _list_devices() -> None:
    from polyptt.audio.devices import DeviceError, listing

    try:
        click.echo(listing())
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from None


def _loop(
    *,
    console: Console,
    channel: int,
    channels: frozenset[int] | None,
    codec: str,
    caller_id: str | None,
    serial: int | None,
    destination: Any,
    interface: str | None,
    ttl: int,
    frame_ms: int,
    input_device: str | None,
    output_device: str | None,
    record: Path | None,
    hold: bool,
    max_talk: float,
    full_duplex: bool,
    gain: float,
    vox_db: float | None,
    keep_pauses: bool,
) -> int:
    import asyncio

    from polyptt.audio import live
    from polyptt.loop.app import LoopApp, TalkSettings
    from polyptt.loop.keys import RawTerminal
    from polyptt.loop.panel import Screen
    from polyptt.loop.state import LoopState, VoxGate
    from polyptt.loop.vox import VoxInput
    from polyptt.protocol import DEFAULT_GROUP
    from polyptt.receive.inbound import Endpoint, open_sockets
    from polyptt.transport import NetworkError, UdpSink

    caller_id, serial = options.sender_identity(caller_id, serial, console)
    input_at = live.parse_device(input_device)

    def open_microphone(monitor: Any) -> live.Microphone:
        return live.Microphone(
            codec,
            frame_ms,
            device=input_at,
            gain_db=gain,
            catch_up=not keep_pauses,
            monitor=monitor,
        )

    def open_vox_stream(monitor: Any) -> live.Microphone:
        # VoxInput takes every block from the monitor: the stream's own frames keep none
        return live.Microphone(codec, frame_ms, device=input_at, monitor=monitor, max_buffer_s=0)

    vox_input = None
    try:  # now, so that a wrong device is a one-line error before anything starts
        open_microphone(None).close()
        if vox_db is not None:
            vox_input = VoxInput(open_vox_stream, codec, frame_ms, gain, catch_up=not keep_pauses)
    except live.DeviceError as exc:
        raise options.device_error(exc, "--input-device", input_device) from None
    player = _player(output_device, console)
    recorder = None
    if record is not None:
        from polyptt.receive.recorder import Recorder

        try:
            recorder = Recorder(record, console.error)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot write to {record}: {exc.strerror or exc}", param_hint="'--record'"
            ) from None
    # pages are heard where they are sent: the group, or the default one for unicast
    group = destination.address if _is_multicast(destination.address) else DEFAULT_GROUP
    endpoint = Endpoint(group, destination.port)
    try:
        sockets = open_sockets([endpoint], interface)
    except OSError as exc:
        raise options.NetworkFailure(
            f"cannot listen on {endpoint}: {exc.strerror or exc}"
        ) from None
    try:
        sink = UdpSink(destination, interface=interface, ttl=ttl)
    except NetworkError as exc:
        for sock in sockets:
            sock.close()
        raise options.NetworkFailure(str(exc)) from None
    if sink.warning:
        console.warn(sink.warning)
    state = LoopState(channel, serial, full_duplex=full_duplex)
    talk = TalkSettings(codec, frame_ms, caller_id, serial, max_talk)
    stdout = sys.stdout
    try:
        with RawTerminal(sys.stdin.fileno(), stdout) as terminal:
            app = LoopApp(
                state=state,
                talk=talk,
                sink=sink,
                sockets=sockets,
                terminal=terminal,
                screen=Screen(stdout),
                open_microphone=open_microphone,
                player=player,
                recorder=recorder,
                channels=channels,
                hold=hold,
                vox=None if vox_db is None else VoxGate(vox_db),
                vox_input=vox_input,
            )
            status = asyncio.run(app.run())
    finally:
        sink.close()
        for sock in sockets:
            sock.close()
        if player is not None:
            player.close(wait=False)
    for report in app.reports:
        console.info(
            f"talked: {report.transmits} frames ({report.transmits * frame_ms / 1000:.1f} s), "
            f"{report.alerts} alerts, {report.ends} ends"
        )
    if recorder is not None and recorder.failures and status == 0:
        return 1
    return status


def _is_multicast(address: str) -> bool:
    import ipaddress

    return ipaddress.ip_address(address).is_multicast


def _player(device: str | None, console: Console) -> Any:
    from polyptt.audio.live import parse_device
    from polyptt.audio.playback import PlaybackUnavailable, Player

    try:
        return Player.open(parse_device(device))
    except PlaybackUnavailable as exc:
        if device is not None:
            raise click.BadParameter(str(exc), param_hint="'--output-device'") from None
        console.warn(f"{exc}; not playing, still talking and recording")
        return None
