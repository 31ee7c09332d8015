"""The time the pacers keep: one object that reads the clock and waits on it.

A pacer reads a monotonic clock to know which datagram is due and waits for the next
due time, in one of three ways: a plain sleep (the blocking `send_page`), an asyncio
sleep (`send_page_async`) or a wait on a condition that new work can interrupt
(`PacerThread`). Handing the pacers one :class:`Clock` instead of calling `time` and
`asyncio` themselves is what lets a test run a page on a clock that only waiting moves:
every byte, offset and ending of a long page is checked in microseconds, with no sleep
and no timing slack. Real pacing, the property a clock cannot fake, is tested on
:data:`MONOTONIC`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Protocol

__all__ = ["MONOTONIC", "Clock", "MonotonicClock"]


class Clock(Protocol):
    """Monotonic seconds, and the ways the pacers wait for them."""

    def now(self) -> float:
        """The current time in seconds (any fixed origin)."""

    def sleep(self, seconds: float) -> None:
        """Block for `seconds` (the blocking pacer)."""

    async def sleep_async(self, seconds: float) -> None:
        """Wait `seconds` without blocking the event loop (the asyncio pacer); a
        cancellation is raised here."""

    def wait(self, condition: threading.Condition, until: float | None) -> None:
        """Wait on `condition` (held by the caller) until the time `until`, or, if None,
        for as long as there is nothing to do; a notify of `condition` may end the wait
        early (the pacing thread, when a page is submitted or stopped)."""


class MonotonicClock:
    """The real clock: `time.monotonic` and real waits."""

    #: The longest wait when nothing is due: how promptly a closing thread notices.
    idle_s = 0.5

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def sleep_async(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def wait(self, condition: threading.Condition, until: float | None) -> None:
        timeout = self.idle_s if until is None else min(until - time.monotonic(), self.idle_s)
        if timeout > 0:
            condition.wait(timeout)


#: The clock every pacer uses unless given another.
MONOTONIC = MonotonicClock()
