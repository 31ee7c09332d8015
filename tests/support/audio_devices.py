"""Test helpers for the real (virtual) audio devices and for comparing audio."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest


def sounddevice_or_skip() -> Any:
    """sounddevice with the virtual devices up, or skip saying what is missing."""
    try:
        import sounddevice
    except OSError as exc:
        pytest.skip(f"PortAudio missing ({exc}): install libportaudio2 (CI does)")
    names = [d["name"] for d in sounddevice.query_devices()]
    if "virtual_speaker_monitor" not in names:
        pytest.skip(
            "no virtual audio devices: run the tests under tools/virtual-audio run ... (CI does)"
        )
    return sounddevice


def no_audio_env(folder: Path, base: dict[str, str]) -> dict[str, str]:
    """`base` changed so that PortAudio in a child process sees no audio device at all,
    or skip saying why it cannot be made to.

    How: this container has no sound card (no /dev/snd), so PortAudio's devices are
    those of a sound server reached through ALSA's pulse (or pipewire) plugin. The
    child gets the system's ALSA configuration (no ALSA_CONFIG_PATH, as
    tools/virtual-audio sets; an empty one makes PortAudio abort), an empty HOME (no
    ~/.asoundrc) and XDG_RUNTIME_DIR (no server socket there), and a PULSE_SERVER
    that names a socket which does not exist: the plugins find no server, and
    PortAudio lists nothing, even under tools/virtual-audio. On a machine with a
    sound card its hardware stays visible: then the test is skipped.
    """
    home, runtime = folder / "home", folder / "runtime"
    for made in (home, runtime):
        made.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in base.items() if k not in ("ALSA_CONFIG_PATH", "PULSE_COOKIE")}
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        PULSE_SERVER=f"unix:{folder / 'no-such-socket'}",
        PIPEWIRE_REMOTE=str(folder / "no-such-socket"),
    )
    probe = subprocess.run(
        [sys.executable, "-c", "import sounddevice; print(len(sounddevice.query_devices()))"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "PortAudio library not found" in probe.stderr:
        pytest.skip("PortAudio missing: install libportaudio2 (CI does)")
    assert probe.returncode == 0, probe.stderr
    if probe.stdout.strip() != "0":
        pytest.skip(f"PortAudio finds {probe.stdout.strip()} devices even so: a sound card")
    return env


class SpeakerMonitor:
    """Records what is played to the virtual speaker, at 16 kHz (a context manager)."""

    def __init__(self, sounddevice: Any) -> None:
        self.blocks: list[np.ndarray] = []
        self._lock = threading.Lock()

        def callback(data: np.ndarray, _frames: int, _time: Any, _status: Any) -> None:
            with self._lock:
                self.blocks.append(data[:, 0].copy())

        self.stream = sounddevice.InputStream(
            device="virtual_speaker_monitor",
            samplerate=16000,
            channels=1,
            dtype="float32",
            callback=callback,
        )

    def __enter__(self) -> SpeakerMonitor:
        self.stream.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stream.stop()
        self.stream.close()

    @property
    def audio(self) -> np.ndarray:
        with self._lock:
            return np.concatenate(self.blocks)


def align(recorded: np.ndarray, reference: np.ndarray) -> tuple[int, float]:
    """Offset of `reference` in `recorded` and the correlation coefficient there."""
    recorded = np.asarray(recorded, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    size = 1 << int(np.ceil(np.log2(len(recorded) + len(reference))))
    spectrum = np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(reference, size))
    lag = int(np.argmax(np.fft.irfft(spectrum, size)[: len(recorded) - len(reference) + 1]))
    segment = recorded[lag : lag + len(reference)]
    corr = float(np.dot(segment, reference) / (np.linalg.norm(segment) * np.linalg.norm(reference)))
    return lag, corr


def talkspurts(
    speech: np.ndarray, rate: int, *, pause_s: float = 0.1, below_peak_db: float = 40.0
) -> list[tuple[int, int]]:
    """Where `speech` speaks, as (start, end) samples: runs of 10 ms blocks within
    `below_peak_db` of its loudest block, split where a pause lasts `pause_s` or more.

    A live page may shorten pauses of 0.1 s or more to catch up with its talker
    (`polyptt.audio.catchup`), never a talkspurt: compare those one by one.
    """
    block = rate // 100
    blocks = len(speech) // block
    power = np.mean(
        np.square(speech[: blocks * block].astype(np.float64)).reshape(blocks, block), axis=1
    )
    loud = power > power.max() * 10 ** (-below_peak_db / 10)
    spurts: list[tuple[int, int]] = []
    for index in np.flatnonzero(loud):
        start, end = index * block, (index + 1) * block
        if spurts and start - spurts[-1][1] < pause_s * rate:
            spurts[-1] = (spurts[-1][0], end)
        else:
            spurts.append((start, end))
    return spurts


def align_talkspurts(
    recorded: np.ndarray, speech: np.ndarray, rate: int, *, first_within_s: float = 1.5
) -> list[tuple[int, float]]:
    """Each talkspurt of `speech` found in `recorded`, in order: (its lag, correlation).

    The first is looked for in the first `first_within_s` seconds past its own start; each
    next one after the one before, at most its pause later (a pause may shrink, not grow,
    but for 20 ms of slack).
    """
    found: list[tuple[int, float]] = []
    slack = rate // 50
    previous_end = previous_found_end = 0
    for start, end in talkspurts(speech, rate):
        if found:
            low = max(0, previous_found_end - slack)
            high = previous_found_end + (start - previous_end) + slack
        else:
            low, high = 0, start + round(first_within_s * rate)
        window = recorded[low : min(len(recorded), high + (end - start))]
        if len(window) < end - start:
            found.append((low, 0.0))  # the recording ends before this talkspurt
            break
        lag, corr = align(window, speech[start:end])
        found.append((low + lag, corr))
        previous_end, previous_found_end = end, low + lag + (end - start)
    return found


def assert_speech_whole(
    audio: np.ndarray, speech: np.ndarray, *, starts_within_s: float, rate: int = 16000
) -> None:
    """Every talkspurt of `speech` is in the page's `audio`, whole and in order (the page
    catches up with its talker after the alerts by shortening pauses, never speech), the
    first one, from its first word, within `starts_within_s` of the page's start."""
    found = align_talkspurts(audio, speech, rate)
    assert len(found) == len(talkspurts(speech, rate)) >= 2
    for number, (_lag, corr) in enumerate(found):
        assert corr > 0.95, f"talkspurt {number}: correlation {corr:.3f}"
    first = found[0][0] - talkspurts(speech, rate)[0][0]
    assert first < starts_within_s * rate, f"the speech starts {first / rate:.2f} s in"


def one_clean_run(scenario: Callable[[Path], None], folder: Path, attempts: int = 3) -> None:
    """Run a real-device `scenario` up to `attempts` times; one clean run must pass.

    The audio threads (PortAudio's, PulseAudio's) run at normal priority on a shared VM,
    which now and then starves them: the device underruns (ALSA says so on stderr) or
    drops a few milliseconds. Such a run says nothing about polyptt either way. Each
    attempt gets its own empty folder below `folder`.
    """
    failures = []
    for attempt in range(attempts):
        try:
            where = folder / f"attempt{attempt}"
            where.mkdir()
            scenario(where)
            return
        except AssertionError as failure:
            failures.append(str(failure).splitlines()[0] if str(failure) else repr(failure))
    pytest.fail(f"no clean run in {attempts}: {failures}")
