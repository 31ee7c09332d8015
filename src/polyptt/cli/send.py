"""``polyptt send``: page the phones with an audio file, the microphone or a pipe.

Everything that can fail on bad input (options, the file, resampling, encoding, the
audio device, name resolution, the interface, the socket) is done before the first
packet, so a page either does not start or runs to its end packets. A live source
(``--mic``, ``--raw``) starts capturing with the first alert, so nothing said while the
alerts go out is lost; a raw stream's first bytes are awaited and checked before it
(`polyptt.audio.sniff`). Heavy modules are imported inside the
command: ``polyptt --help`` stays instant and a page from cron reaches its first alert
quickly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import click

from polyptt import codecs
from polyptt.cli import options
from polyptt.cli.console import Console
from polyptt.protocol import CodecId

if TYPE_CHECKING:
    from polyptt.audio import PageAudio
    from polyptt.audio.live import LiveFrames
    from polyptt.send import FrameSource, PageReport
    from polyptt.transport import Destination

__all__ = ["send"]

EXIT_OK = 0


@click.command(cls=options.OneLineCommand)
@click.argument("file", metavar="FILE", required=False)
@click.option(
    "--mic",
    is_flag=True,
    show_envvar=True,
    help="Page live from the microphone (instead of FILE) until Ctrl-C, SIGTERM or "
    "--duration; the first Ctrl-C sends what was said so far, a second one ends at once.",
)
@click.option(
    "--raw",
    "raw_rate",
    type=click.IntRange(4000, 192000),
    default=None,
    envvar="POLYPTT_SEND_RAW",  # and, after it, POLYPTT_SEND_RAW_RATE (see options)
    show_envvar=True,
    metavar="RATE",
    help="FILE (usually - for standard input) is raw signed 16-bit little-endian mono PCM "
    "at RATE Hz, paged as it arrives (a text-to-speech engine, arecord) until end of file. "
    "The page starts when the first audio arrives, however long that takes; a stream that "
    "ends before any, or that starts like an audio file (WAV, MP3...), sends nothing "
    "(exit 2). If the audio pauses mid-page, nothing is sent until it resumes: receivers "
    "time a page out after 1 s of silence, and hear what follows as a page without alerts.",
)
@click.option(
    "--input-device",
    default=None,
    show_envvar=True,
    metavar="DEV",
    help="Microphone for --mic: a PortAudio device index or (part of) its name "
    "(see 'polyptt loop --list-devices'); the default input by default.",
)
@options.keep_pauses_option
@click.option(
    "--duration",
    type=click.FloatRange(0, 86400, min_open=True),
    default=None,
    show_envvar=True,
    metavar="SECONDS",
    help="End the page after this much audio.",
)
@click.option(
    "-c",
    "--channel",
    type=options.ChannelType(),
    default="26",
    show_default=True,
    show_envvar=True,
    help="Channel 1-50 (26 = paging group 1), or page:N (paging group N = channel 25+N), "
    "or ptt:N (push-to-talk channel N). 49/50 are priority/emergency paging.",
)
@click.option(
    "--codec",
    type=options.choice(*codecs.WIRE_NAMES),
    default="g722",
    show_default=True,
    show_envvar=True,
    help="g722: wideband (most phones); g711u: narrowband; g726qi: SoundPoint IP 450/550.",
)
@options.sender_options
@options.relay_option
@options.token_option
@options.frame_ms_option
@click.option(
    "--source-port",
    type=click.IntRange(0, 65535),
    default=None,
    show_envvar=True,
    metavar="PORT",
    help="UDP port the page is sent from: the destination's by default, as phones do "
    "(some receivers ignore other ports); 0 for an ephemeral one.",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    show_envvar=True,
    metavar="N",
    help="Play the audio N times in one page.",
)
@click.option(
    "--gap",
    type=click.FloatRange(0, 3600),
    default=1.0,
    show_default=True,
    show_envvar=True,
    metavar="SECONDS",
    help="Silence between repeats.",
)
@click.option(
    "--gain",
    type=click.FloatRange(-96, 48),
    default=0.0,
    show_default=True,
    show_envvar=True,
    metavar="DB",
    help="Gain in decibels applied before encoding (samples beyond full scale are clipped "
    "with a warning).",
)
@click.option(
    "--pcap",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    show_envvar=True,
    help="Write the page to this capture file (with its scheduled times) instead of "
    "sending it. Nothing goes on the network and nothing waits.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    envvar="POLYPTT_SEND_JSON",
    show_envvar=True,
    help="Print a JSON summary on stdout when done.",
)
@click.option(
    "--realtime/--no-realtime",
    default=True,
    show_default=True,
    show_envvar=True,
    help="Ask for real-time scheduling while the page is on the wire, so a busy machine "
    "does not delay packets (granted to root or with CAP_SYS_NICE / an rtprio limit; "
    "otherwise the page goes out at normal priority).",
)
@click.option("-v", "--verbose", count=True, help="Say what was sent (on stderr).")
@click.option("-q", "--quiet", is_flag=True, help="Errors only: no warnings.")
@click.option(
    "--start-count",
    type=click.IntRange(0, 2**32 - 1),
    default=None,
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
    if kwargs["relay"] is not None:
        _send_via_relay(file, kwargs)
    _check_source(click.get_current_context(), file, kwargs)
    console = Console.from_flags(kwargs["quiet"], kwargs["verbose"])
    try:
        status = _send(file, console=console, **kwargs)
    except KeyboardInterrupt:  # before the page started: nothing was sent
        console.clear_status()
        status = 130
    click.get_current_context().exit(status)


def _send_via_relay(file: str | None, kwargs: dict[str, Any]) -> None:
    """``--relay``: the relay pages a file (it encodes and paces it) or live audio; exits.

    The source options mean what they mean locally; the network and identity options
    are the relay's own and refused here (`polyptt.cli.remote.SEND_LOCAL_ONLY`).
    """
    from polyptt.cli import remote

    ctx = click.get_current_context()
    remote.refuse_local_options(ctx, remote.SEND_LOCAL_ONLY)
    _check_source(ctx, file, kwargs)
    console = Console.from_flags(kwargs["quiet"], kwargs["verbose"])
    url, token = kwargs["relay"], kwargs["token"]
    if kwargs["mic"] or kwargs["raw_rate"] is not None:
        remote.need_token(token)
        if kwargs["mic"]:
            source: Any = remote.open_microphone(kwargs["input_device"])
        else:
            assert file is not None
            source = remote.open_raw(file, kwargs["raw_rate"])
        ctx.exit(
            remote.talk_via_relay(
                url,
                token,
                source,
                channel=kwargs["channel"],
                codec=kwargs["codec"],
                duration=kwargs["duration"],
                gain=kwargs["gain"],
                keep_pauses=kwargs["keep_pauses"] or not kwargs["mic"],  # raw: every sample
                as_json=kwargs["as_json"],
                console=console,
            )
        )
    assert file is not None
    ctx.exit(
        remote.send_via_relay(
            url,
            token,
            file,
            channel=kwargs["channel"],
            codec=kwargs["codec"],
            repeat=kwargs["repeat"],
            gap=kwargs["gap"],
            gain=kwargs["gain"],
            duration=kwargs["duration"],
            as_json=kwargs["as_json"],
            console=console,
        )
    )


def _check_source(ctx: click.Context, file: str | None, kwargs: dict[str, Any]) -> None:
    """Exactly one source, and only the options that fit it; G.726QI as phones send it."""
    refusal = codecs.info(kwargs["codec"]).frame_ms_refusal(kwargs["frame_ms"])
    if refusal is not None:
        raise click.UsageError(f"--codec {refusal}")
    mic, raw = kwargs["mic"], kwargs["raw_rate"] is not None
    if mic and (file is not None or raw):
        raise click.UsageError("--mic takes no FILE and no --raw")
    if not mic and file is None:
        raise click.UsageError(
            "Missing argument 'FILE' (an audio file, - for standard input) or --mic."
        )
    for name in ("input_device", "keep_pauses"):
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT and not mic:
            raise click.UsageError(f"--{name.replace('_', '-')} goes with --mic")
    if mic or raw:
        for name in ("repeat", "gap"):
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
                raise click.UsageError(f"--{name} is for files, not live audio")


def _send(
    file: str | None,
    *,
    console: Console,
    channel: int,
    codec: str,
    caller_id: str | None,
    serial: int | None,
    destination: Destination,
    interface: str | None,
    ttl: int,
    frame_ms: int,
    repeat: int,
    gap: float,
    gain: float,
    pcap: Path | None,
    as_json: bool,
    realtime: bool,
    start_count: int | None,
    mic: bool,
    raw_rate: int | None,
    input_device: str | None,
    keep_pauses: bool,
    duration: float | None,
    source_port: int | None,
    **_: Any,
) -> int:
    from polyptt import codecs, protocol

    caller_id, serial = options.sender_identity(caller_id, serial, console)
    info = codecs.info(codec)
    wire_id = info.wire_id
    assert wire_id is not None  # --codec offers wire codecs only
    if mic or raw_rate is not None:
        live = _open_live(file, codec, frame_ms, gain, raw_rate, input_device, keep_pauses)
        source: FrameSource | list[bytes] = live.frames
        total_frames = None
    else:
        live = None
        page_audio = _load_file(file, codec, frame_ms, repeat, gap, gain, duration)  # type: ignore[arg-type]
        if page_audio.clipped:
            console.warn(f"{page_audio.clipped} samples clipped at full scale; lower --gain")
        source, total_frames = page_audio.frames, len(page_audio.frames)
    max_frames = None if duration is None else max(1, math.ceil(duration * 1000 / frame_ms))
    if total_frames is not None and max_frames is not None:
        total_frames = min(total_frames, max_frames)

    try:
        sink, closer = _open_sink(destination, interface, ttl, pcap, source_port, console)
    except BaseException:
        if live is not None:
            live.close()
        raise
    summary: dict[str, Any] = {
        "channel": channel,
        "channel_name": protocol.format_channel(channel),
        "codec": codec,
        "frame_ms": frame_ms,
        "source": "microphone" if mic else "raw" if raw_rate is not None else "file",
        "frame_bytes": info.frame_bytes(frame_ms),
        "caller_id": caller_id,
        "serial": f"0x{serial:08X}",
        "destination": str(destination),
        "ttl": ttl,
        "pcap": str(pcap) if pcap else None,
    }
    try:
        report, status, error = _run_page(
            source,
            sink=sink,
            console=console,
            total_frames=total_frames,
            live=live,
            channel=channel,
            serial=serial,
            caller_id=caller_id,
            codec=CodecId(wire_id),
            codec_name=codec,
            frame_ms=frame_ms,
            start_count=start_count,
            realtime=realtime,
            max_frames=max_frames,
            capture=pcap,
        )
    finally:
        closer()
        if live is not None:
            live.close()
    console.clear_status()
    audio_s = report.transmits * frame_ms / 1000
    clipped = live.frames.framer.clipped if live is not None else page_audio.clipped
    if live is not None and clipped:
        console.warn(f"{clipped} samples clipped at full scale; lower --gain")
    summary.update(frames=report.transmits, audio_s=round(audio_s, 3), clipped_samples=clipped)
    summary.update(_report_fields(report))
    summary["exit_status"] = status
    if error:
        summary["error"] = error
        console.error(error)
    elif status != EXIT_OK and live is None:
        console.warn(f"interrupted; the page was ended after {summary['page_s']} s")
    elif pcap is not None:
        channel_name = protocol.format_channel(channel)
        console.done(
            f"{pcap}: channel {channel_name} ({channel}), {codec} {frame_ms} ms, "
            f"{report.describe(frame_ms)}"
        )
    else:
        console.info(
            f"sent {report.transmits} frames ({audio_s:.1f} s of {codec}) on channel "
            f"{channel} to {destination}"
        )
    if as_json:
        import json

        click.echo(json.dumps(summary, indent=2))
    return status


def _load_file(
    file: str,
    codec: str,
    frame_ms: int,
    repeat: int,
    gap: float,
    gain: float,
    duration: float | None,
) -> PageAudio:
    """The whole file, encoded, before anything is sent; at most ten minutes of it (or
    `duration`, where the page is cut anyway), checked from its header before decoding."""
    from polyptt import audio
    from polyptt.audio.files import SEND_MAX_S

    try:
        return audio.load_page(
            file,
            codec,
            frame_ms,
            repeat=repeat,
            gap_s=gap,
            gain_db=gain,
            max_s=SEND_MAX_S,
            duration_s=duration,
        )
    except audio.AudioError as exc:
        raise click.BadParameter(str(exc), param_hint="FILE") from None


class _LiveInput(Protocol):
    frames: LiveFrames

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class _Live:
    """A live source opened before the page: started at the first alert, closed after."""

    input: _LiveInput
    frames: LiveFrames
    closers: list[Callable[[], None]]

    def close(self) -> None:
        self.input.stop()
        for closer in self.closers:
            closer()
        self.closers.clear()


def _open_live(
    file: str | None,
    codec: str,
    frame_ms: int,
    gain: float,
    raw_rate: int | None,
    input_device: str | None,
    keep_pauses: bool,
) -> _Live:
    """The microphone or the raw pipe, opened and checked (not yet capturing)."""
    from polyptt.audio import AudioError, live

    if raw_rate is None:
        try:
            microphone = live.Microphone(
                codec,
                frame_ms,
                device=live.parse_device(input_device),
                gain_db=gain,
                catch_up=not keep_pauses,
            )
        except live.DeviceError as exc:
            raise options.device_error(exc, "--input-device", input_device) from None
        return _Live(microphone, microphone.frames, [microphone.close])
    assert file is not None
    if file == "-":
        stream: Any = click.get_binary_stream("stdin")
        closers: list[Callable[[], None]] = []
    else:
        try:
            stream = Path(file).open("rb")  # noqa: SIM115 - closed with the page
        except OSError as exc:
            raise click.BadParameter(f"{file}: {exc.strerror or exc}", param_hint="FILE") from None
        closers = [stream.close]
    name = "standard input" if file == "-" else file
    reader = live.RawReader(stream, raw_rate, codec, frame_ms, gain_db=gain, name=name)
    try:
        reader.wait_for_audio()  # the alerts wait for the first audio
    except AudioError as exc:
        for closer in closers:
            closer()
        raise click.BadParameter(str(exc), param_hint="FILE") from None
    return _Live(reader, reader.frames, closers)


def _open_sink(
    destination: Destination,
    interface: str | None,
    ttl: int,
    pcap: Path | None,
    source_port: int | None,
    console: Console,
) -> tuple[Any, Any]:
    """The sink the page goes to and the function that closes it."""
    if pcap is not None:
        import time

        from polyptt.pcap import PcapSink, PcapWriter
        from polyptt.transport import source_address

        try:
            writer = PcapWriter.open(pcap)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot write {pcap}: {exc.strerror or exc}", param_hint="'--pcap'"
            ) from None
        source = source_address(destination, interface, source_port)
        sink = PcapSink(
            writer, source, (destination.address, destination.port), time.time_ns(), ttl=ttl
        )
        return sink, writer.close
    from polyptt.transport import NetworkError, UdpSink

    try:
        udp = UdpSink(destination, interface=interface, ttl=ttl, source_port=source_port)
    except NetworkError as exc:
        raise options.NetworkFailure(str(exc)) from None
    if udp.warning:
        console.warn(udp.warning)
    return udp, udp.close


def _run_page(
    source: FrameSource | list[bytes],
    *,
    console: Console,
    codec_name: str,
    total_frames: int | None,
    live: _Live | None,
    capture: Path | None,
    **page: Any,
) -> tuple[PageReport, int, str | None]:
    """Send the page; returns its report, the exit status and an error message.

    The status line is drawn at a terminal while a page goes out in real time; a file
    written to `capture` takes no time, and is drawn only while live audio arrives.
    """
    from polyptt import protocol
    from polyptt.send import PageReport, page_length, send_page
    from polyptt.transport import NetworkError

    label = f"channel {protocol.format_channel(page['channel'])} ({page['channel']}), {codec_name}"
    if total_frames is not None:
        total = f" / {page_length(total_frames, page['frame_ms']):.1f}"
        hint = ""
    else:
        total, hint = "", "  (Ctrl-C to end)"

    doing = "paging" if capture is None else f"writing {capture}"

    def progress(report: PageReport) -> None:
        console.status(f"{doing} {report.offset:5.1f}{total} s  {label}{hint}")

    report = PageReport()
    if live is not None:  # capture from the first alert: nothing said is lost
        live.input.start()
    try:
        # the status line is drawn only at a terminal: no formatting per packet from cron
        waits = capture is None or live is not None
        shown = progress if console.interactive and waits else None
        send_page(
            source,
            progress=shown,
            report=report,
            on_first_signal=live.input.stop if live is not None else None,
            **page,
        )
    except NetworkError as exc:
        return report, options.EXIT_NETWORK, str(exc)
    status = EXIT_OK if report.interrupted is None else 128 + report.interrupted
    return report, status, None


def _report_fields(report: PageReport) -> dict[str, Any]:
    return {
        "packets": report.packets,
        "alerts": report.alerts,
        "transmits": report.transmits,
        "ends": report.ends,
        "start_count": report.start_count,
        "last_count": report.last_count,
        "page_s": round(report.offset, 3),
        "elapsed_s": round(report.elapsed, 3),
        "max_late_ms": round(report.max_late * 1000, 3),
        "realtime": report.realtime,
        "interrupted": _signal_name(report.interrupted),
    }


def _signal_name(signum: int | None) -> str | None:
    if signum is None:
        return None
    import signal

    return signal.Signals(signum).name
