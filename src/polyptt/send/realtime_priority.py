"""Real-time scheduling for the seconds a page is on the wire.

Phones play what arrives when it arrives, so a sender that wakes up late makes an
audible gap. On a loaded machine an ordinary process can wake several milliseconds late;
under SCHED_FIFO it wakes within a fraction of one (measured in benchmarks/pacing.py: p99
of |interval - 30 ms| 2.8 ms -> 0.08 ms with the other core busy). The sender sleeps
almost all the time, so a low real-time priority costs other processes nothing.

As PulseAudio and JACK do, it is asked for, not required: where the system refuses
(no root, no CAP_SYS_NICE, an RLIMIT_RTPRIO of 0, not Linux) the page goes out at normal
priority.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["DEFAULT_PRIORITY", "realtime"]

#: Low among real-time priorities (1-99): above every normal process, below the kernel's
#: own real-time threads and audio servers.
DEFAULT_PRIORITY = 10


@contextmanager
def realtime(priority: int = DEFAULT_PRIORITY) -> Iterator[bool]:
    """Run the block under SCHED_FIFO at `priority` if the OS allows it.

    Applies to the calling thread; the previous policy is restored on exit.

    Yields
    ------
    bool
        Whether the block runs with real-time priority.
    """
    if not hasattr(os, "sched_setscheduler"):
        yield False
        return
    try:
        policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except OSError:  # refused: not privileged, or no real-time support
        yield False
        return
    try:
        yield True
    finally:
        os.sched_setscheduler(0, policy, param)
