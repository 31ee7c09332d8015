"""Test helpers for the real (virtual) audio devices and for comparing audio."""

from __future__ import annotations

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
        pytest.skip("no virtual audio devices: start tools/virtual-audio (CI does)")
    return sounddevice


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
