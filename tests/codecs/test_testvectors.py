"""The repository's copy of the ITU-T conformance vectors is intact and complete."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

#: A line of g726/ts-crcs: file name, CRC-32 of its little-endian words, of the
#: big-endian ones, and its size in bytes.
_CRC_LINE = re.compile(r"(?P<name>\S+)\s+(?P<le>[0-9A-F]{8})\s+[0-9A-F]{8}\s+(?P<size>\d+)")


def test_every_g726_vector_matches_the_itu_crc_and_size(testvectors: Path) -> None:
    folder = testvectors / "g726"
    listed = [
        match
        for line in (folder / "ts-crcs").read_text().splitlines()
        if (match := _CRC_LINE.fullmatch(line.strip()))
    ]
    assert len(listed) == 130  # reset (rn, rv), homing (hn, hv, pcm_init, i_ini), ri, i
    for entry in listed:
        data = (folder / entry["name"]).read_bytes()
        assert len(data) == int(entry["size"]), entry["name"]
        assert f"{zlib.crc32(data):08X}" == entry["le"], entry["name"]


def test_the_licence_and_readme_travel_with_the_vectors(testvectors: Path) -> None:
    licence = (testvectors / "LICENSE-ITU-T-STL.md").read_text()
    assert licence.startswith("ITU-T SOFTWARE TOOLS' GENERAL PUBLIC LICENSE")
    assert {"g711", "g722", "g726"} <= {p.name for p in testvectors.iterdir() if p.is_dir()}
    assert "LICENSE-ITU-T-STL.md" in (testvectors / "README.md").read_text()
