"""The bridge's event loop: sockets, the pacer, the receiver and the clock of every mapping.

`serve` opens everything first (a socket that cannot be opened fails the run before a
packet is sent), then reads each RTP mapping's RTP and RTCP sockets on the loop, runs the
Poly receiver for the mappings that carry pages to RTP, applies the clock every
`TICK_S`, and on SIGINT/SIGTERM ends what is in progress: pages from
RTP stop at once with their end packets, RTP streams end with their BYE.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from typing import Any

from polyptt.bridge.config import BridgeJob, Mapping
from polyptt.bridge.marks import marked
from polyptt.bridge.poly_to_rtp import PolyToRtp, RtpTarget
from polyptt.bridge.rtp_to_poly import PageTarget, RtpToPoly
from polyptt.receive.driver import COALESCE_PLAYING_S
from polyptt.receive.inbound import open_sockets, serve_async
from polyptt.receive.receiver import Receiver
from polyptt.send import PacerThread
from polyptt.transport import Destination, NetworkError, UdpSink

__all__ = ["Bridge", "serve"]

_MAX_DATAGRAM = 65535
#: How often the clock is applied (jitter deadlines, idle streams, sender reports).
TICK_S = 0.01


class Bridge:
    """Every mapping of a job, opened; `start` puts them to work on the running loop."""

    def __init__(self, job: BridgeJob, emit: Callable[[dict[str, Any]], None]) -> None:
        from polyptt.host import sender_identity

        self.job = job
        caller_id, serial = sender_identity(job.caller_id, job.serial, lambda _text: None)
        self.serial = marked(serial)
        self.pacer = PacerThread()
        self.sockets: list[socket.socket] = []
        self.sinks: list[UdpSink] = []
        self.ingress: list[tuple[RtpToPoly, socket.socket, socket.socket]] = []
        self.egress: PolyToRtp | None = None
        self.receiver: Receiver | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._stop = asyncio.Event()
        try:
            self._open(job, caller_id, emit)
        except OSError as exc:
            self.close_sockets()
            if isinstance(exc, NetworkError):
                raise
            raise NetworkError(f"cannot open the bridge's sockets: {exc.strerror or exc}") from None

    def _open(self, job: BridgeJob, caller_id: str, emit: Callable[[dict[str, Any]], None]) -> None:
        poly_sink: UdpSink | None = None
        targets: list[RtpTarget] = []
        for number, each in enumerate(job.mappings, 1):

            def tagged(event: dict[str, Any], number: int = number) -> None:
                emit({"mapping": number, **event})

            if each.to_poly:
                if poly_sink is None:
                    poly_sink = self._sink(job.destination, None)
                rtp, rtcp = self._rtp_sockets(each)
                target = PageTarget(
                    each.channel,
                    self.serial,
                    each.caller_id or caller_id,
                    each.codec,
                    each.frame_ms,
                    idle_s=each.idle_ms / 1000,
                    dynamic=each.rtp_format if each.rtp_format.payload_type >= 96 else None,
                )
                self.ingress.append((RtpToPoly(target, self.pacer, poly_sink, tagged), rtp, rtcp))
            if each.to_rtp:
                targets.append(
                    RtpTarget(
                        each.channel,
                        self._sink(each.rtp, 0),
                        self._sink(_rtcp(each), 0),
                        each.rtp_format,
                        each.rtp_ptime,
                    )
                )
        if targets:
            self.egress = PolyToRtp(targets, lambda event: emit(_numbered(job, event)))
            channels = {target.channel for target in targets}
            self.receiver = Receiver([self.egress], channels=channels)
            self.receiver.ignore(self.serial)  # our own pages, heard back
            self.poly_sockets = open_sockets([job.destination], job.interface)
            self.sockets += self.poly_sockets

    def _sink(self, to: Destination, source_port: int | None) -> UdpSink:
        sink = UdpSink(to, interface=self.job.interface, ttl=self.job.ttl, source_port=source_port)
        self.sinks.append(sink)
        return sink

    def _rtp_sockets(self, each: Mapping) -> tuple[socket.socket, socket.socket]:
        opened = open_sockets([each.rtp, _rtcp(each)], self.job.interface)
        self.sockets += opened
        return opened[0], opened[1]

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for ingress, rtp, rtcp in self.ingress:
            loop.add_reader(rtp, _drain, rtp, ingress.datagram)
            loop.add_reader(rtcp, _drain, rtcp, ingress.control)
        if self.receiver is not None:
            reading = serve_async(
                self.poly_sockets, self.receiver, stop=self._stop, coalesce_s=COALESCE_PLAYING_S
            )
            self._tasks.append(asyncio.create_task(reading))
        self._tasks.append(asyncio.create_task(self._tick()))

    async def _tick(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for ingress, _rtp, _rtcp in self.ingress:
                ingress.tick(now)
            if self.egress is not None:
                self.egress.tick()
            await asyncio.sleep(TICK_S)

    async def stop(self) -> None:
        """End everything in progress (pages with their ends, streams with their BYE)."""
        self._stop.set()
        loop = asyncio.get_running_loop()
        for _ingress, rtp, rtcp in self.ingress:
            loop.remove_reader(rtp)
            loop.remove_reader(rtcp)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(ingress.close() for ingress, _, _ in self.ingress))
        if self.receiver is not None:
            self.receiver.close(time.time())
        await asyncio.to_thread(self.pacer.close)
        self.close_sockets()

    def counters(self) -> dict[str, Any]:
        """The run's counters, for the last line."""
        rtp = [vars(ingress.counters) for ingress, _, _ in self.ingress]
        looped = self.egress.looped if self.egress is not None else 0
        own = self.receiver.stats.own if self.receiver is not None else 0
        return {"event": "stopped", "rtp": rtp, "poly_looped": looped, "poly_own": own}

    def close_sockets(self) -> None:
        for sock in self.sockets:
            sock.close()
        for sink in self.sinks:
            sink.close()


def _rtcp(each: Mapping) -> Destination:
    """The RTCP address of `each`'s RTP group: the port after the RTP port (RFC 3550)."""
    return Destination(each.rtp.address, each.rtp.port + 1)


def _numbered(job: BridgeJob, event: dict[str, Any]) -> dict[str, Any]:
    """`event` with the number of the mapping whose channel (and format) it is."""
    for number, each in enumerate(job.mappings, 1):
        if each.to_rtp and (each.channel, each.rtp_format.name) == (
            event["channel"],
            event["rtp_codec"],
        ):
            return {"mapping": number, **event}
    return event


def _drain(sock: socket.socket, handle: Callable[[float, bytes], None]) -> None:
    """Everything `sock` holds, to `handle` with the time it was read."""
    while True:
        try:
            data = sock.recv(_MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            continue
        handle(time.monotonic(), data)


async def serve(
    job: BridgeJob, emit: Callable[[dict[str, Any]], None], say: Callable[[str], None]
) -> int:
    """Run `job` until SIGINT or SIGTERM; 128 + the signal."""
    from polyptt.signals import Stopping

    bridge = Bridge(job, emit)
    stopping = Stopping()
    try:
        bridge.start()
        say(_ready_line(job, bridge.serial))
        await stopping.event.wait()
    finally:
        with contextlib.suppress(Exception):
            await bridge.stop()
        emit(bridge.counters())
    return stopping.exit_code


def _ready_line(job: BridgeJob, serial: int) -> str:
    arrows = {"both": "<->", "rtp-to-poly": "->", "poly-to-rtp": "<-"}
    maps = "; ".join(
        f"{m.rtp} {m.rtp_format.name} {arrows[m.direction]} channel {m.channel} {m.codec}"
        for m in job.mappings
    )
    return f"polyptt bridge: serial 0x{serial:08X} on {job.destination}: {maps}"
