"""``polyptt send``: page the phones with an audio file.

Everything that can fail on bad input (options, the file, resampling, encoding, name
resolution, the interface, the socket) is done before the first packet, so a page
either does not start or runs to its end packets. Heavy modules are imported inside the
command: ``polyptt --help`` stays instant and a page from cron reaches its first alert
quickly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from polyptt.cli import options
from polyptt.cli.console import Console

if TYPE_CHECKING:
    from polyptt.sender import PageReport
    from polyptt.transport import Destination

__all__ = ["send"]

#: Codecs phones page with, in the order ``--help`` lists them.
WIRE_CODECS = ("g722", "g711u", "g726qi")

EXIT_OK = 0


def _check_frame_ms(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    if value % 10:
        raise click.BadParameter(f"{value} is not a multiple of 10 (10, 20, ... 80)")
    return value


@click.command(cls=options.OneLineCommand)
@click.argument("file", metavar="FILE")
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
    type=click.Choice(WIRE_CODECS),
    default="g722",
    show_default=True,
    show_envvar=True,
    help="g722: wideband (most phones); g711u: narrowband; g726qi: SoundPoint IP 450/550.",
)
@options.caller_id_option
@options.serial_option
@options.to_option
@options.iface_option
@options.ttl_option
@click.option(
    "--frame-ms",
    type=click.IntRange(10, 80),
    default=30,
    show_default=True,
    show_envvar=True,
    callback=_check_frame_ms,
    metavar="MS",
    help="Audio per packet in milliseconds, 10-80 in steps of 10.",
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
def send(file: str, **kwargs: Any) -> None:
    """Page the phones with an audio FILE ("-" reads standard input).

    Any format libsndfile reads (WAV, FLAC, Ogg, MP3...) at any rate and channel count:
    it is mixed to mono and resampled to the codec's rate. The page starts with 31 alerts
    (the phones chirp), plays the audio and ends; Ctrl-C ends it early but cleanly.

    Exit status: 0 sent, 1 network failure, 2 bad usage or input, 130/143 interrupted
    by SIGINT/SIGTERM (the page was still ended properly).
    """
    verbosity = -1 if kwargs["quiet"] else kwargs["verbose"]
    console = Console(verbosity)
    try:
        status = _send(file, console=console, **kwargs)
    except KeyboardInterrupt:  # before the page started: nothing was sent
        console.clear_status()
        status = 130
    click.get_current_context().exit(status)


def _send(
    file: str,
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
    **_: Any,
) -> int:
    from polyptt import protocol

    caller_id = _caller_id(caller_id, console)
    if serial is None:
        serial = protocol.serial_from_mac()
    frames, codec_info, clipped, duration = _load_frames(file, codec, frame_ms, repeat, gap, gain)
    if clipped:
        console.warn(f"{clipped} samples clipped at full scale; lower --gain")

    sink, closer = _open_sink(destination, interface, ttl, pcap)
    summary: dict[str, Any] = {
        "channel": channel,
        "channel_name": protocol.format_channel(channel),
        "codec": codec,
        "frame_ms": frame_ms,
        "frames": len(frames),
        "frame_bytes": codec_info.frame_bytes(frame_ms),
        "audio_s": round(duration, 3),
        "caller_id": caller_id,
        "serial": f"0x{serial:08X}",
        "destination": str(destination),
        "ttl": ttl,
        "pcap": str(pcap) if pcap else None,
        "clipped_samples": clipped,
    }
    try:
        report, status, error = _run_page(
            frames,
            sink=sink,
            console=console,
            channel=channel,
            serial=serial,
            caller_id=caller_id,
            codec=protocol.CodecId(codec_info.wire_id),
            codec_name=codec,
            frame_ms=frame_ms,
            start_count=start_count,
            realtime=realtime,
        )
    finally:
        closer()
    console.clear_status()
    summary.update(_report_fields(report))
    summary["exit_status"] = status
    if error:
        summary["error"] = error
        console.error(error)
    elif status != EXIT_OK:
        console.warn(f"interrupted; the page was ended after {summary['page_s']} s")
    else:
        console.info(
            f"sent {len(frames)} frames ({duration:.1f} s of {codec}) on channel "
            f"{channel} to {'capture ' + str(pcap) if pcap else destination}"
        )
    if as_json:
        import json

        click.echo(json.dumps(summary, indent=2))
    return status


def _caller_id(text: str | None, console: Console) -> str:
    """The caller id phones will show; a long --caller-id is cut with a warning, the
    default (this host's short name) silently, so a cron job does not mail about it."""
    from polyptt.protocol import fit_caller_id

    if text is None:
        import socket

        return fit_caller_id(socket.gethostname().split(".")[0].replace("\0", ""))[0]
    try:
        fitted, was_cut = fit_caller_id(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--caller-id'") from None
    if was_cut:
        console.warn(f"caller id {text!r} is longer than 13 bytes; phones will show {fitted!r}")
    return fitted


def _load_frames(
    file: str, codec: str, frame_ms: int, repeat: int, gap: float, gain: float
) -> tuple[list[bytes], Any, int, float]:
    """The page's encoded frames, the codec's info, clipped samples, audio seconds."""
    from polyptt import audio, codecs

    info = codecs.info(codec)
    try:
        loaded = audio.load(file, info.sample_rate, gain_db=gain)
    except audio.AudioError as exc:
        raise click.BadParameter(str(exc), param_hint="FILE") from None
    frame_samples = info.frame_samples(frame_ms)
    signal = audio.arrange(
        loaded.pcm, frame_samples, repeat=repeat, gap_samples=round(gap * info.sample_rate)
    )
    data = codecs.encode(codec, signal)
    size = info.frame_bytes(frame_ms)
    frames = [data[i : i + size] for i in range(0, len(data), size)]
    return frames, info, loaded.clipped, len(signal) / info.sample_rate


def _open_sink(
    destination: Destination, interface: str | None, ttl: int, pcap: Path | None
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
        source = source_address(destination, interface)
        sink = PcapSink(
            writer, source, (destination.address, destination.port), time.time_ns(), ttl=ttl
        )
        return sink, writer.close
    from polyptt.transport import NetworkError, UdpSink

    try:
        udp = UdpSink(destination, interface=interface, ttl=ttl)
    except NetworkError as exc:
        raise options.NetworkFailure(str(exc)) from None
    return udp, udp.close


def _run_page(
    frames: list[bytes], *, console: Console, codec_name: str, **page: Any
) -> tuple[PageReport, int, str | None]:
    """Send the page; returns its report, the exit status and an error message."""
    from polyptt import protocol, sender
    from polyptt.transport import NetworkError

    frame_ms = page["frame_ms"]
    total = (
        sender.transmit_offset(max(len(frames) - 1, 0), frame_ms)
        + protocol.END_PAUSE_S
        + (protocol.END_COUNT - 1) * protocol.END_INTERVAL_S
    )
    label = f"channel {protocol.format_channel(page['channel'])} ({page['channel']}), {codec_name}"

    def progress(report: PageReport) -> None:
        console.status(f"paging {report.offset:5.1f} / {total:.1f} s  {label}")

    report = sender.PageReport()
    try:
        # the status line is drawn only at a terminal: no formatting per packet from cron
        shown = progress if console.interactive else None
        sender.send_page(frames, progress=shown, report=report, **page)
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
