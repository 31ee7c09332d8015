"""Make the WAV of a page cut off by a crash playable again.

A recording is written as its audio arrives, about a second at a time, and its header
only gets its final sizes when the page ends (the standard library's `wave` writes them
at close). A relay killed mid-page (SIGKILL, a power cut of the process) leaves a file
whose header says "0 bytes of audio" followed by every second it flushed.
`repair_wav` gives such a file the sizes of the audio it holds: whole sample frames up
to the end of the file (a half-written last sample is cut off).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WavRepair", "repair_wav"]


@dataclass(frozen=True)
class WavRepair:
    """What `repair_wav` found: the audio's rate and length."""

    rate: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate if self.rate else 0.0


def repair_wav(path: Path) -> WavRepair | None:
    """Rewrite `path`'s RIFF and data sizes to match the audio in it; None if it is no
    WAV (too short for a header, or not RIFF/WAVE with a ``fmt `` and a ``data`` chunk).

    Raises
    ------
    OSError
        It cannot be read or written.
    """
    with path.open("r+b") as file:
        head = file.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        rate = align = 0
        while True:
            chunk = file.read(8)
            if len(chunk) < 8:
                return None
            kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if kind == b"data":
                break
            body = file.read(size + (size & 1))
            if kind == b"fmt " and len(body) >= 16:
                _fmt, _channels, rate, _bps, align, _bits = struct.unpack("<HHIIHH", body[:16])
        if not rate or not align:
            return None
        start = file.tell()
        end = file.seek(0, 2)
        frames = (end - start) // align
        data_size = frames * align
        file.truncate(start + data_size)
        file.seek(start - 4)
        file.write(struct.pack("<I", data_size))
        file.seek(4)
        file.write(struct.pack("<I", start + data_size - 8))
    return WavRepair(rate, frames)
