"""The loop job: what ``polyptt loop`` does, from its settings to the walkie-talkie.

:func:`run` opens everything that can fail on bad input (the microphone, the speaker,
the recording directory, the sockets) before the terminal is switched to raw keys, so an
error is one line on a terminal left as it was; then it runs `polyptt.loop.app.LoopApp`
until the user quits or a signal arrives, and says what was talked.

Decision: the talk channel is always listened to, whatever `LoopJob.channels` says,
since its pages decide whether the channel is busy and who wins a contention.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyptt.console import Console
from polyptt.errors import BadInput, device_refusal
from polyptt.transport import DEFAULT_DESTINATION, DEFAULT_TTL, Destination, parse_destination

if TYPE_CHECKING:
    import socket

    from polyptt.audio.live import Capture, Microphone
    from polyptt.audio.playback import Player
    from polyptt.loop.app import TalkSettings
    from polyptt.loop.vox import VoxInput
    from polyptt.send import PageReport
    from polyptt.transport import UdpSink

__all__ = ["LoopJob", "run"]


@dataclass(frozen=True)
class LoopJob:
    """The walkie-talkie's settings (``polyptt loop``'s options; see its ``--help``)."""

    channel: int = 26
    channels: frozenset[int] | None = None
    codec: str = "g722"
    caller_id: str | None = None
    serial: int | None = None
    destination: Destination = field(
        default_factory=functools.partial(parse_destination, DEFAULT_DESTINATION)
    )
    interface: str | None = None
    ttl: int = DEFAULT_TTL
    frame_ms: int = 30
    input_device: str | None = None
    output_device: str | None = None
    record: Path | None = None
    hold: bool = False
    max_talk: float = 120.0
    full_duplex: bool = False
    gain: float = 0.0
    vox_db: float | None = None
    keep_pauses: bool = False


class _Microphones:
    """Opens the microphone for each talk (and the VOX stream), as the job says."""

    def __init__(self, job: LoopJob) -> None:
        from polyptt.audio.live import parse_device

        self.job = job
        self.device = parse_device(job.input_device)

    def talk(self, monitor: Any) -> Microphone:
        from polyptt.audio.live import Microphone

        job = self.job
        return Microphone(
            job.codec,
            job.frame_ms,
            device=self.device,
            gain_db=job.gain,
            catch_up=not job.keep_pauses,
            monitor=monitor,
        )

    def vox_stream(self, on_block: Any) -> Capture:
        from polyptt import codecs
        from polyptt.audio.live import Capture, Microphone

        rate = codecs.info(self.job.codec).sample_rate
        return Capture(rate, on_block, device=self.device, block_s=Microphone.BLOCK_S)

    def check(self) -> VoxInput | None:
        """Open the microphone once now, so that a wrong device is a one-line error before
        anything starts; the VOX input if `vox_db` asks for one."""
        from polyptt.audio.live import DeviceError
        from polyptt.loop.vox import VoxInput

        job = self.job
        try:
            self.talk(None).close()
            if job.vox_db is None:
                return None
            catch_up = not job.keep_pauses
            return VoxInput(self.vox_stream, job.codec, job.frame_ms, job.gain, catch_up=catch_up)
        except DeviceError as exc:
            raise device_refusal(str(exc), "--input-device", job.input_device) from None


def _player(device: str | None, console: Console) -> Player | None:
    from polyptt.audio.live import parse_device
    from polyptt.audio.playback import PlaybackUnavailable, Player

    try:
        return Player.open(parse_device(device))
    except PlaybackUnavailable as exc:
        if device is not None:
            raise BadInput(str(exc), "--output-device") from None
        console.warn(f"{exc}; not playing, still talking and recording")
        return None


def _network(
    destination: Destination, interface: str | None, ttl: int, console: Console
) -> tuple[list[socket.socket], UdpSink]:
    """The sockets pages are heard on, and the sink talk goes to."""
    import ipaddress

    from polyptt.protocol import DEFAULT_GROUP
    from polyptt.receive.inbound import Endpoint, open_sockets
    from polyptt.transport import NetworkError, UdpSink

    # pages are heard where they are sent: the group, or the default one for unicast
    multicast = ipaddress.ip_address(destination.address).is_multicast
    endpoint = Endpoint(destination.address if multicast else DEFAULT_GROUP, destination.port)
    try:
        sockets = open_sockets([endpoint], interface)
    except OSError as exc:
        raise NetworkError(f"cannot listen on {endpoint}: {exc.strerror or exc}") from None
    try:
        sink = UdpSink(destination, interface=interface, ttl=ttl)
    except NetworkError:
        for sock in sockets:
            sock.close()
        raise
    if sink.warning:
        console.warn(sink.warning)
    return sockets, sink


def run(job: LoopJob, console: Console | None = None) -> int:
    """Run the walkie-talkie on this process's terminal; the exit status.

    0 quit with q, 1 a recording could not be written, 128 + the signal that ended it.

    Raises
    ------
    BadInput
        For a device or a recording directory that cannot be used.
    NetworkError
        If the sockets cannot be set up.
    """
    from polyptt import host
    from polyptt.loop.app import TalkSettings
    from polyptt.receive.job import open_recorder
    from polyptt.send.job import wire_codec

    console = console if console is not None else Console()
    wire_codec(job.codec, job.frame_ms)
    caller_id, serial = host.sender_identity(job.caller_id, job.serial, console.warn)
    talk = TalkSettings(job.codec, job.frame_ms, caller_id, serial, job.max_talk)
    microphones = _Microphones(job)
    vox_input = microphones.check()
    player = _player(job.output_device, console)
    recorder = None if job.record is None else open_recorder(job.record, console)
    sockets, sink = _network(job.destination, job.interface, job.ttl, console)
    parts = {"recorder": recorder, "vox_input": vox_input, "sink": sink, "sockets": sockets}
    try:
        status, reports = _run_app(job, talk, microphones, player, parts)
    finally:
        sink.close()
        for sock in sockets:
            sock.close()
        if player is not None:
            player.close(wait=False)
    for report in reports:
        console.info(
            f"talked: {report.transmits} frames ({report.transmits * job.frame_ms / 1000:.1f} s), "
            f"{report.alerts} alerts, {report.ends} ends"
        )
    if recorder is not None and recorder.failures and status == 0:
        return 1
    return status


def _run_app(
    job: LoopJob,
    talk: TalkSettings,
    microphones: _Microphones,
    player: Player | None,
    parts: dict[str, Any],
) -> tuple[int, list[PageReport]]:
    """The walkie-talkie on raw keys until it quits: its status and what was talked."""
    import asyncio

    from polyptt.loop.app import LoopApp
    from polyptt.loop.keys import RawTerminal
    from polyptt.loop.panel import Screen
    from polyptt.loop.state import LoopState, VoxGate

    state = LoopState(job.channel, talk.serial, full_duplex=job.full_duplex)
    stdout = sys.stdout
    with RawTerminal(sys.stdin.fileno(), stdout) as terminal:
        app = LoopApp(
            state=state,
            talk=talk,
            terminal=terminal,
            screen=Screen(stdout),
            open_microphone=microphones.talk,
            player=player,
            channels=job.channels,
            hold=job.hold,
            vox=None if job.vox_db is None else VoxGate(job.vox_db),
            **parts,
        )
        return asyncio.run(app.run()), app.reports
