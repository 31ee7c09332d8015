"""Readers for the ITU-T G.191 vector files, importable by any test module.

They live here rather than in conftest.py because test modules cannot import conftest
under --import-mode=importlib.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_words(path: Path) -> np.ndarray:
    """A vector file as little-endian 16-bit words (the G.191 on-disk format)."""
    return np.fromfile(path, dtype="<i2").astype(np.int16)


def read_low_bytes(path: Path, count: int = -1) -> bytes:
    """Law codes or ADPCM code words stored right-justified in 16-bit words, as bytes.

    `count` limits the read to the first words, for files with trailing non-data.
    """
    words = np.fromfile(path, dtype="<u2", count=count)
    assert np.all(words <= 0xFF), f"{path.name}: a word does not fit in one byte"
    return words.astype(np.uint8).tobytes()
