"""SIGINT and SIGTERM noted, not raised, while work that must finish is under way.

A page that has begun must send its end packets, and a recording that has begun must be
finalized; an exception thrown into the middle of either would leave phones stuck in a
page or a WAV without its header. Both the sender and the listener install this flag for
the duration of that work and check it between steps.

Long-running asyncio commands (the relay, the bridge, ``send --relay`` live) instead
wait for a `Stopping`: its event set by SIGINT or SIGTERM on the running loop.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

__all__ = ["SignalFlag", "Stopping"]


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


class Stopping:
    """SIGINT and SIGTERM handled on the running asyncio loop: each notes its number in
    :attr:`received` and sets :attr:`event`, which the command awaits to stop cleanly.

    Create it inside the loop (``loop.add_signal_handler``: the handlers stay for the
    loop's life).
    """

    def __init__(self) -> None:
        import asyncio  # here: `send` and `listen` import this module and no asyncio

        self.event = asyncio.Event()
        self.received: list[int] = []
        loop = asyncio.get_running_loop()
        for signum in SignalFlag.SIGNALS:
            loop.add_signal_handler(signum, self._note, signum)

    def _note(self, signum: int) -> None:
        self.received.append(signum)
        self.event.set()

    @property
    def first(self) -> int | None:
        """The first signal received, if any."""
        return self.received[0] if self.received else None

    @property
    def exit_code(self) -> int:
        """128 + the first signal, as a shell reports a process it ended; 0 without."""
        return 128 + self.received[0] if self.received else 0
