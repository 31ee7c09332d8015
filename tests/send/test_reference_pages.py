"""``polyptt send`` puts exactly the pages it put before the sender was rebuilt.

The captures in tests/data/send_reference were written by the previous sender (see the
README there); the same command now must give the same datagrams at the same offsets.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from polyptt.cli import cli
from polyptt.pcap import read_datagrams

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "data" / "send_reference"
CHIME = ROOT / "examples" / "audio" / "chime.wav"
SPEECH = ROOT / "tests" / "data" / "speech16k.wav"

CASES = {
    "chime-g722-30": ["--codec", "g722", "--frame-ms", "30", str(CHIME)],
    "chime-g711u-20": ["--codec", "g711u", "--frame-ms", "20", str(CHIME)],
    "chime-g726qi-30": ["--codec", "g726qi", "--frame-ms", "30", str(CHIME)],
    "speech-g722-20-repeat": [
        *("--codec", "g722", "--frame-ms", "20", "--repeat", "2", "--gap", "0.25"),
        *("--gain", "-3", str(SPEECH)),
    ],
}


def _page(path: Path) -> list[tuple[int, bytes]]:
    """(nanoseconds after the first packet, UDP payload) of every datagram."""
    datagrams = list(read_datagrams(path))
    first = datagrams[0].time
    return [(round((d.time - first) * 1e9), d.payload) for d in datagrams]


@pytest.mark.parametrize("name", sorted(CASES))
def test_send_writes_the_reference_page(name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.pcap"
    arguments = [
        *("send", "--iface", "127.0.0.1", "--to", "224.0.1.116:5001", "--serial"),
        *("0x0A1B2C3D", "--caller-id", "Reference", "--start-count", "123456789"),
        *("--pcap", str(out), "-q", *CASES[name]),
    ]
    result = CliRunner().invoke(cli, arguments, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    now, before = _page(out), _page(REFERENCE / f"{name}.pcap")
    assert len(now) == len(before)
    assert [payload for _t, payload in now] == [payload for _t, payload in before]
    # the offsets as written (nanoseconds); read back as float seconds since the epoch
    # they carry about 0.24 us of rounding
    offsets_now, offsets_before = [t for t, _p in now], [t for t, _p in before]
    assert offsets_now == pytest.approx(offsets_before, abs=500)
