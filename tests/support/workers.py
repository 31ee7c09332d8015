"""Each pytest-xdist worker in a world of its own: its own loopback, its own sound devices.

The suite runs in parallel (``pytest -n``), all workers inside the one private network
namespace of ``tools/isolated``. Tests there listen on multicast groups, sniff every
datagram on loopback (`tests.udp_capture.WireSniffer`: the proof that a command sent
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
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.processes import only_loopback

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
