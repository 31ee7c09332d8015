"""Shared fixtures: where the ITU test vectors are (readers are in tests/vectors.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.processes import LOOPBACK_ENV, only_loopback

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _find_testvectors() -> Path | None:
    env = os.environ.get("POLYPTT_TESTVECTORS")
    if env:
        # Set on purpose (CI sets it): a wrong path is an error, never a quiet skip.
        if not Path(env).is_dir():
            pytest.fail(f"POLYPTT_TESTVECTORS={env} is not a directory", pytrace=False)
        return Path(env)
    default = PROJECT_ROOT.parent / "shared" / "testvectors"
    return default if default.is_dir() else None


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


@pytest.fixture(autouse=True)
def _pin_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in LOOPBACK_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("POLYPTT_TO", "POLYPTT_CALLER_ID", "POLYPTT_SERIAL"):
        monkeypatch.delenv(name, raising=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``network`` send real packets: only inside the private namespace."""
    if only_loopback():
        return
    skip = pytest.mark.skip(
        reason="sends packets: run the tests inside ../shared/tools/isolated (loopback only)"
    )
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)
