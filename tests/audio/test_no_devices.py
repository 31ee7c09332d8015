"""A machine without a sound card: the commands say so in the user's terms.

Every command runs as a real process in an environment where PortAudio sees no device at
all (`tests.audio_devices.no_audio_env` says how). No option is blamed that the user did
not give, every message says how to list the devices, and a listener that was not asked
to play says nothing about playing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pexpect
import pytest
from tests.support.audio_devices import no_audio_env
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.relay_audio import CHIME
from tests.support.udp_capture import free_port

from polyptt.protocol import DEFAULT_GROUP

HINT = "'polyptt loop --list-devices' lists the audio devices"
NO_MICROPHONE = f"Error: there is no audio input device (microphone) here; {HINT}\n"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return no_audio_env(tmp_path, polyptt_env())


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        polyptt_command(*args), env=env, capture_output=True, text=True, timeout=60
    )


def test_list_devices_says_there_are_none(env: dict[str, str]) -> None:
    result = _run(env, "loop", "--list-devices")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        "no audio devices: PortAudio sees no sound card, and no sound server "
        "(PulseAudio, PipeWire) that it can reach\n"
    )


@pytest.mark.parametrize(
    "through", [["--pcap", "never.pcap"], ["--relay", "http://127.0.0.1:9", "--token", "t"]]
)
def test_send_mic_says_there_is_no_microphone(
    env: dict[str, str], tmp_path: Path, through: list[str]
) -> None:
    """Locally and through a relay (never contacted: a closed port would be an error
    of its own), before anything is sent or written."""
    result = subprocess.run(
        polyptt_command("send", "--mic", *through),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert (result.returncode, result.stderr, result.stdout) == (2, NO_MICROPHONE, "")
    assert not (tmp_path / "never.pcap").exists()


@pytest.mark.parametrize(("device", "shown"), [("3", "3"), ("USB", "'USB'")])
def test_a_microphone_asked_for_by_name_or_number_is_named(
    env: dict[str, str], tmp_path: Path, device: str, shown: str
) -> None:
    result = _run(env, "send", "--mic", "--input-device", device, "--pcap", str(tmp_path / "x"))
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: Invalid value for '--input-device': input device {shown}: no such device; "
        f"{HINT} (see 'polyptt send --help')\n"
    )


def test_loop_says_there_is_no_microphone(env: dict[str, str]) -> None:
    """At a terminal (loop needs one), before the terminal is switched to raw keys."""
    command = polyptt_command("loop")
    child = pexpect.spawn(command[0], command[1:], env=env, encoding="utf-8", timeout=30)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert child.before.replace("\r\n", "\n") == NO_MICROPHONE


@pytest.mark.network
@pytest.mark.parametrize(
    ("flags", "stderr"),
    [
        ([], ""),
        (["-q", "--play"], ""),
        (
            ["--play"],
            f"Warning: cannot play: there is no audio output device (speaker) here; {HINT}; "
            "not playing, still reporting and recording\n",
        ),
        (
            ["-v"],
            f"cannot play: there is no audio output device (speaker) here; {HINT}; not playing\n",
        ),
    ],
)
def test_listen_warns_about_playing_only_if_asked_to_play(
    env: dict[str, str], flags: list[str], stderr: str
) -> None:
    """Playing by default means "where there is a speaker": none is no warning (a cron
    job would mail it every time); ``--play`` asked for it, and is told."""
    port = free_port()
    listening = ["listen", *flags, "--from", f"{DEFAULT_GROUP}:{port}", "--timeout", "0.3"]
    result = _run(env, *listening)
    assert result.returncode == 0
    assert result.stderr.split("0 datagrams")[0] == stderr  # -v adds its summary after


def test_sending_a_file_needs_no_audio_device(env: dict[str, str], tmp_path: Path) -> None:
    """The positive control: the same environment pages a file."""
    result = _run(env, "send", "--pcap", str(tmp_path / "page.pcap"), str(CHIME))
    assert (result.returncode, result.stderr) == (0, "")
    assert (tmp_path / "page.pcap").stat().st_size > 0
