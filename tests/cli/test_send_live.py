"""``polyptt send --mic`` and ``--raw`` as real processes, and their usage rules."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from tests.support.audio_devices import align, one_clean_run, sounddevice_or_skip
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.udp_capture import UdpCapture, WireSniffer, free_port

from polyptt import protocol
from polyptt.audio.framer import Framer
from polyptt.cli import cli
from polyptt.pcap import read_datagrams

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech16k.wav"


def speech(seconds: float) -> np.ndarray:
    pcm, _rate = soundfile.read(SPEECH, dtype="int16")
    return pcm[: int(seconds * 16000)]


def page_in(path: Path) -> tuple[list[int], list[bytes]]:
    """Op codes of every datagram and the new frame of every transmit packet."""
    ops, frames, previous = [], [], 0
    for datagram in read_datagrams(path):
        ops.append(datagram.payload[0])
        if datagram.payload[0] == protocol.OpCode.TRANSMIT:
            frames.append(datagram.payload[26 + previous :])
            previous = len(frames[-1])
    return ops, frames


def recorded_page(capture: Path, directory: Path) -> np.ndarray:
    """The page in `capture` as ``polyptt listen --record`` records it."""
    result = subprocess.run(
        polyptt_command("listen", "--pcap", str(capture), "--record", str(directory), "-q"),
        env=polyptt_env(),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (wav,) = directory.glob("*.wav")
    pcm, _rate = soundfile.read(wav, dtype="int16")
    return pcm


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--mic", "x.wav"], "--mic takes no FILE"),
        (["--mic", "--raw", "8000"], "--mic takes no FILE and no --raw"),
        (["--input-device", "1", "x.wav"], "--input-device goes with --mic"),
        (["--keep-pauses", "--raw", "8000", "-"], "--keep-pauses goes with --mic"),
        (["--raw", "16000", "--repeat", "2", "-"], "--repeat is for files"),
        (["--mic", "--gap", "2"], "--gap is for files"),
        (["--raw", "100", "-"], "100 is not in the range 4000<=x<=192000"),
    ],
)
def test_live_usage_errors_send_nothing(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["send", *arguments], prog_name="polyptt")
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_raw_from_a_pipe_is_paged_as_it_arrives(tmp_path: Path) -> None:
    pcm = speech(1.5)
    out = tmp_path / "raw.pcap"
    process = subprocess.Popen(
        polyptt_command(
            *("send", "--raw", "16000", "--frame-ms", "20", "--pcap", str(out), "--json", "-")
        ),
        env=polyptt_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    for index in range(0, len(pcm), 320):  # 20 ms at a time, in real time
        process.stdin.write(pcm[index : index + 320].astype("<i2").tobytes())
        process.stdin.flush()
        time.sleep(0.02)
    stdout, stderr = process.communicate(timeout=30)  # closes stdin: end of file
    assert process.returncode == 0, stderr
    summary = json.loads(stdout)
    framer = Framer("g722", 20)
    expected = framer.push(pcm) + framer.flush()
    ops, frames = page_in(out)
    assert frames == expected
    assert ops.count(protocol.OpCode.ALERT) == 31
    assert ops.count(protocol.OpCode.END) == 12
    assert summary["source"] == "raw"
    assert summary["frames"] == len(expected)


def _files(folder: Path) -> dict[str, Path]:
    """tone.mp3 and tone.wav, as a user would have them, and an empty file."""
    tone = (np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000) * 16000).astype(np.int16)
    files = {"mp3": folder / "tone.mp3", "wav": folder / "tone.wav", "empty": folder / "empty"}
    soundfile.write(files["mp3"], tone, 16000, format="MP3")
    soundfile.write(files["wav"], tone, 16000)
    files["empty"].write_bytes(b"")
    return files


RAW_REFUSED = {
    "mp3": "{} looks like an MP3 file (MPEG audio frames), not raw PCM: drop --raw to page "
    "it as a file",
    "wav": "{} looks like a WAV file (RIFF/WAVE), not raw PCM: drop --raw to page it as a file",
    "empty": "{}: ended before any audio (expected raw 16-bit PCM)",
}


@pytest.mark.network
@pytest.mark.parametrize("via", ["file", "stdin", "relay"])
@pytest.mark.parametrize("kind", RAW_REFUSED)
def test_raw_refuses_audio_files_and_streams_without_audio(
    tmp_path: Path, kind: str, via: str
) -> None:
    """``send --raw 16000 tone.mp3``, a WAV piped in, ``false | send --raw 16000 -``: one
    line, exit 2, and not one packet. Through a relay too, before connecting to it (no
    relay listens at the URL: trying would be exit 1)."""
    path = _files(tmp_path)[kind]
    args = ["send", "--raw", "16000", "-" if via != "file" else str(path)]
    if via == "relay":
        args[1:1] = ["--relay", f"http://127.0.0.1:{free_port()}", "--token", "t"]
    with WireSniffer() as sniffer, path.open("rb") as stdin:
        result = subprocess.run(
            polyptt_command(*args),
            stdin=stdin if via != "file" else subprocess.DEVNULL,
            env=polyptt_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        time.sleep(0.3)
    name = str(path) if via == "file" else "standard input"
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"Error: Invalid value for FILE: {RAW_REFUSED[kind].format(name)} "
        "(see 'polyptt send --help')\n"
    )
    assert sniffer.datagrams == []


@pytest.mark.network
def test_raw_page_waits_for_its_first_audio(tmp_path: Path) -> None:
    """No alert goes out while the producer is still silent (a text-to-speech engine
    starting up); the page starts when its first audio does, and carries all of it."""
    pcm = speech(0.5)
    port = free_port()
    with UdpCapture(port) as capture:
        process = subprocess.Popen(
            polyptt_command(
                *("send", "--raw", "16000", "--frame-ms", "20", "--to", f"224.0.1.116:{port}"),
                "-",
            ),
            env=polyptt_env(),
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdin is not None
        time.sleep(1.5)
        assert capture.packets == []  # nothing yet: no audio yet
        first_audio = time.time()
        process.stdin.write(pcm.astype("<i2").tobytes())
        _out, stderr = process.communicate(timeout=30)
        packets = capture.wait_quiet()
    assert process.returncode == 0, stderr
    ops = [datagram[0] for _when, datagram in packets]
    kinds = (protocol.OpCode.ALERT, protocol.OpCode.TRANSMIT, protocol.OpCode.END)
    assert ops == [kinds[0]] * 31 + [kinds[1]] * 25 + [kinds[2]] * 12
    assert packets[0][0] >= first_audio


@pytest.mark.audio
def test_mic_page_carries_what_the_microphone_heard(tmp_path: Path) -> None:
    """Speech played into the virtual microphone arrives in the recorded page (one clean
    run in three: the VM may starve the audio threads, see
    `tests.support.audio_devices.one_clean_run`)."""
    sounddevice_or_skip()
    one_clean_run(_mic_page, tmp_path)


def _mic_page(tmp_path: Path) -> None:
    clip = speech(2.5)
    wav = tmp_path / "clip.wav"
    soundfile.write(wav, clip, 16000)
    out = tmp_path / "mic.pcap"
    process = subprocess.Popen(
        polyptt_command(
            *("send", "--mic", "--duration", "5", "--frame-ms", "20", "--pcap", str(out))
        ),
        env=polyptt_env(),
        stderr=subprocess.PIPE,
    )
    time.sleep(1.0)  # the page is under way; the microphone captures from its first alert
    subprocess.run(["paplay", "-d", "micsink", str(wav)], check=True, timeout=30)
    _stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    ops, frames = page_in(out)
    assert len(frames) == 250  # --duration 5: exactly 5 s of 20 ms frames
    assert ops.count(protocol.OpCode.ALERT) == 31
    assert ops.count(protocol.OpCode.END) == 12
    recorded = recorded_page(out, tmp_path / "pages")
    _lag, corr = align(recorded, clip)
    assert corr > 0.95


@pytest.mark.audio
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_mic_page_stopped_by_a_signal_ends_properly(
    tmp_path: Path, signum: int, status: int
) -> None:
    """The first signal stops the capture; what was captured is sent, then the ends."""
    sounddevice_or_skip()
    out = tmp_path / "mic.pcap"
    process = subprocess.Popen(
        polyptt_command("send", "--mic", "--frame-ms", "20", "--pcap", str(out), "--json"),
        env=polyptt_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(2.5)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == status, stderr
    summary = json.loads(stdout)
    ops, frames = page_in(out)
    assert ops[:31] == [protocol.OpCode.ALERT] * 31
    assert ops[-12:] == [protocol.OpCode.END] * 12
    assert summary["interrupted"] == signal.Signals(signum).name
    # about 2.5 s minus start-up was captured, and none of it was cut off
    assert 50 <= len(frames) == summary["frames"] <= 125


def test_mic_without_portaudio_is_one_line_and_no_page(tmp_path: Path) -> None:
    """A stand-in sounddevice that fails as the real one does without libportaudio2
    (PortAudio is installed here, so its absence can only be simulated)."""
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "sounddevice.py").write_text('raise OSError("PortAudio library not found")\n')
    out = tmp_path / "never.pcap"
    result = subprocess.run(
        polyptt_command("send", "--mic", "--pcap", str(out)),
        env=polyptt_env(first=[fake]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "Error: no audio devices: PortAudio library not found (install libportaudio2)\n"
    )
    assert not out.exists()


@pytest.mark.audio
def test_mic_unknown_device_is_one_line_and_no_page(tmp_path: Path) -> None:
    sounddevice_or_skip()
    out = tmp_path / "never.pcap"
    result = subprocess.run(
        polyptt_command("send", "--mic", "--input-device", "no such mic", "--pcap", str(out)),
        env=polyptt_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("Error: Invalid value for '--input-device': input device")
    assert len(result.stderr.splitlines()) == 1
    assert not out.exists()
