"""One page as a receiver sees it: identity, codec, audio and what the network did to it.

A `Page` turns the packets of one sender on one channel into PCM: it learns the codec
from the first transmit packet, hands the frames to a `polyptt.receive.jitter.FrameBuffer` to be
put in order, decodes what comes out and conceals what is missing, and keeps the counts
a recording's metadata reports. It owns no socket, clock or file: the receiver feeds it
and passes its audio on, which keeps the rules testable with synthetic packets.

Concealment
-----------
A lost frame that no redundant copy recovered is replaced by the last decoded frame
again, halved in level for every further frame of the same gap (silence from the fourth
on): on speech this is much less audible than a hole of silence, and it never invents
more than a short echo. The decoder is not fed anything for the gap, so an ADPCM decoder
(G.722, G.726) continues from its last real state and reconverges within a few frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from polyptt.protocol import (
    SAMPLE_CLOCK_HZ,
    Packet,
    Priority,
    TransmitPacket,
    channel_priority,
)
from polyptt.receive.jitter import FrameBuffer, FrameKind, Released

__all__ = ["END_REASONS", "Page", "PageKey", "PageStats"]

#: Why a page ended: its end packets arrived, it fell silent, or the listener stopped.
END_REASONS = ("end_packets", "timeout", "interrupted")

_FADE_FRAMES = 3  # concealed frames of one gap that still repeat audio; then silence
#: Frames `Page.take_next` keeps coded at most: a caller that never asks for the audio
#: sends the packets after them down the general path, which decodes them.
_MAX_HELD = 32

Pcm = npt.NDArray[np.int16]


class PageKey(NamedTuple):
    """What tells concurrent pages apart: who sends, as which host, on which channel."""

    source: tuple[str, int]
    serial: int
    channel: int


@dataclass
class PageStats:
    """The counts a recording's metadata reports (names as in the JSON)."""

    packets: int = 0
    frames: int = 0
    frames_repaired: int = 0
    frames_concealed: int = 0


class Page:
    """One page in progress or ended.

    Parameters
    ----------
    key : PageKey
        Source address, host serial and channel.
    caller_id : str
        From the first packet (later packets may refine it).
    now : float
        Arrival time of the first packet (seconds since the epoch, UTC).
    decoder_factory : callable, optional
        ``name -> object with decode(bytes) -> int16 array``; `polyptt.codecs.Decoder` by
        default (tests pass their own).
    reorder_frames, reorder_s : optional
        Passed to the page's `FrameBuffer`.

    Attributes
    ----------
    codec : CodecInfo or None
        Learnt from the first transmit packet.
    start, last, end : float
        First packet, latest packet, and the end time (None while the page runs).
    end_reason : str or None
        One of `END_REASONS` once ended.
    samples : int
        PCM samples released so far (at ``codec.sample_rate``).
    dropped : int
        Transmit packets dropped because their codec differs from the page's, their
        audio does not fit its frame size, or their count is too far ahead (see
        `polyptt.receive.jitter`).
    """

    def __init__(
        self,
        key: PageKey,
        caller_id: str,
        now: float,
        *,
        decoder_factory: Callable[[str], Any] | None = None,
        reorder_frames: int = 2,
        reorder_s: float = 0.06,
    ) -> None:
        self.key = key
        self.caller_id = caller_id
        self.start = now
        self.last = now
        self.end: float | None = None
        self.end_reason: str | None = None
        self.codec: Any = None
        self.stats = PageStats()
        self.samples = 0
        self._wrong_codec = 0
        self._decoder_factory = decoder_factory
        self._reorder = (reorder_frames, reorder_s)
        self._buffer: FrameBuffer | None = None
        self._decoder: Any = None
        self._last_pcm: Pcm | None = None
        self._held: list[bytes] = []  # frames taken by `take_next`, not yet decoded
        self._held_since = 0.0
        self._gap = 0

    # ------------------------------------------------------------------ identity

    @property
    def channel(self) -> int:
        return self.key.channel

    @property
    def serial(self) -> int:
        return self.key.serial

    @property
    def source(self) -> str:
        """``address:port`` of the sender."""
        host, port = self.key.source
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def priority(self) -> Priority:
        return channel_priority(self.channel)

    @property
    def frame_ms(self) -> float | None:
        """Frame duration learnt from the stream (20 or 30 for phones), or None."""
        if self._buffer is None or self._buffer.step is None:
            return None
        ms = self._buffer.step / (SAMPLE_CLOCK_HZ / 1000)
        return int(ms) if ms == int(ms) else ms

    @property
    def dropped(self) -> int:
        """Transmit packets dropped: wrong codec, or refused by the frame buffer."""
        buffer = self._buffer
        if buffer is None:
            return self._wrong_codec
        return self._wrong_codec + buffer.unsplittable + buffer.discarded

    @property
    def duration_s(self) -> float:
        """Seconds of audio released so far, concealed gaps included (0 before any).

        What ``listen`` reports as a page's duration: the alerts before the audio and
        the end packets after it are not part of it.
        """
        return round(self.samples / self.codec.sample_rate, 6) if self.codec else 0.0

    @property
    def next_deadline(self) -> float | None:
        """When `expire` may release audio held for a missing frame, or None."""
        return None if self._buffer is None else self._buffer.next_deadline

    # ------------------------------------------------------------------ feeding

    def handle(self, now: float, packet: Packet) -> list[Pcm]:
        """Account for `packet` (already known to belong to this page); return new PCM."""
        self.stats.packets += 1
        self.last = now
        if packet.caller_id and not self.caller_id:
            self.caller_id = packet.caller_id
        if not isinstance(packet, TransmitPacket):  # alert or end: identity only
            return []
        if self._buffer is None:
            self._learn_codec(packet)
        elif packet.codec != self.codec.wire_id:
            self._wrong_codec += 1
            return []
        assert self._buffer is not None
        return self._decode(self._buffer.push(now, packet))

    def take_next(self, now: float, count: int, audio: bytes) -> bool:
        """Take a transmit packet that is exactly the page's next frame; whether it was.

        For a packet the receiver already knows to be this page's, in its codec (see
        `polyptt.receive.receiver`): the common case, without a packet object. Its frame is kept
        coded until `take_audio`, so that a batch of datagrams costs one decoder call per
        page, not one per packet; any other call that releases audio decodes it first,
        in order. False means nothing was counted or changed, and the packet needs
        `handle`.
        """
        buffer = self._buffer
        if buffer is None or len(self._held) >= _MAX_HELD:
            return False
        frame = buffer.take_next(now, count, audio)
        if frame is None:
            return False
        if not self._held:
            self._held_since = now
        self._held.append(frame)
        self.stats.packets += 1
        self.stats.frames += 1
        self.last = now
        return True

    def take_audio(self) -> tuple[Pcm, float] | None:
        """The PCM of the frames `take_next` kept, and when the first of them arrived."""
        if not self._held:
            return None
        return self._decode_held(), self._held_since

    def expire(self, now: float) -> list[Pcm]:
        """Audio the buffer's time bound releases at `now`."""
        if self._buffer is None:
            return []
        return self._decode(self._buffer.expire(now))

    def finish(self, now: float, reason: str) -> list[Pcm]:
        """End the page for `reason` (see `END_REASONS`) at `now`; return the last PCM."""
        if reason not in END_REASONS:
            raise ValueError(f"unknown end reason {reason!r}")
        self.end = now
        self.end_reason = reason
        if self._buffer is None:
            return []
        return self._decode(self._buffer.flush())

    def summary(self) -> dict[str, Any]:
        """Statistics and identity, under the names the JSON metadata uses."""
        buffer = self._buffer
        stats = self.stats
        return {
            "channel": self.channel,
            "priority": self.priority.label,
            "caller_id": self.caller_id,
            "serial": self.serial,
            "source": self.source,
            "codec": None if self.codec is None else self.codec.name,
            "frame_ms": self.frame_ms,
            "duration_s": self.duration_s,
            "packets": stats.packets,
            "frames": stats.frames,
            "frames_repaired": stats.frames_repaired,
            "frames_concealed": stats.frames_concealed,
            "duplicates": buffer.duplicates if buffer else 0,
            "late": buffer.late if buffer else 0,
            "end_reason": self.end_reason,
        }

    # ------------------------------------------------------------------ internals

    def _learn_codec(self, packet: TransmitPacket) -> None:
        from polyptt import codecs  # the compiled core, only once audio arrives

        self.codec = codecs.by_wire_id(int(packet.codec))
        factory = self._decoder_factory or codecs.Decoder
        self._decoder = factory(self.codec.name)
        bytes_per_second = Fraction(self.codec.sample_rate * self.codec.bits_per_sample, 8)
        frames, seconds = self._reorder
        self._buffer = FrameBuffer(
            Fraction(SAMPLE_CLOCK_HZ) / bytes_per_second, reorder_frames=frames, reorder_s=seconds
        )

    def _decode(self, released: list[Released]) -> list[Pcm]:
        """PCM for `released` frames: consecutive coded frames in one chunk.

        One chunk per run rather than per frame (the decoders are streaming, so the
        samples are the same): a listener catching up on several frames is called once,
        and sees one arrival time for them.
        """
        out = [self._decode_held()] if self._held else []
        if not released:
            return out
        stats = self.stats
        stats.frames += len(released)
        run: list[bytes] = []
        for frame in released:
            kind = frame.kind
            if kind is FrameKind.MISSING:
                if run:
                    out.append(self._decode_run(run))
                    run = []
                stats.frames_concealed += 1
                out.append(self._conceal(frame.ticks))
                continue
            if kind is FrameKind.REPAIRED:
                stats.frames_repaired += 1
            run.append(frame.frame)
        if run:
            out.append(self._decode_run(run))
        return out

    def _decode_held(self) -> Pcm:
        held, self._held = self._held, []
        # one call: these are all whole frames of the learnt size (whole 10 ms, so whole
        # G.726 code words), each with an equal share of the samples
        pcm: Pcm = self._decoder.decode(held[0] if len(held) == 1 else b"".join(held))
        return self._decoded(pcm, pcm[len(pcm) - len(pcm) // len(held) :])

    def _decode_run(self, frames: list[bytes]) -> Pcm:
        *before, final = frames
        # the last frame on its own, so that concealment repeats exactly its samples
        # (with G.726, a short frame's share of a joint decode depends on the bits before
        # it)
        head = self._decoder.decode(b"".join(before)) if before else None
        last: Pcm = self._decoder.decode(final)
        return self._decoded(last if head is None else np.concatenate((head, last)), last)

    def _decoded(self, pcm: Pcm, last: Pcm) -> Pcm:
        """Account for `pcm`, whose final frame `last` is what concealment repeats."""
        self._last_pcm = last
        self._gap = 0
        self.samples += len(pcm)
        return pcm

    def _conceal(self, ticks: int) -> Pcm:
        size = ticks * self.codec.sample_rate // SAMPLE_CLOCK_HZ
        self.samples += size
        self._gap += 1
        last = self._last_pcm
        if last is None or self._gap > _FADE_FRAMES or not len(last):
            return np.zeros(size, dtype=np.int16)
        repeated = np.resize(last, size).astype(np.float64)
        return np.round(repeated * 0.5 ** (self._gap - 1)).astype(np.int16)
