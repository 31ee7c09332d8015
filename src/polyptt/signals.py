"""SIGINT and SIGTERM noted, not raised, while work that must finish is under way.

A page that has begun must send its end packets, and a recording that has begun must be
finalized; an exception thrown into the middle of either would leave phones stuck in a
page or a WAV without its header. Both the sender and the listener install this flag for
the duration of that work and check it between steps.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

__all__ = ["SignalFlag"]


class SignalFlag:
    """Records SIGINT/SIGTERM instead of letting them interrupt the work.

    The handlers only note the first signal in :attr:`received` and count all of them
    in :attr:`count` (a second Ctrl-C can mean "now, really"); the caller checks them
    between steps. They are installed on entry (from the main thread only: Python
    delivers signals there) and the previous handlers restored on exit.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self.count = 0
        self._saved: dict[int, object] = {}

    def _note(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        if self.received is None:
            self.received = signum

    def __enter__(self) -> SignalFlag:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._saved[signum] = signal.signal(signum, self._note)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
