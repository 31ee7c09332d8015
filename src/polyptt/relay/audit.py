"""The audit log: one JSON object per line for every security-relevant event.

Who (the token's name), what (channel, target, duration, outcome), when (UTC) and from
where (the client's address). Never audio, never a token: the log is meant to be read
by people who should not learn the secrets it is about.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, TextIO

from polyptt.receive.recorder import iso_utc

__all__ = ["AuditLog"]


class AuditLog:
    """Append events to `path` (created with its folder, by `open`); None: memory only.

    Each line is flushed as it is written: a relay killed by SIGKILL loses no event it
    logged before.

    Attributes
    ----------
    events : list of dict
        The last events logged (at most `keep`), for tests and ``/metrics``.
    """

    def __init__(self, path: Path | None, *, keep: int = 1000) -> None:
        self.path = path
        self.events: list[dict[str, Any]] = []
        self._keep = keep
        self._file: TextIO | None = None

    def open(self) -> None:
        """Open the file for appending (raises OSError)."""
        if self.path is not None and self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")

    def log(self, event: str, **fields: Any) -> None:
        """Record `event` with `fields` (JSON-able values; None values are left out)."""
        record = {"time": iso_utc(time.time()), "event": event}
        record.update((k, v) for k, v in fields.items() if v is not None)
        self.events.append(record)
        del self.events[: -self._keep]
        if self._file is not None:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
