"""``polyptt loop``: a walkie-talkie at the terminal.

Hears pages as ``listen`` does and talks as ``send --mic`` does, keyed from the terminal.
What it does is `polyptt.loop.job`; this module reads the options, refuses to run
without a terminal, and turns the job's outcome into the exit status.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from polyptt.cli import options

__all__ = ["loop"]


@click.command(cls=options.OneLineCommand)
@options.channel_option(
    "Channel to talk on, 1-50, page:N or ptt:N (as for send); keys c and 0-9 change it."
)
@options.option(
    "--channels",
    type=options.CHANNELS,
    default="all",
    help="Channels to hear, e.g. 26-50,1,24 (the talk channel always is).",
)
@options.codec_option("Codec to talk in (all three are heard).")
@options.sender_options
@options.frame_ms_option
@options.input_device_option(
    "Microphone: a device index or (part of) its name (see --list-devices)."
)
@options.keep_pauses_option
@options.option(
    "--output-device",
    metavar="DEV",
    help="Speaker: a device index or (part of) its name (see --list-devices).",
)
@click.option("--list-devices", is_flag=True, help="List the audio devices and exit.")
@options.record_option("Write every page heard to DIR (as listen --record), while talking too.")
@options.option(
    "--hold",
    is_flag=True,
    help="Talk while Space is held (detected from key repeat) instead of Space "
    "starting and stopping.",
)
@options.option(
    "--max-talk",
    type=click.FloatRange(1, 3600),
    default=120.0,
    metavar="SECONDS",
    help="End a talk after this long (a stuck key).",
)
@options.option(
    "--vox",
    "vox_db",
    type=click.FloatRange(-90, 0),
    envvar="POLYPTT_LOOP_VOX",  # and, after it, POLYPTT_LOOP_VOX_DB (see options)
    metavar="DBFS",
    help="Hands-free: talk while the microphone is above this level (e.g. -30), until "
    "it has been below it for 1 s; the 0.3 s before it rose are sent too.",
)
@options.option(
    "--full-duplex",
    is_flag=True,
    help="Play incoming pages while talking too (half duplex by default).",
)
@options.gain_option("Gain in decibels applied to the microphone before encoding.")
@options.console_options("Say more on exit (on stderr).")
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
    console = options.console(kwargs)
    if kwargs.pop("list_devices"):
        _list_devices()
        return
    from polyptt.loop import job
    from polyptt.send.job import wire_codec

    with options.job_errors():
        wire_codec(kwargs["codec"], kwargs["frame_ms"])
    if not sys.stdin.isatty():
        raise click.UsageError(
            "loop reads its keys from a terminal and stdin is not one; from a script, "
            "page with 'polyptt send --mic' and listen with 'polyptt listen'"
        )
    with options.job_errors():
        status = job.run(job.LoopJob(**kwargs), console)
    click.get_current_context().exit(status)


def _list_devices() -> None:
    from polyptt.audio.devices import DeviceError, listing

    try:
        click.echo(listing())
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from None
