"""The send job: what ``polyptt send`` does, for a program as much as for the command.

A :class:`SendJob` says what to page (a file, the microphone or raw PCM from a pipe), how
(channel, codec, frame length, repeats, gain) and where (a multicast group or a phone,
or a capture file); :func:`run` sends it and returns a :class:`SendResult`, whose
``summary`` is what ``send --json`` prints::

    from polyptt.send.job import SendJob, run

    result = run(SendJob(file="chime.wav", channel=27, codec="g711u"))
    print(result.status, result.summary["transmits"])

Everything that can fail on bad input (the file, resampling, encoding, the audio device,
the interface, the socket, the capture file) is done before the first packet, so a page
either does not start (:class:`~polyptt.errors.BadInput`,
:class:`~polyptt.transport.NetworkError`) or runs to its end packets. A live source
starts capturing with the first alert, so nothing said while the alerts go out is lost
(a raw stream's first bytes are awaited and checked before it, `polyptt.audio.sniff`);
the first SIGINT/SIGTERM stops it and what was said is still sent. Heavy modules are
imported when a job runs: a page from cron reaches its first alert quickly.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from polyptt.console import Console
from polyptt.errors import BadInput, device_refusal
from polyptt.protocol import CodecId, format_channel
from polyptt.send.schedule import PageParams
from polyptt.transport import DEFAULT_DESTINATION, DEFAULT_TTL, Destination, parse_destination

if TYPE_CHECKING:
    from polyptt.audio import PageAudio
    from polyptt.audio.live import LiveFrames
    from polyptt.audio.speech import Speaking
    from polyptt.send import FrameSource, PageReport, Sink

__all__ = ["SendJob", "SendResult", "run", "wire_codec"]

EXIT_OK = 0
EXIT_NETWORK = 1


def wire_codec(codec: str, frame_ms: int) -> CodecId:
    """The wire id of `codec`, checked for a page of `frame_ms` frames (the codec
    table's rules, `polyptt.codecs.CodecInfo.frame_ms_refusal`: G.726QI in 30 ms only).

    Raises
    ------
    BadInput
        For a codec phones do not page with, or a frame length it is not sent in.
    """
    from polyptt import codecs

    try:
        wire_id = codecs.wire_id(codec)
    except ValueError as exc:
        raise BadInput(str(exc), "--codec") from None
    refusal = codecs.info(codec).frame_ms_refusal(frame_ms)
    if refusal is not None:
        raise BadInput(f"--codec {refusal}")
    return wire_id


@dataclass(frozen=True)
class SendJob:
    """One page to send. The fields are ``polyptt send``'s options (see its ``--help``).

    The audio is `file` (any format libsndfile reads; ``"-"`` is standard input), or the
    microphone (`mic`, `input_device`), or raw PCM16LE mono at `raw_rate` read from
    `file` as it arrives, or the text `say` spoken (`polyptt.audio.speech`: `tts_engine`,
    `voice`, `rate_wpm`; after the bundled chime with `chime`), synthesized before the
    first alert. `serial` and `caller_id` default to this host's
    (`polyptt.host`); `pcap` writes the page to a capture file instead of the network.
    """

    file: str | None = None
    mic: bool = False
    raw_rate: int | None = None
    say: str | None = None
    chime: bool = False
    tts_engine: str = "espeak-ng"
    voice: str | None = None
    rate_wpm: int | None = None
    input_device: str | None = None
    keep_pauses: bool = False
    channel: int = 26
    codec: str = "g722"
    frame_ms: int = 30
    repeat: int = 1
    gap: float = 1.0
    gain: float = 0.0
    duration: float | None = None
    caller_id: str | None = None
    serial: int | None = None
    destination: Destination = field(
        default_factory=functools.partial(parse_destination, DEFAULT_DESTINATION)
    )
    interface: str | None = None
    ttl: int = DEFAULT_TTL
    source_port: int | None = None
    pcap: Path | None = None
    realtime: bool = True
    start_count: int | None = None

    @property
    def live(self) -> bool:
        """True if the audio is captured while the page runs (microphone or raw PCM)."""
        return self.mic or self.raw_rate is not None

    @property
    def source_name(self) -> str:
        """``"microphone"``, ``"raw"``, ``"speech"`` or ``"file"``, as the summary names
        the source."""
        if self.say is not None:
            return "speech"
        return "microphone" if self.mic else "raw" if self.raw_rate is not None else "file"


@dataclass
class SendResult:
    """How a page went.

    Attributes
    ----------
    status : int
        0 sent, 1 the network failed during the page, 128 + the signal that ended it.
    summary : dict
        What ``send --json`` prints: the page's settings and counts.
    report : PageReport
        The pacer's own counts.
    """

    status: int
    summary: dict[str, Any]
    report: PageReport


class _LiveInput(Protocol):
    frames: LiveFrames

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class _Live:
    """A live source opened before the page: started at the first alert, closed after."""

    input: _LiveInput
    closers: list[Callable[[], None]]

    @property
    def frames(self) -> LiveFrames:
        return self.input.frames

    def close(self) -> None:
        self.input.stop()
        for closer in self.closers:
            closer()
        self.closers.clear()


@dataclass
class _Audio:
    """The page's frames: all of a file's, or a live source asked for each when due."""

    frames: FrameSource | list[bytes]
    live: _Live | None
    page_audio: PageAudio | None
    total_frames: int | None

    @property
    def clipped(self) -> int:
        if self.live is not None:
            return self.live.frames.framer.clipped
        assert self.page_audio is not None
        return self.page_audio.clipped

    def close(self) -> None:
        if self.live is not None:
            self.live.close()


def run(job: SendJob, console: Console | None = None) -> SendResult:
    """Send `job`'s page, blocking until its end packets are out.

    `console` is told what happens (a clipped signal, a status line at a terminal, the
    outcome); by default warnings and errors go to stderr.

    Raises
    ------
    BadInput
        For audio, a device or a capture file that cannot be used; nothing was sent.
    NetworkError
        If the socket cannot be set up; nothing was sent.
    """
    from polyptt import codecs, host

    console = console if console is not None else Console()
    speaking = _begin_speech(job)  # spoken while the rest is made ready
    codec = wire_codec(job.codec, job.frame_ms)
    caller_id, serial = host.sender_identity(job.caller_id, job.serial, console.warn)
    destination = job.destination
    audio = _open_audio(job, speaking)
    if audio.page_audio is not None and audio.clipped:
        console.warn(f"{audio.clipped} samples clipped at full scale; lower --gain")
    try:
        sink, closer = _open_sink(job, destination, console)
    except BaseException:
        audio.close()
        raise
    summary: dict[str, Any] = {
        "channel": job.channel,
        "channel_name": format_channel(job.channel),
        "codec": job.codec,
        "frame_ms": job.frame_ms,
        "source": job.source_name,
        "frame_bytes": codecs.info(job.codec).frame_bytes(job.frame_ms),
        "caller_id": caller_id,
        "serial": f"0x{serial:08X}",
        "destination": str(destination),
        "ttl": job.ttl,
        "pcap": str(job.pcap) if job.pcap else None,
    }
    try:
        params = PageParams(
            job.channel, serial, caller_id, codec, job.frame_ms, job.start_count, _max_frames(job)
        )
        report, status, error = _run_page(job, params, audio, sink, console)
    finally:
        closer()
        audio.close()
    _finish(job, audio, report, summary, status, error, console)
    return SendResult(status, summary, report)


def _finish(
    job: SendJob,
    audio: _Audio,
    report: PageReport,
    summary: dict[str, Any],
    status: int,
    error: str | None,
    console: Console,
) -> None:
    """Complete the summary and tell `console` how the page went."""
    console.clear_status()
    audio_s = report.transmits * job.frame_ms / 1000
    if audio.live is not None and audio.clipped:
        console.warn(f"{audio.clipped} samples clipped at full scale; lower --gain")
    summary.update(frames=report.transmits, audio_s=round(audio_s, 3))
    summary.update(clipped_samples=audio.clipped, **report_fields(report), exit_status=status)
    if error:
        summary["error"] = error
        console.error(error)
    elif status != EXIT_OK and audio.live is None:
        console.warn(f"interrupted; the page was ended after {summary['page_s']} s")
    elif job.pcap is not None:
        console.done(
            f"{job.pcap}: channel {summary['channel_name']} ({job.channel}), {job.codec} "
            f"{job.frame_ms} ms, {report.describe(job.frame_ms)}"
        )
    else:
        console.info(
            f"sent {report.transmits} frames ({audio_s:.1f} s of {job.codec}) on channel "
            f"{job.channel} to {summary['destination']}"
        )


def _begin_speech(job: SendJob) -> Speaking | None:
    """`say` being spoken (`polyptt.audio.speech.begin`), or None for other audio."""
    if job.say is None:
        return None
    if job.live or job.file is not None:
        raise BadInput("--say takes no FILE, --mic or --raw")
    from polyptt.audio.speech import Voice, begin

    return begin(job.say, Voice(job.tts_engine, job.voice, job.rate_wpm), chime=job.chime)


def _open_audio(job: SendJob, speaking: Speaking | None = None) -> _Audio:
    """The page's audio, opened and checked (a live source is not yet capturing)."""
    if job.live:
        live = _open_live(job)
        total = None
        audio = _Audio(live.frames, live, None, None)
    else:
        page_audio = _load_speech(job, speaking) if speaking is not None else _load_file(job)
        total = len(page_audio.frames)
        audio = _Audio(page_audio.frames, None, page_audio, total)
    limit = _max_frames(job)
    if total is not None and limit is not None:
        audio.total_frames = min(total, limit)
    return audio


def _max_frames(job: SendJob) -> int | None:
    """`duration` in frames (at least one), or None for all of the audio."""
    if job.duration is None:
        return None
    return max(1, math.ceil(job.duration * 1000 / job.frame_ms))


def _load_file(job: SendJob) -> PageAudio:
    """The whole file, encoded, before anything is sent; at most ten minutes of it (or
    `duration`, where the page is cut anyway), checked from its header before decoding."""
    from polyptt import audio

    if job.file is None:
        raise BadInput("no audio: give a file, mic or raw_rate")
    from polyptt.audio.files import SEND_MAX_S, shaping

    try:
        return audio.load_page(job.file, job.codec, job.frame_ms, **shaping(job, SEND_MAX_S))
    except audio.AudioError as exc:
        raise BadInput(str(exc), "FILE") from None


def _load_speech(job: SendJob, speaking: Speaking) -> PageAudio:
    """`say` spoken and encoded before anything is sent, within the ten minutes a file
    may last (`polyptt.audio.speech`: no engine, an empty text or a bad voice refused)."""
    from polyptt.audio.files import SEND_MAX_S, AudioError, pcm_page, shaping

    pcm, rate = speaking.result()
    try:
        options = shaping(job, SEND_MAX_S)
        return pcm_page(pcm, rate, job.codec, job.frame_ms, name="the speech", **options)
    except AudioError as exc:
        raise BadInput(str(exc), "--say") from None


def _open_live(job: SendJob) -> _Live:
    """The microphone or the raw pipe, opened and checked (not yet capturing; a raw
    stream's first bytes are awaited and checked, `polyptt.audio.sniff`)."""
    from polyptt.audio import AudioError, live

    if job.raw_rate is None:
        try:
            microphone = live.Microphone(
                job.codec,
                job.frame_ms,
                device=live.parse_device(job.input_device),
                gain_db=job.gain,
                catch_up=not job.keep_pauses,
            )
        except live.DeviceError as exc:
            raise device_refusal(str(exc), "--input-device", job.input_device) from None
        return _Live(microphone, [microphone.close])
    stream, closers = open_input(job.file)
    name = "standard input" if job.file == "-" else str(job.file)
    reader = live.RawReader(
        stream, job.raw_rate, job.codec, job.frame_ms, gain_db=job.gain, name=name
    )
    try:
        reader.wait_for_audio()  # the alerts wait for the first audio
    except AudioError as exc:
        for closer in closers:
            closer()
        raise BadInput(str(exc), "FILE") from None
    return _Live(reader, closers)


def open_input(file: str | None) -> tuple[Any, list[Callable[[], None]]]:
    """`file` opened for reading raw audio (``"-"``: standard input), and its closers.

    Raises
    ------
    BadInput
        If it cannot be opened (``FILE``).
    """
    if file is None:
        raise BadInput("raw audio needs a file (- for standard input)", "FILE")
    if file == "-":
        return sys.stdin.buffer, []
    try:
        stream = Path(file).open("rb")  # noqa: SIM115 - closed with the page
    except OSError as exc:
        raise BadInput(f"{file}: {exc.strerror or exc}", "FILE") from None
    return stream, [stream.close]


def _open_sink(
    job: SendJob, destination: Destination, console: Console
) -> tuple[Sink, Callable[[], None]]:
    """The sink the page goes to (the network, or a capture file) and its closer."""
    if job.pcap is not None:
        import time

        from polyptt.pcap import PcapSink, PcapWriter
        from polyptt.transport import source_address

        try:
            writer = PcapWriter.open(job.pcap)
        except OSError as exc:
            raise BadInput(f"cannot write {job.pcap}: {exc.strerror or exc}", "--pcap") from None
        source = source_address(destination, job.interface, job.source_port)
        target = (destination.address, destination.port)
        return PcapSink(writer, source, target, time.time_ns(), ttl=job.ttl), writer.close
    from polyptt.transport import UdpSink

    udp = UdpSink(destination, interface=job.interface, ttl=job.ttl, source_port=job.source_port)
    if udp.warning:
        console.warn(udp.warning)
    return udp, udp.close


def _run_page(
    job: SendJob, params: PageParams, audio: _Audio, sink: Sink, console: Console
) -> tuple[PageReport, int, str | None]:
    """Send the page; returns its report, the exit status and an error message."""
    from polyptt.send import PageReport, send_page
    from polyptt.transport import NetworkError

    report = PageReport()
    live = audio.live
    if live is not None:  # capture from the first alert: nothing said is lost
        live.input.start()
    try:
        send_page(
            audio.frames,
            params,
            sink=sink,
            realtime=job.realtime,
            progress=_progress(job, audio, console),
            report=report,
            on_first_signal=live.input.stop if live is not None else None,
        )
    except NetworkError as exc:
        return report, EXIT_NETWORK, str(exc)
    status = EXIT_OK if report.interrupted is None else 128 + report.interrupted
    return report, status, None


def _progress(job: SendJob, audio: _Audio, console: Console) -> Callable[[PageReport], None] | None:
    """The status line's update: how far the page is (of how long, for a file).

    It is drawn only at a terminal (no formatting per packet from cron), and only while
    the page takes time: on the wire, or into a capture while live audio arrives (a
    file written to a capture takes none).
    """
    from polyptt.send import page_length

    if not console.interactive or (job.pcap is not None and audio.live is None):
        return None
    label = f"channel {format_channel(job.channel)} ({job.channel}), {job.codec}"
    if audio.total_frames is not None:
        total = f" / {page_length(audio.total_frames, job.frame_ms):.1f}"
        hint = ""
    else:
        total, hint = "", "  (Ctrl-C to end)"
    doing = "paging" if job.pcap is None else f"writing {job.pcap}"

    def progress(report: PageReport) -> None:
        console.status(f"{doing} {report.offset:5.1f}{total} s  {label}{hint}")

    return progress


def report_fields(report: PageReport) -> dict[str, Any]:
    """The pacer's counts as the summary names them."""
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
