"""How tests start ``python -m polyptt`` as a real process."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import polyptt

#: The folder that holds the polyptt under test: site-packages when it is installed
#: (CI), src/ with its in-place extension in development.
PACKAGE_PARENT = Path(polyptt.__file__).resolve().parent.parent


def polyptt_env(first: Sequence[Path | str] = ()) -> dict[str, str]:
    """The environment for a child ``python -m polyptt`` that imports the polyptt under test.

    `first` entries come before it on PYTHONPATH (to stand in for modules, e.g. a
    sounddevice that cannot find PortAudio).
    """
    paths = [*map(str, first), str(PACKAGE_PARENT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


#: Environment every polyptt command run by a test inherits: multicast leaves through
#: loopback only, with TTL 0 (never beyond this host), whatever a test forgets to pass.
LOOPBACK_ENV = {"POLYPTT_IFACE": "127.0.0.1", "POLYPTT_TTL": "0"}


def polyptt_command(*args: str) -> list[str]:
    """The argv of ``python -m polyptt ARGS`` with this interpreter."""
    return [sys.executable, "-m", "polyptt", *args]


def only_loopback() -> bool:
    """True inside the test network namespace (tools/isolated): lo only."""
    return [name for _index, name in socket.if_nameindex()] == ["lo"]
