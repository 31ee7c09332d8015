"""Test signals for the codec tests and benchmarks: real speech and worst cases.

Each kind exercises a different part of an ADPCM coder: speech its adaptation to a voice,
white noise every code word, full-scale chirps and clipped square-ish waves the limiters
and saturating arithmetic (where implementations most often disagree), silence the idle
behaviour and the smallest step sizes.

Lengths are whole multiples of 8 samples, so every G.726 rate fills whole bytes and
G.722 gets sample pairs: both coders can be compared byte for byte with no padding.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

SPEECH_WAV = Path(__file__).resolve().parents[1] / "data" / "speech16k.wav"

Pcm = npt.NDArray[np.int16]


def _whole_bytes(pcm: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return pcm[: len(pcm) // 8 * 8]


def _to_int16(signal: npt.NDArray[np.float64]) -> Pcm:
    return np.clip(np.round(signal), -32768, 32767).astype(np.int16)


@cache
def _speech(rate: int) -> npt.NDArray[np.float64]:
    speech, file_rate = sf.read(SPEECH_WAV, dtype="float64")
    if rate != file_rate:
        speech = soxr.resample(speech, file_rate, rate, quality="VHQ")
    return _whole_bytes(np.asarray(speech) * 32768.0)


def speech(rate: int, rms_dbfs: float | None = None) -> Pcm:
    """The committed espeak-ng sentence at `rate` Hz, as recorded or scaled to `rms_dbfs`.

    dBFS here is RMS relative to a full-scale square wave (32768), the usual convention.
    """
    signal = _speech(rate)
    if rms_dbfs is not None:
        signal = signal * (32768.0 * 10 ** (rms_dbfs / 20) / np.sqrt(np.mean(signal**2)))
    return _to_int16(signal)


def white_noise(rate: int, seconds: float = 1.0, seed: int = 722) -> Pcm:
    """Uniform white noise over the whole int16 range: every sample value is likely."""
    n = int(rate * seconds) // 8 * 8
    return np.random.default_rng(seed).integers(-32768, 32768, n, dtype=np.int16)


def chirp(rate: int, seconds: float = 1.0) -> Pcm:
    """A 0 dBFS sine sweeping exponentially from 50 Hz to 95 % of the Nyquist frequency."""
    n = int(rate * seconds) // 8 * 8
    t = np.arange(n) / rate
    f0, f1 = 50.0, 0.95 * rate / 2
    k = np.log(f1 / f0) / seconds
    return _to_int16(32767.0 * np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k))


def clipped(rate: int, seconds: float = 1.0) -> Pcm:
    """A sine overdriven 4x into both rails (-32768 and 32767): a square-ish wave.

    The frequency steps up through the band so the filters see both slow and fast edges.
    """
    n = int(rate * seconds) // 8 * 8
    freq = np.repeat([110.0, 440.0, 1250.0, 3100.0], -(-n // 4))[:n]
    phase = 2 * np.pi * np.cumsum(freq) / rate
    return _to_int16(4 * 32768.0 * np.sin(phase))


def silence(rate: int, seconds: float = 0.5) -> Pcm:
    """Digital silence."""
    return np.zeros(int(rate * seconds) // 8 * 8, dtype=np.int16)


#: Every signal kind by name, as a function of the sample rate (for parametrized tests).
KINDS = {
    "speech": speech,
    "white_noise": white_noise,
    "chirp": chirp,
    "clipped": clipped,
    "silence": silence,
}
