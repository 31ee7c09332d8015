"""Test helpers for the real (virtual) audio devices and for comparing audio."""

from __future__ import annotations

import threading
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
