"""The extension's type stub stays true: it is what pybind11-stubgen makes of the module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

STUB = Path(__file__).resolve().parents[2] / "src" / "polyptt" / "_codec.pyi"


def test_committed_stub_matches_the_built_module(tmp_path: Path) -> None:
    pytest.importorskip("pybind11_stubgen", reason="pybind11-stubgen is in the test extra")
    subprocess.run(
        [sys.executable, "-m", "pybind11_stubgen", "polyptt._codec", "-o", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    generated = (tmp_path / "polyptt" / "_codec.pyi").read_text()
    assert generated == STUB.read_text(), (
        "src/polyptt/_codec.pyi is stale: regenerate it with "
        "`python -m pybind11_stubgen polyptt._codec -o src`"
    )
