"""RTP to Poly: each RTP stream heard on a group becomes one Poly page on a channel.

A stream (one SSRC) starts a page at its first packet. The page's alerts go out at once
while the stream's audio is held (`polyptt.audio.live.LiveFrames`), then the page
catches up with the stream in its pauses as a live talker's page does
(`polyptt.audio.catchup`): never faster than real time, speech never cut. All pages are
paced by the one real-time thread of the job (`polyptt.send.PacerThread`), the relay's
pacer for live talks.

A stream ends, and its page with the 12 end packets once its audio is out, on an RTCP
BYE naming it, on a packet of another SSRC (the next stream is a new page, which starts
its alerts once the previous page's ends are out: phones see one page end and the next
begin, under the same serial), or after ``idle_s`` without a packet.

On the way, one `polyptt.bridge.jitter.JitterBuffer` per stream puts packets in order;
a lost packet is concealed (its time filled with the previous packet's audio at half
level, and silence for further packets of the same gap, up to `MAX_CONCEAL_S`); the
payload is decoded (`polyptt.bridge.formats`), its rate converted
(`polyptt.bridge.rates`) and it is encoded for the page by the page's framer.

What is not carried, counted in `RtpCounters`: datagrams that are no RTP, streams of
payload types that are neither the static ones the bridge knows nor the mapping's dynamic
one, and streams whose SSRC says they came from a bridge (`polyptt.bridge.marks`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from polyptt import codecs
from polyptt.audio.catchup import CatchUp
from polyptt.audio.framer import Framer
from polyptt.audio.live import LiveFrames
from polyptt.bridge.formats import FORMATS, Decoder, PayloadFormat
from polyptt.bridge.jitter import JitterBuffer, Lost
from polyptt.bridge.marks import is_marked
from polyptt.bridge.rates import converter
from polyptt.bridge.rtp import Bye, RtpError, RtpPacket, parse_rtcp, ts_delta
from polyptt.send import PacerThread, PageParams, PageReport
from polyptt.send.pacing import Sink

__all__ = [
    "KEEP_FRAMES",
    "MAX_CONCEAL_S",
    "MAX_KEEP_S",
    "RELAX_PER_S",
    "PageTarget",
    "RtpCounters",
    "RtpToPoly",
]

#: How far behind its stream a caught-up page stays. RTP packets come paced by their
#: sender, so a page that has caught up keeps nothing waiting: in a pause, quiet packets
#: are skipped down to the last one (a `CatchUp` that keeps minus one frame, with no
#: lookahead), and once the page has no frame ready when one is due, its schedule
#: follows the packets' arrival (`polyptt.send.Schedule.delay`): about 21 ms from a
#: packet's arrival to the wire (p50, benchmarks/bridge.py). The price: the quiet packet
#: just before a word (below the noise floor + 6 dB) may be skipped too. A stream that comes in fits
#: teaches the page to keep more, up to `MAX_KEEP_S` (ffmpeg sends 256 ms at a time).
KEEP_FRAMES = -1
MAX_KEEP_S = 0.3
#: How fast what is kept eases back after a packet came late (seconds per second of
#: audio): ten times a talker's, as a packet's lateness on a LAN is one-off jitter, and
#: a cushion kept for it would hold every later packet back a frame.
RELAX_PER_S = 0.1
#: The longest gap of lost packets filled in (the rest of a longer one is left out: the
#: page waits for the stream, as it does when the sender pauses).
MAX_CONCEAL_S = 0.2

Pcm = npt.NDArray[np.int16]


@dataclass(frozen=True)
class PageTarget:
    """Where and how a stream's page goes: everything but its audio."""

    channel: int
    serial: int
    caller_id: str
    codec: str
    frame_ms: int = 20
    idle_s: float = 0.5
    dynamic: PayloadFormat | None = None


@dataclass
class RtpCounters:
    """What one mapping did with its RTP datagrams (whole run)."""

    datagrams: int = 0
    invalid: int = 0
    looped: int = 0
    ignored: int = 0
    rtcp: int = 0
    byes: int = 0
    streams: int = 0


@dataclass(eq=False)
class Stream:
    """One RTP stream in progress and its Poly page."""

    ssrc: int
    format: PayloadFormat
    live: LiveFrames
    started: float
    jitter: JitterBuffer = field(default_factory=JitterBuffer)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    report: PageReport = field(default_factory=PageReport)
    last: float = 0.0
    reason: str | None = None
    concealed: int = 0
    ignored: int = 0
    task: asyncio.Task[None] | None = None
    _decoder: Decoder | None = None
    _convert: Any = None
    _expected: int | None = None  # the timestamp due next
    _lost: int = 0  # packets given up since the last one played
    _last_pcm: Pcm | None = None

    def summary(self) -> dict[str, Any]:
        stats = self.jitter.stats
        report = self.report
        return {
            "event": "page_end",
            "direction": "rtp-to-poly",
            "ssrc": self.ssrc,
            "rtp_codec": self.format.name,
            "reason": self.reason,
            "packets": stats.received,
            "played": stats.released - self.ignored,
            "lost": stats.lost,
            "concealed": self.concealed,
            "duplicates": stats.duplicates,
            "late": stats.late,
            "reordered": stats.reordered,
            "ignored": self.ignored,
            "alerts": report.alerts,
            "transmits": report.transmits,
            "ends": report.ends,
        }


class RtpToPoly:
    """One mapping's RTP group -> Poly channel direction.

    Parameters
    ----------
    target : PageTarget
        The pages' channel, serial (marked), caller id, codec and frame length.
    pacer : PacerThread
        Paces the pages (shared by every mapping of the job).
    sink : Sink
        Where the pages' datagrams go (the Poly group's UDP socket).
    on_event : callable
        Told each page's summary (a dict) once its ends are out.
    """

    def __init__(
        self,
        target: PageTarget,
        pacer: PacerThread,
        sink: Sink,
        on_event: Callable[[dict[str, Any]], None],
    ) -> None:
        self.target = target
        self.pacer = pacer
        self.sink = sink
        self.on_event = on_event
        self.counters = RtpCounters()
        self.current: Stream | None = None
        self._pages: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ input

    def datagram(self, now: float, data: bytes) -> None:
        """One datagram from the RTP port, arrived at `now`."""
        counters = self.counters
        counters.datagrams += 1
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            counters.invalid += 1
            return
        if is_marked(packet.ssrc):
            counters.looped += 1
            return
        stream = self.current
        if stream is not None and packet.ssrc != stream.ssrc:
            self._end(stream, "ssrc")
            stream = None
        if stream is None:
            fmt = self._format(packet.payload_type)
            if fmt is None:
                counters.ignored += 1
                return
            stream = self._start(packet.ssrc, fmt, now)
        stream.last = now
        for item in stream.jitter.push(now, packet):
            self._play(stream, item)

    def control(self, now: float, data: bytes) -> None:
        """One datagram from the RTCP port: a BYE of the current stream ends it."""
        self.counters.rtcp += 1
        try:
            packets = parse_rtcp(data)
        except RtpError:
            self.counters.invalid += 1
            return
        for packet in packets:
            stream = self.current
            if isinstance(packet, Bye) and stream is not None and stream.ssrc in packet.ssrcs:
                self.counters.byes += 1
                self._end(stream, "bye")

    def tick(self, now: float) -> None:
        """Apply the clock: give up gaps held too long, end an idle stream."""
        stream = self.current
        if stream is None:
            return
        for item in stream.jitter.expire(now):
            self._play(stream, item)
        if now - stream.last >= self.target.idle_s:
            self._end(stream, "idle")

    async def close(self, *, hurry: bool = True) -> None:
        """End the stream in progress (at once if `hurry`: a signal) and wait for every
        page's end packets."""
        stream = self.current
        if stream is not None:
            self._end(stream, "shutdown")
            if hurry:
                stream.stop.set()
        if self._pages:
            await asyncio.gather(*self._pages, return_exceptions=True)

    # ------------------------------------------------------------------ streams

    def _format(self, payload_type: int) -> PayloadFormat | None:
        dynamic = self.target.dynamic
        if dynamic is not None and payload_type == dynamic.payload_type:
            return dynamic
        return FORMATS.get(payload_type)

    def _start(self, ssrc: int, fmt: PayloadFormat, now: float) -> Stream:
        target = self.target
        rate = codecs.info(target.codec).sample_rate
        catch_up = CatchUp(
            rate,
            keep_s=KEEP_FRAMES * target.frame_ms / 1000,
            lookahead_s=0.0,
            max_keep_s=MAX_KEEP_S,
            relax_per_s=RELAX_PER_S,
        )
        live = LiveFrames(Framer(target.codec, target.frame_ms), catch_up=catch_up)
        stream = Stream(ssrc, fmt, live, now, last=now)
        stream._decoder = Decoder(fmt)
        stream._convert = converter(fmt.audio_rate, rate)
        self.current = stream
        self.counters.streams += 1
        previous = self._pages[-1] if self._pages else None
        stream.task = asyncio.create_task(self._page(stream, previous))
        self._pages.append(stream.task)
        stream.task.add_done_callback(self._pages.remove)
        return stream

    def _end(self, stream: Stream, reason: str) -> None:
        """No more audio for `stream`: what it holds goes out, then its page's ends."""
        if stream.reason is None:
            stream.reason = reason
            for item in stream.jitter.flush():
                self._play(stream, item)
            stream.live.close()
        if self.current is stream:
            self.current = None

    async def _page(self, stream: Stream, previous: asyncio.Task[None] | None) -> None:
        from polyptt.codecs import wire_id

        if previous is not None:  # one page at a time on the channel: the last one's ends first
            await asyncio.wait([previous])
        target = self.target
        params = PageParams(
            target.channel, target.serial, target.caller_id, wire_id(target.codec), target.frame_ms
        )
        error = None
        try:
            await self.pacer.send_page(
                stream.live, params, sink=self.sink, stop=stream.stop, report=stream.report
            )
        except Exception as exc:  # the ends went out all the same (PacerThread.send_page)
            error = str(exc)
        summary = stream.summary()
        summary["channel"] = target.channel
        if error is not None:
            summary["error"] = error
        self.on_event(summary)

    # ------------------------------------------------------------------ audio

    def _play(self, stream: Stream, item: RtpPacket | Lost) -> None:
        """A released packet's audio (after concealment of the gap before it) to the page."""
        if isinstance(item, Lost):
            stream._lost += item.count
            return
        if item.payload_type != stream.format.payload_type:
            stream.ignored += 1  # comfort noise, DTMF events...: no audio of ours
            return
        assert stream._decoder is not None
        pcm = stream._decoder.decode(item.payload)
        fmt = stream.format
        if stream._lost and stream._expected is not None:
            gap = ts_delta(item.timestamp, stream._expected)
            if 0 < gap <= MAX_CONCEAL_S * fmt.clock_rate:
                self._feed(
                    stream, _conceal(stream._last_pcm, gap * fmt.audio_rate // fmt.clock_rate)
                )
                stream.concealed += stream._lost
        stream._lost = 0
        stream._expected = (item.timestamp + fmt.ticks(len(pcm))) & 0xFFFF_FFFF
        if len(pcm):
            stream._last_pcm = pcm
        self._feed(stream, pcm)

    def _feed(self, stream: Stream, pcm: Pcm) -> None:
        out = stream._convert.push(pcm)
        if not len(out):
            return
        stream.live.feed(out)


def _conceal(last: Pcm | None, size: int) -> Pcm:
    """`size` samples for lost packets: the last packet again at half level, then silence."""
    out = np.zeros(size, dtype=np.int16)
    if last is not None and len(last):
        take = min(size, len(last))
        out[:take] = (last[:take].astype(np.int32) // 2).astype(np.int16)
    return out
