"""Background tasks are stopped for sure (relay/tasks.py), so that SIGTERM always ends a
relay: a task that loses one cancellation (as a client library's retry loop does when
Python 3.11's wait_for swallows it) is cancelled again; one that never ends is named."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from polyptt.relay.tasks import cancel_and_wait


async def _retry_loop(swallow: list[int]) -> None:
    """Retries forever, losing the first ``swallow[0]`` cancellations (as a refused
    connect racing a cancel does in nats-py's connect loop on Python 3.11)."""
    while True:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if swallow[0] == 0:
                raise
            swallow[0] -= 1


def test_a_task_that_loses_a_cancellation_is_cancelled_again() -> None:
    async def main() -> tuple[bool, bool]:
        task = asyncio.create_task(_retry_loop([2]))
        await asyncio.sleep(0.01)
        # what a single cancel-then-await did: the task goes on
        task.cancel()
        await asyncio.sleep(0.1)
        went_on = not task.done()
        return went_on, await cancel_and_wait([task, None], timeout=3)

    assert asyncio.run(main()) == (True, True)


def test_a_task_that_never_ends_is_named_and_left(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> tuple[bool, float]:
        swallow = [10**6]
        task = asyncio.create_task(_retry_loop(swallow), name="stubborn")
        await asyncio.sleep(0.01)
        started = time.monotonic()
        ended = await cancel_and_wait([task], timeout=0.5)
        took = time.monotonic() - started
        swallow[0] = 0  # let it go, so that the test's loop can close
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return ended, took

    with caplog.at_level(logging.WARNING, "polyptt.relay"):
        ended, took = asyncio.run(main())
    assert not ended
    assert 0.5 <= took < 1.5
    assert "background tasks did not stop within 0.5 s: stubborn" in caplog.text
