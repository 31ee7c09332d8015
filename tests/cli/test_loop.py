"""``polyptt loop``'s usage rules: one-line errors, before the terminal is touched."""

from __future__ import annotations

import subprocess

import pytest
from click.testing import CliRunner
from tests.support.audio_devices import sounddevice_or_skip
from tests.support.processes import polyptt_command, polyptt_env

from polyptt.cli import cli


def test_without_a_terminal_it_refuses_and_points_to_send_and_listen() -> None:
    result = subprocess.run(
        polyptt_command("loop"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=polyptt_env(),
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "send --mic" in result.stderr
    assert "polyptt listen" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--codec", "g726qi", "--frame-ms", "20"], "30 ms frames only"),
        (["--frame-ms", "25"], "not a multiple of 10"),
        (["--channel", "51"], "channel"),
        (["--max-talk", "0"], "--max-talk"),
    ],
)
def test_bad_options_are_one_line_errors(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["loop", *arguments], prog_name="polyptt")
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.audio
def test_list_devices_needs_no_terminal() -> None:
    sounddevice_or_skip()
    result = CliRunner().invoke(cli, ["loop", "--list-devices"], prog_name="polyptt")
    assert result.exit_code == 0
    assert "virtual_speaker_monitor" in result.stdout


@pytest.mark.audio
def test_a_wrong_input_device_is_one_line_before_the_terminal_is_touched() -> None:
    import pexpect

    sounddevice_or_skip()
    child = pexpect.spawn(
        polyptt_command()[0],
        [*polyptt_command()[1:], "loop", "--input-device", "no-such-microphone"],
        env=polyptt_env(),
        encoding="utf-8",
        timeout=30,
    )
    child.expect(pexpect.EOF)
    child.close()
    output = child.before.strip()
    assert child.exitstatus == 2
    assert output.startswith("Error: Invalid value for '--input-device'")
    assert len(output.splitlines()) == 1
