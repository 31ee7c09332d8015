"""Stopping the relay's background tasks for sure, so that a relay always exits.

A task cancelled once does not always end: on Python 3.11, `asyncio.wait_for` can lose a
cancellation that arrives as its inner operation fails (a refused connection, say), and a
client library that retries in a loop (nats-py's connect, an MQTT reconnect) then goes on
to its next try. Awaiting such a task after one `cancel` hangs the relay's shutdown, and
SIGTERM then never ends the relay. `cancel_and_wait` cancels again until the tasks end,
within a bound, and says which did not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

__all__ = ["cancel_and_wait"]

log = logging.getLogger("polyptt.relay")

#: How long each round waits for the cancelled tasks to end.
ROUND_S = 0.2


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[object] | None], timeout: float = 3.0
) -> bool:
    """Cancel `tasks` (None entries are skipped) and wait until they end, cancelling again
    every `ROUND_S`; whether all ended within `timeout`. What a task raised is not
    re-raised (it was being stopped)."""
    pending = {task for task in tasks if task is not None and not task.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            names = ", ".join(sorted(task.get_name() for task in pending))
            log.warning("background tasks did not stop within %g s: %s", timeout, names)
            return False
        _done, pending = await asyncio.wait(pending, timeout=min(ROUND_S, left))
    return True
