"""The relay's low-delay upsampler: exact streaming, constant delay, clean tones."""

from __future__ import annotations

import numpy as np
import pytest

from polyptt.audio.upsample import Upsampler


def _tone(frequency: float, rate: int, samples: int, delay: float = 0.0) -> np.ndarray:
    t = (np.arange(samples) - delay) / rate
    return 10000 * np.sin(2 * np.pi * frequency * t)


def _whole(factor: int, pcm: np.ndarray) -> np.ndarray:
    up = Upsampler(factor)
    out = np.concatenate([up.push(pcm), up.flush()])
    assert len(out) == factor * len(pcm)  # the delay is not made up for, nor the tail added
    return out


@pytest.mark.parametrize("chunk", [1, 2, 7, 99, 160, 240, 1000])
def test_audio_in_any_pieces_gives_the_samples_it_gives_whole(chunk: int) -> None:
    pcm = np.rint(_tone(440, 8000, 4000)).astype(np.int16)
    up = Upsampler(2)
    pieces = [up.push(pcm[i : i + chunk]) for i in range(0, len(pcm), chunk)]
    assert [len(p) for p in pieces] == [2 * len(pcm[i : i + chunk]) for i in range(0, 4000, chunk)]
    assert np.array_equal(np.concatenate([*pieces, up.push(pcm[:0]), up.flush()]), _whole(2, pcm))


@pytest.mark.parametrize("frequency", [300, 1000, 3000, 3400])
def test_a_narrowband_tone_comes_out_clean_3_ms_late(frequency: float) -> None:
    """Up to 3.4 kHz (the telephone band) at its level, 80 dB above any error, and its
    image (8 kHz - f) 80 dB down: what soxr's high quality gives, without its blocks."""
    pcm = np.rint(_tone(frequency, 8000, 8000)).astype(np.int16)
    up = Upsampler(2)
    assert up.delay == 47.5  # output samples: 3 ms at 16 kHz
    out = _whole(2, pcm).astype(float)
    ideal = _tone(frequency, 16000, len(out), delay=up.delay)
    middle = slice(400, 15600)  # the delay's start, and where the filter has its tail
    error_db = 10 * np.log10(np.sum((out - ideal)[middle] ** 2) / np.sum(ideal[middle] ** 2))
    assert error_db < -80
    spectrum = np.abs(np.fft.rfft(out[middle] * np.hanning(15200)))
    bins = np.fft.rfftfreq(15200, 1 / 16000)
    image = spectrum[np.argmin(np.abs(bins - (8000 - frequency)))]
    assert 20 * np.log10(image / spectrum.max()) < -80


def test_full_scale_is_clipped_not_wrapped() -> None:
    square = np.tile(np.array([32767] * 8 + [-32768] * 8, dtype=np.int16), 50)
    out = _whole(2, square)
    assert out.dtype == np.int16
    assert out.max() == 32767  # the overshoot is clipped
    assert out.min() == -32768
    assert np.all(np.abs(np.diff(out.astype(int))) < 40000)  # no wrap-around jumps
