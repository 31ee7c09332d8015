"""Shared fixtures: where the ITU test vectors are, and how to read them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.vectors import read_low_bytes, read_words  # also reachable from here

__all__ = ["read_low_bytes", "read_words"]

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
