"""The relay's recordings: `polyptt.receive.recorder`'s files, in the store.

Where: ``--record DIR`` if given, else ``recordings/`` in the data directory (a relay
with no data directory, as in library use, records nothing unless told a folder).
Which: the config's ``record`` names the directions recorded (``["heard", "sent"]`` by
default; ``[]`` records nothing, the pages are still listed).

A failed write (a full disk, a folder gone) stops recording altogether: one error is
logged, `RelayRecorder.failures` counts it (``polyptt_relay_recording_errors_total``),
the recordings it cut short are removed (its JSON was never written, and a partial WAV
would only take more room), and pages go on being sent, heard and listed, without
recordings, until the relay is restarted.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Hashable
from pathlib import Path
from typing import Any

from polyptt.receive.recorder import Recorder, _Recording

__all__ = ["DIRECTIONS", "RelayRecorder", "recordings_dir"]

log = logging.getLogger("polyptt.relay.store")

#: A page's directions, as its record says them (and the config's ``record`` lists them).
DIRECTIONS = ("heard", "sent")


def recordings_dir(record: Path | None, data: Path | None) -> Path | None:
    """Where recordings go: `record` (``--record``), else the data directory's
    ``recordings``, else nowhere."""
    if record is not None:
        return record
    return None if data is None else data / "recordings"


class RelayRecorder(Recorder):
    """A `Recorder` for some directions only, that stops at the first failed write.

    Parameters
    ----------
    directory : Path
    directions : collection of str
        The directions (`DIRECTIONS`) recorded.
    """

    def __init__(self, directory: Path, directions: Collection[str] = DIRECTIONS) -> None:
        super().__init__(directory, log.error)
        self.directions = frozenset(directions)
        #: Recording stopped after a failed write.
        self.stopped = False

    def records(self, direction: str) -> bool:
        """Whether a page of `direction` starting now is recorded."""
        return not self.stopped and direction in self.directions

    def write(self, key: Hashable, pcm: Any, rate: int) -> None:
        if not self.stopped:
            super().write(key, pcm, rate)

    def close(self, key: Hashable, record: dict[str, Any]) -> Path | None:
        """As `Recorder.close`; a recording cut short by a failure is removed."""
        recording = self._open.get(key)
        saved = super().close(key, record)
        if saved is None and recording is not None and recording.failed:
            with contextlib.suppress(OSError):
                recording.stem.with_suffix(".wav").unlink()
        return saved

    def _fail(self, recording: _Recording, error: OSError) -> None:
        """The first failure stops recording (one line in the log); all are counted."""
        recording.failed = True
        self.failures += 1
        if not self.stopped:
            self.stopped = True
            for other in self._open.values():
                other.failed = True  # cut short too: removed when they end
            log.error(
                "recording stopped: cannot write %s: %s; pages go on without recordings "
                "until the relay is restarted",
                recording.stem.with_suffix(".wav"),
                error.strerror or error,
            )
