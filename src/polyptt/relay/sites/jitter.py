"""A remote page's frames as they come over NATS, for the pacer that rebuilds it.

`JitterSource` is a `~polyptt.send.source.FrameSource`: the event loop `put`\\ s each
frame (page sequence number, codec bytes) as its message arrives; the relay's pacing
thread asks `next_frame` when each transmit is due. It holds an adaptive cushion:

- it lets the first frame out once `START_S` (60 ms) of audio is waiting, or the first
  frame has waited that long;
- a frame missing while the next one is there is lost (NATS keeps order): the last
  frame is sent again in its place (concealed), and the lost one is dropped if it comes
  after; a longer gap (the sender's link dropped and came back) is skipped, not filled;
- running dry (nothing waiting) grows the cushion by a frame, up to `MAX_S` (300 ms),
  and waits for it to fill again before going on;
- while it plays, audio waiting longer than `DROP_S` (500 ms) is dropped, oldest first,
  down to the cushion (unless the page was delayed on purpose by a busy channel: then
  every frame is kept and played);
- `close` (the sender's end): what is waiting still goes out, then the end packets;
  `abort` (the sender vanished, the link dropped): the end now.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from polyptt.send.source import END_OF_AUDIO

__all__ = ["DROP_S", "MAX_S", "START_S", "JitterSource"]

START_S = 0.06
MAX_S = 0.3
DROP_S = 0.5


class JitterSource:
    """Frames of one remote page, in order, with a cushion against network jitter."""

    def __init__(self, frame_ms: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.frame_s = frame_ms / 1000
        self.target_s = START_S
        self.delayed = False
        self.concealed = 0
        self.dropped = 0
        self.received = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._frames: dict[int, tuple[bytes, float]] = {}
        self._next = 0
        self._last: bytes | None = None
        self._primed = False
        self._playing = False
        self._total: int | None = None
        self._aborted = False

    def put(self, seq: int, frame: bytes) -> None:
        """Frame `seq` arrived (any order; duplicates and late ones are dropped)."""
        with self._lock:
            if seq < self._next or seq in self._frames or not frame:
                self.dropped += 1
                return
            self.received += 1
            self._frames[seq] = (frame, self._clock())
            if self._playing and not self.delayed:
                self._trim()

    def close(self, total: int) -> None:
        """The sender ended the page after `total` frames."""
        with self._lock:
            self._total = total

    def abort(self) -> None:
        """End the page now (no more audio will come)."""
        with self._lock:
            self._aborted = True

    @property
    def ended(self) -> bool:
        """The sender ended the page (`close`) or it was aborted."""
        return self._total is not None or self._aborted

    @property
    def waiting_s(self) -> float:
        return len(self._frames) * self.frame_s

    def next_frame(self) -> bytes | None:
        with self._lock:
            self._playing = True
            if self._aborted:
                return END_OF_AUDIO
            done = self._total is not None and self._next >= self._total
            if done or (self._total is not None and not self._frames):
                return END_OF_AUDIO
            if not self._primed and not self._ready():
                return None
            self._primed = True
            return self._take()

    def _ready(self) -> bool:
        if self._total is not None or self.waiting_s + 1e-9 >= self.target_s:
            return True
        first = min((at for _frame, at in self._frames.values()), default=None)
        return first is not None and self._clock() - first >= self.target_s

    def _take(self) -> bytes | None:
        entry = self._frames.pop(self._next, None)
        if entry is not None:
            self._next += 1
            self._last = entry[0]
            return entry[0]
        if self._next + 1 in self._frames:  # one lost: the one after it is here
            self._next += 1
            self.concealed += 1
            return self._last or self._frames[self._next][0]
        if self._frames:  # a longer gap (a link that came back): go on from what came
            self.dropped += min(self._frames) - self._next
            self._next = min(self._frames)
            return self._take()
        # dry: wait for a bigger cushion to fill
        self._primed = False
        self.target_s = min(MAX_S, self.target_s + self.frame_s)
        return None

    def _trim(self) -> None:
        """Drop audio waiting past `DROP_S`, oldest first, down to the cushion."""
        if self.waiting_s <= DROP_S:
            return
        while self._frames and self.waiting_s > self.target_s:
            oldest = min(self._frames)
            del self._frames[oldest]
            self.dropped += 1
            self._next = min(self._frames) if self._frames else oldest + 1
