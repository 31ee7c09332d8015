"""Each pytest-xdist worker in a world of its own: its own loopback, its own sound devices;
and the tests that need the machine to themselves get it.

The suite runs in parallel (``pytest -n``), all workers inside the one private network
namespace of ``tools/isolated``. Tests there listen on multicast groups, sniff every
datagram on loopback (`tests.support.udp_capture.WireSniffer`: the proof that a command sent
nothing), and play to and record from the virtual speaker of ``tools/virtual-audio``.
Two workers sharing one loopback or one speaker would hear each other's pages and
sounds. So each worker, before it collects a test:

- moves into a network namespace of its own (``unshare(CLONE_NEWNET)``; its loopback
  set up as ``tools/isolated`` sets up the outer one), and
- starts virtual sound devices of its own (``tools/virtual-audio start``), if the run
  has them, and points PortAudio and PulseAudio at them.

The tests then run in the worker's main thread (xdist's ``main_thread_only`` model), so
their sockets, threads and child processes are all in the worker's namespace. Nothing
here happens outside the test namespace: a worker not inside one is left alone (its
network tests are skipped, as in a run without ``-n``).

A test marked ``exclusive`` runs with no other test beside it (`turn`): one that plays
to the virtual speaker and checks what came out underruns whenever another process
keeps a CPU busy (even at the lowest priority, on this 2-vCPU VM), and one that bounds
real-time lateness measures the machine's load as much as the code. The workers share
a readers-writer lock (``flock`` on two files in a folder the controller makes, named
by ``POLYPTT_TEST_LOCKS``): every test holds it shared, an exclusive one alone, and a
waiting exclusive test lets no new test start.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from tests.support.processes import only_loopback

#: The environment variable naming the run's lock folder (set by the controller).
LOCKS = "POLYPTT_TEST_LOCKS"
VIRTUAL_AUDIO = Path(__file__).resolve().parents[2] / "tools" / "virtual-audio"
_CLONE_NEWNET = 0x40000000
_LOOPBACK_SETUP = (
    ("ip", "link", "set", "lo", "up"),
    ("ip", "link", "set", "lo", "multicast", "on"),
    ("ip", "route", "add", "224.0.0.0/4", "dev", "lo", "src", "127.0.0.1"),
)


def worker_name() -> str | None:
    """The xdist worker this process is (``gw0``...), None when not run by xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def own_network() -> None:
    """Move this thread (and all it starts) into a fresh namespace with loopback only."""
    if not only_loopback():
        return  # not in the test namespace: change nothing
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"xdist worker: unshare(CLONE_NEWNET): {os.strerror(errno)}")
    for command in _LOOPBACK_SETUP:
        subprocess.run(command, check=True)


def has_virtual_audio() -> bool:
    """True if the run is under ``tools/virtual-audio`` (its ALSA configuration is set)."""
    return os.environ.get("ALSA_CONFIG_PATH", "").endswith("/asoundrc")


def own_audio(name: str) -> Path | None:
    """Start virtual sound devices for this worker alone; returns their folder (for
    `stop_audio`), None if the run has no virtual devices. Must run before sounddevice
    is imported: PortAudio lists the devices once."""
    if not has_virtual_audio():
        return None
    folder = Path(tempfile.mkdtemp(prefix=f"polyptt-audio-{name}."))
    exports = subprocess.run(
        [str(VIRTUAL_AUDIO), "start", str(folder)], check=True, capture_output=True, text=True
    ).stdout
    for variable in ("PULSE_SERVER", "PULSE_RUNTIME_PATH"):
        os.environ.pop(variable, None)
    os.environ.update(re.findall(r"(\w+)='([^']*)'", exports))
    return folder


def stop_audio(folder: Path) -> None:
    """Stop the worker's sound devices and remove their folder."""
    subprocess.run([str(VIRTUAL_AUDIO), "stop", str(folder)], check=False)
    shutil.rmtree(folder, ignore_errors=True)


def make_locks() -> Path:
    """The controller's folder for the workers' lock files (inherited through the
    environment, so before the workers start); remove it with `remove_locks`."""
    folder = Path(tempfile.mkdtemp(prefix="polyptt-test-locks."))
    os.environ[LOCKS] = str(folder)
    return folder


def remove_locks(folder: Path) -> None:
    os.environ.pop(LOCKS, None)
    shutil.rmtree(folder, ignore_errors=True)


class Turns:
    """This worker's place in the run's lock (see the module's docstring).

    Exclusive tests come first in the run (`first_exclusive`), all to the first
    worker: it runs them back to back, keeping the lock from one to the next, while the
    other workers wait; then every worker runs the rest, side by side.
    """

    def __init__(self) -> None:
        self._held: tuple[IO[str], IO[str]] | None = None  # the gate and the run lock

    @contextlib.contextmanager
    def turn(self, *, exclusive: bool, next_exclusive: bool) -> Iterator[None]:
        """Hold the lock while a test runs: shared, or alone if `exclusive` (and on to
        the next test if that is exclusive too). A no-op outside an xdist worker."""
        folder = os.environ.get(LOCKS)
        if folder is None or worker_name() is None:
            yield
            return
        if self._held is None:
            self._held = self._take(Path(folder), exclusive=exclusive)
        try:
            yield
        finally:
            if not (exclusive and next_exclusive):
                for file in self._held:
                    file.close()  # releases its lock
                self._held = None

    @staticmethod
    def _take(folder: Path, *, exclusive: bool) -> tuple[IO[str], IO[str]]:
        """The gate, then the run lock. A test passes the gate to get in; an exclusive
        one keeps it while it waits for the running tests and while it runs, so that no
        test starts meanwhile."""
        gate, run = (folder / "gate").open("a"), (folder / "run").open("a")
        fcntl.flock(gate, fcntl.LOCK_EX)
        fcntl.flock(run, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        if not exclusive:
            fcntl.flock(gate, fcntl.LOCK_UN)
        return gate, run


def first_exclusive(items: list[Any]) -> None:
    """Put the tests marked ``exclusive`` first, in their order (xdist hands the first
    worker the first tests of the run: it then runs them all, alone, at the start)."""
    items.sort(key=lambda item: item.get_closest_marker("exclusive") is None)
