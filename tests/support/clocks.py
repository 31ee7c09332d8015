"""A clock for the pacers that only waiting moves (`polyptt.send.clock.Clock`).

Every wait returns at once with the clock moved on by exactly the time waited for, so a
page of any length is paced in microseconds and each datagram's time is its due time to
the bit: tests of what a pacer sends, and when relative to the page's start, need no
sleep and no timing slack. What a clock cannot fake (real lateness, a loop kept free)
is tested on the real clock.
"""

from __future__ import annotations

import asyncio
import threading
import time

__all__ = ["VirtualClock"]


class VirtualClock:
    """Time that passes only when a pacer waits for it.

    Attributes
    ----------
    time : float
        The current time.
    waits : int
        How many waits moved it (a pacer that never waited never slept).
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.time = start
        self.waits = 0

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self._pass(seconds)

    async def sleep_async(self, seconds: float) -> None:
        self._pass(seconds)
        await asyncio.sleep(0)  # other tasks run, and a cancellation arrives, here

    def wait(self, condition: threading.Condition, until: float | None) -> None:
        if until is None:  # nothing due: wait for work, for real (a notify ends it)
            condition.wait(0.5)
        else:
            self._pass(until - self.time)
            time.sleep(0)  # let other threads (an event loop stopping a page) run

    def _pass(self, seconds: float) -> None:
        if seconds > 0:
            self.time += seconds
            self.waits += 1
