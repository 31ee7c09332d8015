"""Every subcommand with every combination of its output flags, on a small valid input:
each must work (exit 0) and none may end in an internal error. Grows with each command."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from tests.audio_devices import sounddevice_or_skip

from polyptt.cli import cli

OUTPUT_FLAGS = ("-q", "-v", "--json")
COMBINATIONS = [
    list(chosen)
    for size in range(len(OUTPUT_FLAGS) + 1)
    for chosen in itertools.combinations(OUTPUT_FLAGS, size)
]


#: loop's own output flags (it has no --json: its output is the live panel).
LOOP_COMBINATIONS = [[], ["-q"], ["-v"], ["-q", "-v"]]


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "beep.wav"
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(1600) / 16000)
    soundfile.write(path, tone, 16000)
    return path


@pytest.fixture(scope="module")
def short_page(short_wav: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pages") / "page.pcap"
    result = CliRunner().invoke(cli, ["send", "--pcap", str(path), "-q", str(short_wav)])
    assert result.exit_code == 0
    return path


def run(*arguments: str) -> None:
    result = CliRunner().invoke(cli, list(arguments), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "internal error" not in result.output
    assert "Traceback" not in result.output
    if "--json" in arguments:
        assert result.stdout.strip().startswith("{")


@pytest.mark.parametrize("flags", COMBINATIONS, ids=" ".join)
def test_send_to_a_capture(flags: list[str], short_wav: Path, tmp_path: Path) -> None:
    run("send", "--pcap", str(tmp_path / "out.pcap"), *flags, str(short_wav))


@pytest.mark.network
@pytest.mark.parametrize("flags", COMBINATIONS, ids=" ".join)
def test_send_on_the_network(flags: list[str], short_wav: Path) -> None:
    run("send", "--realtime", *flags, str(short_wav))


@pytest.mark.parametrize("flags", COMBINATIONS, ids=" ".join)
def test_listen_to_a_capture(flags: list[str], short_page: Path, tmp_path: Path) -> None:
    run("listen", "--pcap", str(short_page), "--no-play", "--record", str(tmp_path), *flags)


@pytest.mark.audio
@pytest.mark.parametrize("flags", LOOP_COMBINATIONS, ids=" ".join)
def test_loop_lists_devices(flags: list[str]) -> None:
    """The only way loop runs without a terminal (the panel itself is tested in a pty)."""
    sounddevice_or_skip()
    run("loop", "--list-devices", *flags)
