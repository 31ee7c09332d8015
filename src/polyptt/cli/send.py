"""``polyptt send``: page the phones with an audio file, the microphone or a pipe.

The page itself is `polyptt.send.job` (or, with ``--relay``, `polyptt.remote.send`);
this module reads the options, refuses combinations that cannot work before anything
is opened, and turns the job's outcome into the exit status. The job is imported inside
the command: ``polyptt --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from polyptt.cli import options

__all__ = ["send"]


@click.command(cls=options.OneLineCommand)
@click.argument("file", metavar="FILE", required=False)
@options.option(
    "--mic",
    is_flag=True,
    help="Page live from the microphone (instead of FILE) until Ctrl-C, SIGTERM or "
    "--duration; the first Ctrl-C sends what was said so far, a second one ends at once.",
)
@options.option(
    "--raw",
    "raw_rate",
    type=click.IntRange(4000, 192000),
    envvar="POLYPTT_SEND_RAW",  # and, after it, POLYPTT_SEND_RAW_RATE (see options)
    metavar="RATE",
    help="FILE (usually - for standard input) is raw signed 16-bit little-endian mono PCM "
    "at RATE Hz, paged as it arrives (a text-to-speech engine, arecord) until end of file. "
    "The page starts when the first audio arrives, however long that takes; a stream that "
    "ends before any, or that starts like an audio file (WAV, MP3...), sends nothing "
    "(exit 2). If the audio pauses mid-page, nothing is sent until it resumes: receivers "
    "time a page out after 1 s of silence, and hear what follows as a page without alerts.",
)
@options.option("--say", metavar="TEXT", help="Page TEXT spoken (text to speech) instead of FILE.")
@options.option("--chime", is_flag=True, help="With --say: the bundled chime, then the speech.")
@options.option(
    "--tts-engine",
    type=options.choice("espeak-ng", "piper"),
    default="espeak-ng",
    help="Text to speech for --say: espeak-ng (on PATH), or piper (pip install "
    "'polyptt[piper]', with --voice FILE.onnx).",
)
@options.option(
    "--voice",
    metavar="VOICE",
    help="For --say: an espeak-ng voice (espeak-ng --voices), or piper's FILE.onnx.",
)
@options.option(
    "--rate",
    "rate_wpm",
    type=click.IntRange(80, 500),
    envvar="POLYPTT_SEND_RATE",
    metavar="WPM",
    help="For --say: words per minute (espeak-ng's default: 175).",
)
@options.input_device_option(
    "Microphone for --mic: a PortAudio device index or (part of) its name "
    "(see 'polyptt loop --list-devices'); the default input by default."
)
@options.keep_pauses_option
@options.option(
    "--duration",
    type=click.FloatRange(0, 86400, min_open=True),
    metavar="SECONDS",
    help="End the page after this much audio.",
)
@options.channel_option(
    "Channel 1-50 (26 = paging group 1), or page:N (paging group N = channel 25+N), "
    "or ptt:N (push-to-talk channel N). 49/50 are priority/emergency paging."
)
@options.codec_option(
    "g722: wideband (most phones); g711u: narrowband; g726qi: SoundPoint IP 450/550."
)
@options.sender_options
@options.relay_option
@options.option("--sites", metavar="NAME,NAME|all", help="With --relay: the sites to page.")
@options.token_option
@options.frame_ms_option
@options.option(
    "--source-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="UDP port the page is sent from: the destination's by default, as phones do "
    "(some receivers ignore other ports); 0 for an ephemeral one.",
)
@options.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    metavar="N",
    help="Play the audio N times in one page.",
)
@options.option(
    "--gap",
    type=click.FloatRange(0, 3600),
    default=1.0,
    metavar="SECONDS",
    help="Silence between repeats.",
)
@options.gain_option(
    "Gain in decibels applied before encoding (samples beyond full scale are clipped "
    "with a warning)."
)
@options.option(
    "--pcap",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the page to this capture file (with its scheduled times) instead of "
    "sending it. Nothing goes on the network and nothing waits.",
)
@options.option(
    "--json",
    "as_json",
    is_flag=True,
    envvar="POLYPTT_SEND_JSON",
    help="Print a JSON summary on stdout when done.",
)
@options.option(
    "--realtime/--no-realtime",
    default=True,
    help="Ask for real-time scheduling while the page is on the wire, so a busy machine "
    "does not delay packets (granted to root or with CAP_SYS_NICE / an rtprio limit; "
    "otherwise the page goes out at normal priority).",
)
@options.console_options("Say what was sent (on stderr).")
@click.option(
    "--start-count",
    type=click.IntRange(0, 2**32 - 1),
    hidden=True,
    help="First sample count (for testing; random by default, as phones do).",
)
def send(file: str | None, **kwargs: Any) -> None:
    """Page the phones with an audio FILE ("-" reads standard input), or live.

    Any format libsndfile reads (WAV, FLAC, Ogg, MP3...) at any rate and channel count:
    it is mixed to mono and resampled to the codec's rate. With --mic the page comes
    from the microphone, with --raw RATE from raw PCM on FILE as it arrives. The page
    starts with 31 alerts (the phones chirp), plays the audio and ends; Ctrl-C ends it
    early but cleanly.

    Exit status: 0 sent, 1 network failure, 2 bad usage or input, 130/143 interrupted
    by SIGINT/SIGTERM (the page was still ended properly).
    """
    ctx = click.get_current_context()
    if kwargs["relay"] is not None:
        _send_via_relay(ctx, file, kwargs)
    _check_source(ctx, file, kwargs)
    from polyptt.send import job

    console = options.console(kwargs)
    as_json = kwargs.pop("as_json")
    del kwargs["relay"], kwargs["token"], kwargs["sites"]
    try:
        with options.job_errors():
            result = job.run(job.SendJob(file, **kwargs), console)
    except KeyboardInterrupt:  # before the page started: nothing was sent
        console.clear_status()
        ctx.exit(130)
    if as_json:
        import json

        click.echo(json.dumps(result.summary, indent=2))
    ctx.exit(result.status)


def _send_via_relay(ctx: click.Context, file: str | None, kwargs: dict[str, Any]) -> None:
    """``--relay``: the relay pages a file (it encodes and paces it) or live audio; exits.

    The source options mean what they mean locally; the network and identity options
    are the relay's own and refused here (`polyptt.remote.options.SEND_LOCAL_ONLY`).
    """
    from polyptt.cli import remote

    remote.refuse_local_options(ctx, remote.SEND_LOCAL_ONLY)
    _check_source(ctx, file, kwargs)
    ctx.exit(remote.send_via_relay(file, kwargs, options.console(kwargs)))


def _check_source(ctx: click.Context, file: str | None, kwargs: dict[str, Any]) -> None:
    """Exactly one source, and only the options that fit it (`polyptt.send.usage`)."""
    from polyptt.send.usage import source_problem

    with options.job_errors():
        problem = source_problem(file, kwargs, lambda name: _given(ctx, name))
    if problem is not None:
        raise click.UsageError(problem)


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
