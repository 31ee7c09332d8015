"""A live page catches up with its speaker in the pauses, never in the speech.

A live page captures from the key press, but its first frame may only go out after the
31 alerts, 0.93 s later; what was said meanwhile is queued, so that the first word is
never lost. Sent at real time, that queue would keep the whole talk 0.93 s behind the
speaker, and every answer on a walkie-talkie channel that much later. Sending it faster
than real time would burst on the wire, which phones are not built for (a page is paced
against a fixed schedule). So the queue shrinks the way a VoIP jitter buffer changes its
delay: between talkspurts.

While more audio waits than `CatchUp.keep_s`, a chunk that lies inside a pause is
skipped: it is quiet, at least `CatchUp.hangover_s` of quiet audio comes before it, and
at least `CatchUp.lookahead_s` of quiet audio follows it. Every pause keeps its first
`hangover_s`, so words stay apart and their tails are whole, and the lookahead keeps the
soft start of the next word (quiet before the first word is not kept). Someone who waits
for the alerts' chirp, as phone users learn to, is caught up with the first frame;
someone who speaks at once catches up over the next pauses (sentence breaks give 0.2-0.5 s
each: a few sentences).

Quiet means below the noise floor plus `CatchUp.margin_db`, and never above
`CatchUp.quiet_max_db`: the floor is the lowest chunk level of the last
`CatchUp.floor_window_s`, so an office hum counts as quiet and speech does not.

A talker across a network (the relay's WebSocket) delivers in fits: with only
`keep_s` waiting, a late message leaves the page without a frame when one is due, and
the phones hear a gap. Where `max_keep_s` allows it, the page learns from that, as
VoIP jitter buffers do: each time it runs dry (a frame more than a quarter of a frame
late: `polyptt.audio.live.DRY_TOLERANCE`), what it keeps grows by 1.5 times how long it
went without (up to `max_keep_s`), it waits to have that much again before it goes on, and
it eases back towards `keep_s` while the audio comes on time (`relax_per_s`).

A microphone on the machine itself (`for_capture`) starts with less, 20 ms: PortAudio
hands over 10 ms blocks on time, and 20 ms rather than 30 ms is a tenth less of the
talk's whole mouth-to-phone delay. A device that delivers in fits (a Bluetooth headset,
a busy sound server) teaches the page to keep more, up to 0.1 s, at its first hiccup.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from polyptt.audio.levels import level_db

__all__ = ["CAPTURE_KEEP_S", "CAPTURE_MAX_KEEP_S", "CatchUp", "for_capture"]


#: What a page from a microphone on this machine keeps once caught up, at first and at most.
CAPTURE_KEEP_S = 0.02
CAPTURE_MAX_KEEP_S = 0.1


def for_capture(rate: int) -> CatchUp:
    """The catch-up of a page from a local capture device (microphone, VOX) at `rate`."""
    return CatchUp(rate, keep_s=CAPTURE_KEEP_S, max_keep_s=CAPTURE_MAX_KEEP_S)


class CatchUp:
    """Decides, chunk by chunk, which quiet audio a late live page may skip.

    One instance per page; the page's source (`polyptt.audio.live.LiveFrames`) asks
    :meth:`level` for every chunk as it is queued, then :meth:`skips` for every chunk as
    it is framed, in order.

    Parameters
    ----------
    rate : int
        The chunks' sample rate.
    keep_s : float
        The audio left waiting once caught up: the page's own latency, on top of a
        frame. Enough to ride out a capture thread's jitter.
    hangover_s, lookahead_s : float
        Quiet audio kept at the start of each pause, and quiet audio that must follow a
        chunk for it to be skipped (the start of the next word is kept).
    margin_db : float
        How far above the noise floor a chunk still counts as quiet.
    floor_window_s : float
        How far back the noise floor looks.
    max_keep_s : float, optional
        How far what is kept may grow after the source ran dry; `keep_s` by default
        (a microphone on this machine does not run dry).
    relax_per_s : float
        How fast what is kept shrinks back: seconds per second of audio framed.

    Attributes
    ----------
    skipped : int
        Input samples skipped so far.
    dry_spells : int
        Times the source had no frame when one was due, once under way.
    """

    #: Above this level a chunk is never quiet, whatever the noise floor.
    quiet_max_db = -30.0

    def __init__(
        self,
        rate: int,
        *,
        keep_s: float = 0.03,
        hangover_s: float = 0.07,
        lookahead_s: float = 0.03,
        margin_db: float = 6.0,
        floor_window_s: float = 2.0,
        max_keep_s: float | None = None,
        relax_per_s: float = 0.01,
    ) -> None:
        self.rate = rate
        self.keep_s = keep_s
        self.hangover_s = hangover_s
        self.lookahead_s = lookahead_s
        self.margin_db = margin_db
        self.floor_window_s = floor_window_s
        self._keep = round(keep_s * rate)
        self._max_keep = self._keep if max_keep_s is None else round(max_keep_s * rate)
        self._relax = relax_per_s
        self._target = float(self._keep)  # what is kept now, in samples
        self._hangover = round(hangover_s * rate)
        self._lookahead = round(lookahead_s * rate)
        self._window = round(floor_window_s * rate)
        self._recent: collections.deque[tuple[int, float]] = collections.deque()
        self._recent_samples = 0
        # samples of quiet audio just before the next chunk; a talk starts as if after a
        # pause, so that quiet before the first word is not kept
        self._quiet_run = self._hangover
        self.skipped = 0
        self.dry_spells = 0

    @property
    def adaptive(self) -> bool:
        """Whether what is kept grows when the source runs dry."""
        return self._max_keep > self._keep

    @property
    def kept(self) -> int:
        """Samples kept waiting once caught up (beyond the frame being made), now."""
        return round(self._target)

    def ran_dry(self, seconds: float) -> None:
        """The source had no frame for `seconds` when one was due: keep half as much
        again more (what is kept eases back between spells; stalls vary)."""
        self.dry_spells += 1
        self._target = min(float(self._max_keep), self._target + 1.5 * seconds * self.rate)

    def framed(self, size: int) -> None:
        """`size` samples went into frames on time: ease what is kept back a little."""
        if self._target > self._keep:
            self._target = max(float(self._keep), self._target - size * self._relax)

    def level(self, pcm: npt.NDArray[np.generic]) -> float:
        """The level of a chunk as it is queued (dBFS); it joins the noise floor."""
        level = level_db(pcm)
        size = len(pcm)
        self._recent.append((size, level))
        self._recent_samples += size
        while self._recent_samples - self._recent[0][0] >= self._window:
            self._recent_samples -= self._recent.popleft()[0]
        return level

    @property
    def floor_db(self) -> float:
        """The noise floor: the lowest level of the recent chunks."""
        return min((level for _size, level in self._recent), default=self.quiet_max_db)

    def skips(
        self, size: int, level: float, spare: int, ahead: Iterable[tuple[int, float]]
    ) -> bool:
        """Whether to skip the next chunk to be framed.

        Parameters
        ----------
        size, level : int, float
            The chunk (samples, dBFS).
        spare : int
            Samples waiting after this chunk beyond the frame being made: the page's
            lag if the chunk is skipped.
        ahead : iterable of (int, float)
            The waiting chunks' sizes and levels, in order (read only as far as needed).
        """
        threshold = min(self.floor_db + self.margin_db, self.quiet_max_db)
        if level >= threshold:
            self._quiet_run = 0
            return False
        skip = (
            spare >= self._target
            and self._quiet_run >= self._hangover
            and _quiet_for(ahead, threshold, self._lookahead)
        )
        if skip:
            self.skipped += size
        else:
            self._quiet_run += size
        return skip


def _quiet_for(chunks: Iterable[tuple[int, float]], threshold: float, samples: int) -> bool:
    """Whether the chunks start with at least `samples` samples below `threshold`."""
    quiet = 0
    for size, level in chunks:
        if quiet >= samples:
            return True
        if level >= threshold:
            return False
        quiet += size
    return quiet >= samples
