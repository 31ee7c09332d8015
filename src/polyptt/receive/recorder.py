"""Record every page: one 16-bit mono WAV at the codec's rate and a JSON beside it.

Files are named ``<UTC start>_ch<NN>_<caller-id slug>`` (``20261126T120000Z_ch26_front-
desk.wav`` and ``.json``) so that a directory listing sorts by time and a glob finds a
channel. The WAV is written as audio arrives (a second at a time, below) and closed when
the page ends, whatever the reason (end packets, timeout, Ctrl-C), so a monitor stopped
by its service manager leaves complete files (and a killed one all but its last second:
each second written goes to the kernel at once); the JSON is written last, atomically, and
its presence means the WAV beside it is final. The standard library's `wave` writes
them: unlike libsndfile's close it does not fsync, which cost 5 ms per page on the
receiving thread.

Audio is buffered in memory and written about once a second of it (`FLUSH_S`) rather
than once a packet: with 50 pages the per-packet writes were a tenth of the listener's
CPU. What is buffered is written whenever a page ends, whatever the reason; only a
killed process (SIGKILL, a crash) loses it, and such a process leaves WAV headers
without their final sizes anyway.

A page that carried no audio at all (alerts and ends only) gets its JSON, with ``codec``
null and no WAV.

The relay records the pages it sends the same way (`Recorder.open`, `Recorder.write`,
`Recorder.close`), keyed by its page id, with its own record of the page as the JSON.

Write errors
------------
The directory is probed with a scratch file when the recorder is made, so that a
read-only or foreign directory is refused before anything is received rather than
discovered page after page. A write that fails later (a full disk) costs that recording
only: it is reported once through `report` (the command's console) and counted in
`failures`, which the command turns into its exit status.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import unicodedata
import wave
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from polyptt.receive.session import Page, Pcm

__all__ = [
    "FLUSH_S",
    "RECORD_KEYS",
    "START_KEYS",
    "Recorder",
    "iso_utc",
    "page_record",
    "page_start_record",
    "slug",
]

#: Seconds of audio a recording holds in memory before writing them out.
FLUSH_S = 1.0


#: The keys of a recording's JSON, in order.
RECORD_KEYS = (
    "channel",
    "priority",
    "caller_id",
    "serial",
    "source",
    "codec",
    "frame_ms",
    "start",
    "end",
    "duration_s",
    "packets",
    "frames",
    "frames_repaired",
    "frames_concealed",
    "duplicates",
    "late",
    "end_reason",
)

#: The keys that identify a page while it runs (a ``page_start`` event), in order.
START_KEYS = ("channel", "priority", "caller_id", "serial", "source", "start")


def iso_utc(timestamp: float) -> str:
    """`timestamp` (seconds since the epoch) as UTC ISO 8601 with milliseconds and ``Z``."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def slug(text: str) -> str:
    """A caller id as a file-name part: ASCII letters, digits and dashes, lowercase.

    Accents are dropped rather than the letter (``"Accueil é"`` -> ``"accueil-e"``); an
    id with nothing left is ``"anonymous"``.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    return cleaned or "anonymous"


def page_record(page: Page) -> dict[str, Any]:
    """The metadata of an ended `page`, with exactly the keys the JSON file has."""
    end = page.end if page.end is not None else page.last
    return _record(page, RECORD_KEYS, end=iso_utc(end))


def page_start_record(page: Page) -> dict[str, Any]:
    """What is known of `page` when it starts: the `START_KEYS` of its record."""
    return _record(page, START_KEYS)


def _record(page: Page, keys: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    values = {**page.summary(), "start": iso_utc(page.start), **extra}
    return {name: values[name] for name in keys}


@dataclass
class _Recording:
    stem: Path
    file: Any = None
    wav: Any = None
    failed: bool = False
    pending: list[Pcm] = field(default_factory=list)  # audio not yet written
    pending_samples: int = 0
    flush_samples: int = 0  # set when the WAV is opened

    def flush(self) -> None:
        """Write the pending audio out (raises OSError like any write)."""
        if self.pending:
            chunk = np.concatenate(self.pending) if len(self.pending) > 1 else self.pending[0]
            self.pending.clear()
            self.pending_samples = 0
            self.wav.writeframesraw(np.asarray(chunk, dtype="<i2").tobytes())
            self.file.flush()  # to the kernel: a killed process loses at most this second


class Recorder:
    """A page listener that writes every page into `directory` (created if missing).

    Parameters
    ----------
    directory : Path
        Where recordings go.
    report : callable
        Told one line per recording that could not be written.

    Raises
    ------
    OSError
        If `directory` cannot be created or a file cannot be written in it.

    Attributes
    ----------
    finished : list of Path
        JSON files written, in order of the pages' ends.
    failures : int
        Write errors (each reported once per page); the listener goes on.
    """

    def __init__(self, directory: Path, report: Callable[[str], None]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=self.directory):
            pass  # writable: a scratch file can be made (and is gone again)
        self.report = report
        self.finished: list[Path] = []
        self.failures = 0
        self._open: dict[Hashable, _Recording] = {}  # pages hash by identity: cheap

    def page_started(self, page: Page) -> None:
        self.open(page, page.start, page.channel, page.caller_id)

    def page_audio(self, page: Page, pcm: Pcm, now: float) -> None:
        self.write(page, pcm, page.codec.sample_rate)

    def page_ended(self, page: Page) -> Path | None:
        """Finish `page`'s recording; its JSON's path, as `close` returns it."""
        return self.close(page, page_record(page))

    # A page heard is keyed by its `Page`; a page the relay sends, by anything hashable
    # (its id): both are written the same way, each with its own metadata.

    def open(self, key: Hashable, start: float, channel: int, caller_id: str) -> None:
        """Start recording the page `key`, which began at `start` (seconds since the
        epoch): its files are named now, so that a listing sorts by start."""
        stamp = datetime.fromtimestamp(start, tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        base = f"{stamp}_ch{channel:02d}_{slug(caller_id)}"
        taken = {r.stem.name for r in self._open.values()}
        stem, number = base, 1
        while stem in taken or any(
            (self.directory / f"{stem}{suffix}").exists() for suffix in (".wav", ".json")
        ):
            number += 1
            stem = f"{base}-{number}"
        self._open[key] = _Recording(self.directory / stem)

    def wav_path(self, key: Hashable) -> Path | None:
        """Where the page `key`'s WAV is (or will be, once it has audio); None if it is
        not being recorded."""
        recording = self._open.get(key)
        return None if recording is None else recording.stem.with_suffix(".wav")

    def write(self, key: Hashable, pcm: Pcm, rate: int) -> None:
        """Add audio (int16 mono at `rate`, the same all page long) to the page `key`."""
        recording = self._open.get(key)
        if recording is None or recording.failed:
            return
        try:
            if recording.wav is None:
                # the file is opened here, not by wave: a failed wave.open leaves an object
                # whose __del__ raises
                recording.file = recording.stem.with_suffix(".wav").open("wb")
                recording.wav = wave.open(recording.file, "wb")  # noqa: SIM115 (page-long)
                recording.wav.setnchannels(1)
                recording.wav.setsampwidth(2)
                recording.wav.setframerate(rate)
                recording.flush_samples = round(FLUSH_S * rate)
            recording.pending.append(pcm)
            recording.pending_samples += len(pcm)
            if recording.pending_samples >= recording.flush_samples:
                recording.flush()
        except OSError as error:
            self._fail(recording, error)

    def close(self, key: Hashable, record: dict[str, Any]) -> Path | None:
        """Finish the page `key`: its WAV, then `record` as its JSON. Returns the JSON's
        path, or None if the page was not being recorded or could not be written."""
        recording = self._open.pop(key, None)
        if recording is None:
            return None
        if recording.failed:  # no JSON: it would vouch for a WAV that is incomplete
            for closable in (recording.wav, recording.file):  # wave's first, or its __del__
                with contextlib.suppress(OSError, ValueError):  # writes to a closed file
                    if closable is not None:
                        closable.close()
            return None
        try:
            if recording.wav is not None:
                recording.flush()
                recording.wav.close()  # writes the final sizes into the header
                recording.file.close()
            target = recording.stem.with_suffix(".json")
            temporary = recording.stem.with_suffix(".json.part")
            temporary.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
            temporary.replace(target)
        except OSError as error:
            self._fail(recording, error)
            return None
        self.finished.append(target)
        return target

    def _fail(self, recording: _Recording, error: OSError) -> None:
        """A full disk or a vanished directory costs this recording, not the listener."""
        if not recording.failed:
            self.report(f"cannot record {recording.stem.name}: {error.strerror or error}")
        recording.failed = True
        self.failures += 1
