"""Shared fixtures: where the ITU test vectors are, and how to read them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _find_testvectors() -> Path | None:
    env = os.environ.get("POLYPTT_TESTVECTORS")
    candidates = [Path(env)] if env else []
    candidates.append(PROJECT_ROOT.parent / "shared" / "testvectors")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def testvectors() -> Path:
    """The ITU-T G.191 conformance data ($POLYPTT_TESTVECTORS or ../shared/testvectors)."""
    found = _find_testvectors()
    if found is None:
        pytest.skip(
            "ITU test vectors not found: set POLYPTT_TESTVECTORS or place them in "
            "../shared/testvectors (CI has them)"
        )
    return found


def read_words(path: Path) -> np.ndarray:
    """A vector file as little-endian 16-bit words (the G.191 on-disk format)."""
    return np.fromfile(path, dtype="<i2").astype(np.int16)


def read_low_bytes(path: Path) -> bytes:
    """Law codes or ADPCM code words stored right-justified in 16-bit words, as bytes."""
    words = np.fromfile(path, dtype="<u2")
    assert np.all(words <= 0xFF), f"{path.name}: a word does not fit in one byte"
    return words.astype(np.uint8).tobytes()
