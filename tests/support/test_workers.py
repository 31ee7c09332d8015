"""The lock that lets ``exclusive`` tests run alone under pytest-xdist (workers.Turns).

Threads stand in for workers: flock locks taken through different open files conflict
within one process as between processes.
"""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

import pytest
from tests.support.workers import LOCKS, Turns


@pytest.fixture
def locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A run's lock folder, seen from an xdist worker."""
    monkeypatch.setenv(LOCKS, str(tmp_path))
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw9")
    return tmp_path


def held(path: Path, how: int = fcntl.LOCK_EX) -> bool:
    """Whether someone holds `path` so that `how` would wait."""
    with path.open("a") as file:
        try:
            fcntl.flock(file, how | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def wait_until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_an_exclusive_test_waits_for_the_running_ones_and_holds_off_the_next(
    locks: Path,
) -> None:
    log: list[str] = []
    release_first = threading.Event()

    def test(name: str, exclusive: bool, until: threading.Event | None = None) -> None:
        with Turns().turn(exclusive=exclusive, next_exclusive=False):
            log.append(f"{name} in")
            if until is not None:
                until.wait(10)
            log.append(f"{name} out")

    first = threading.Thread(target=test, args=("first", False, release_first))
    first.start()
    wait_until(lambda: log == ["first in"])
    alone = threading.Thread(target=test, args=("alone", True))
    alone.start()
    wait_until(lambda: held(locks / "gate"))  # it waits, keeping the gate
    later = threading.Thread(target=test, args=("later", False))
    later.start()
    time.sleep(0.1)
    assert log == ["first in"]  # neither the exclusive test nor the next shared one ran
    release_first.set()
    for thread in (first, alone, later):
        thread.join(10)
    assert log == ["first in", "first out", "alone in", "alone out", "later in", "later out"]
    assert not held(locks / "gate")
    assert not held(locks / "run")


def test_exclusive_tests_back_to_back_keep_the_lock_between_them(locks: Path) -> None:
    turns = Turns()
    with turns.turn(exclusive=True, next_exclusive=True):
        assert held(locks / "run", fcntl.LOCK_SH)
    assert held(locks / "run", fcntl.LOCK_SH)  # kept for the next exclusive test
    assert held(locks / "gate")
    with turns.turn(exclusive=True, next_exclusive=False):
        pass
    assert not held(locks / "run")
    assert not held(locks / "gate")


def test_outside_an_xdist_worker_there_is_no_lock(
    locks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    with Turns().turn(exclusive=True, next_exclusive=False):
        assert list(locks.iterdir()) == []
