"""Poly to RTP: each Poly page heard on a channel becomes an RTP stream to a group.

:class:`PolyToRtp` is a listener of the job's `polyptt.receive.receiver.Receiver`: the
receiver puts each page's frames in order, repairs them from their redundant copies and
conceals what is lost (`polyptt.receive.session`), and hands over the audio as each
datagram arrives. The audio is converted to the RTP format's rate
(`polyptt.bridge.rates`), encoded and sent in ``ptime`` packets as soon as a packet's
worth is there: no pacing of its own, the Poly sender's pacing is the stream's. The
stream starts with the page's audio (its alerts have none to send).

Each page gets a new stream: a random SSRC (marked as a bridge's,
`polyptt.bridge.marks`), a random first sequence number and timestamp, the marker bit
on its first packet. Timestamps advance by the samples sent, so repaired and concealed
frames keep them continuous. An RTCP sender report goes to the next port up every
`SR_INTERVAL_S` from the first packet, and with the BYE that ends the stream when the
page ends (its last packet completed with silence). Pages whose serial says they came
from a bridge are not carried (counted as ``looped``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from polyptt.bridge.formats import Encoder, PayloadFormat
from polyptt.bridge.marks import is_marked, random_ssrc
from polyptt.bridge.rates import converter
from polyptt.bridge.rtp import Bye, RtpPacket, SenderReport
from polyptt.receive.session import Page
from polyptt.send.pacing import Sink

__all__ = ["NTP_EPOCH_OFFSET", "SR_INTERVAL_S", "PolyToRtp", "RtpTarget"]

#: Seconds between two RTCP sender reports of a stream.
SR_INTERVAL_S = 5.0
#: Seconds from 1900 (NTP's epoch) to 1970 (Unix's).
NTP_EPOCH_OFFSET = 2_208_988_800

Pcm = npt.NDArray[np.int16]


@dataclass(frozen=True)
class RtpTarget:
    """Where a channel's pages go as RTP: the RTP and RTCP sinks and the format."""

    channel: int
    rtp: Sink
    rtcp: Sink
    format: PayloadFormat
    ptime_ms: int = 20


@dataclass(eq=False)
class RtpStream:
    """One page's RTP stream."""

    target: RtpTarget
    ssrc: int
    sequence: int
    timestamp: int
    started: float
    packets: int = 0
    octets: int = 0
    reports: int = 0
    last_report: float = 0.0
    caller_id: str = ""
    serial: int = 0
    _encoder: Encoder | None = None
    _convert: Any = None
    _pending: Pcm = field(default_factory=lambda: np.zeros(0, dtype=np.int16))

    @property
    def packet_samples(self) -> int:
        return self.target.format.audio_rate * self.target.ptime_ms // 1000

    def audio(self, pcm: Pcm, rate: int) -> None:
        """Page audio at `rate`: every whole packet it completes goes out now."""
        if self._convert is None:
            self._convert = converter(rate, self.target.format.audio_rate)
            self._encoder = Encoder(self.target.format)
        converted = self._convert.push(pcm)
        if len(self._pending):
            converted = np.concatenate((self._pending, converted))
        size = self.packet_samples
        whole = len(converted) - len(converted) % size
        for start in range(0, whole, size):
            self._send(converted[start : start + size])
        self._pending = converted[whole:].copy()

    def finish(self, wall: float) -> None:
        """The page ended: its last packet (completed with silence), a report and a BYE."""
        if len(self._pending):
            pad = np.zeros(self.packet_samples - len(self._pending), dtype=np.int16)
            self._send(np.concatenate((self._pending, pad)))
            self._pending = self._pending[:0]
        self.target.rtcp.send(self.sender_report(wall) + bytes(Bye((self.ssrc,))), 0.0)
        self.reports += 1

    def sender_report(self, wall: float) -> bytes:
        """An SR for `wall` (Unix time): the stream's next timestamp is that moment."""
        ntp = round((wall + NTP_EPOCH_OFFSET) * (1 << 32))
        report = SenderReport(self.ssrc, ntp, self.timestamp, self.packets, self.octets)
        return bytes(report)

    def _send(self, pcm: Pcm) -> None:
        assert self._encoder is not None
        payload = self._encoder.encode(pcm)
        packet = RtpPacket(
            self.target.format.payload_type,
            self.sequence,
            self.timestamp,
            self.ssrc,
            payload,
            marker=self.packets == 0,
        )
        self.target.rtp.send(bytes(packet), 0.0)
        self.packets += 1
        self.octets += len(payload)
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + self.target.format.ticks(len(pcm))) & 0xFFFF_FFFF


class PolyToRtp:
    """Pages heard on the mapped channels -> RTP streams (a receiver's `AudioListener`).

    Parameters
    ----------
    targets : iterable of RtpTarget
        Where each channel's pages go (a channel may go to several groups).
    on_event : callable
        Told a summary (a dict) when each stream ends.
    rng : random.Random, optional
        Draws SSRCs, sequence numbers and timestamps (`random.SystemRandom` by default).
    clock : callable
        Wall-clock seconds, for the sender reports.

    Attributes
    ----------
    looped : int
        Pages not carried because a bridge sent them.
    """

    def __init__(
        self,
        targets: list[RtpTarget],
        on_event: Callable[[dict[str, Any]], None],
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.by_channel: dict[int, list[RtpTarget]] = {}
        for target in targets:
            self.by_channel.setdefault(target.channel, []).append(target)
        self.on_event = on_event
        self.rng = rng or random.SystemRandom()
        self.clock = clock
        self.looped = 0
        self.streams: dict[Page, list[RtpStream]] = {}

    def page_started(self, page: Page) -> None:
        targets = self.by_channel.get(page.channel)
        if not targets:
            return
        if is_marked(page.serial):
            self.looped += 1
            return
        wall = self.clock()
        self.streams[page] = [
            RtpStream(
                target,
                random_ssrc(self.rng),
                self.rng.getrandbits(16),
                self.rng.getrandbits(32),
                wall,
                last_report=wall,
                caller_id=page.caller_id,
                serial=page.serial,
            )
            for target in targets
        ]

    def page_audio(self, page: Page, pcm: Pcm, now: float) -> None:
        streams = self.streams.get(page)
        if streams is None:
            return
        for stream in streams:
            if not stream.packets:  # reports are timed from the stream's first packet
                stream.last_report = self.clock()
            stream.audio(pcm, page.codec.sample_rate)

    def page_ended(self, page: Page) -> None:
        streams = self.streams.pop(page, None)
        if streams is None:
            return
        wall = self.clock()
        for stream in streams:
            stream.finish(wall)
            self.on_event(_summary(stream, page))

    def tick(self) -> None:
        """Send the sender reports that are due."""
        wall = self.clock()
        for streams in self.streams.values():
            for stream in streams:
                if stream.packets and wall - stream.last_report >= SR_INTERVAL_S:
                    stream.target.rtcp.send(stream.sender_report(wall), 0.0)
                    stream.last_report = wall
                    stream.reports += 1

    def close(self) -> None:
        """End every stream (their pages were ended by the receiver's close)."""
        for page in list(self.streams):
            self.page_ended(page)


def _summary(stream: RtpStream, page: Page) -> dict[str, Any]:
    return {
        "event": "page_end",
        "direction": "poly-to-rtp",
        "channel": page.channel,
        "serial": page.serial,
        "caller_id": page.caller_id,
        "ssrc": stream.ssrc,
        "rtp_codec": stream.target.format.name,
        "packets": stream.packets,
        "octets": stream.octets,
        "reports": stream.reports,
        "bye": True,
    }
