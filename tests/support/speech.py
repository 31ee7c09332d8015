"""What a spoken page must carry: espeak-ng's own rendering of its text, stretch by stretch.

The reference is espeak-ng run by hand (its text as its argument, its WAV on stdout),
resampled to the codec's rate; a page's decoded audio must hold each of its voiced
stretches (`tests.support.audio_devices.talkspurts`), in order, where it belongs.
"""

from __future__ import annotations

import io
import subprocess

import numpy as np
import soundfile
import soxr
from tests.support.audio_devices import align, talkspurts
from tests.support.relay_audio import CHIME

#: What the pages of these tests say: ten words.
TEXT = "Fire drill in five minutes, please walk to the yard"
#: The correlation every voiced stretch must reach after the codec.
MIN_CORRELATION = 0.9
#: Where the speech starts after the chime: its 1.7 s, 0.25 s of silence, rounded up to a
#: whole 20 ms (so the same instant at every codec's rate).
SPEECH_AFTER_CHIME_S = 1.96


def espeak_reference(text: str, *args: str, rate: int = 16000) -> np.ndarray:
    """espeak-ng's rendering of `text` (with its options `args`) at `rate`, as int16."""
    done = subprocess.run(
        ["espeak-ng", "--stdout", *args, "--", text], capture_output=True, check=True
    )
    pcm, source_rate = soundfile.read(io.BytesIO(done.stdout), dtype="float32")
    resampled = soxr.resample(pcm, source_rate, rate, "HQ")
    return np.clip(np.rint(resampled * 32768), -32768, 32767).astype(np.int16)


def chime_reference(rate: int = 16000) -> np.ndarray:
    pcm, source_rate = soundfile.read(CHIME, dtype="float32")
    return (soxr.resample(pcm, source_rate, rate, "HQ") * 32768).astype(np.int16)


def voiced_stretches(speech: np.ndarray, rate: int) -> list[tuple[int, int]]:
    """Where `speech` is voiced, as (start, end) samples: runs of 10 ms blocks within
    20 dB of its loudest block, joined across dips under 30 ms, 50 ms long at least
    (espeak-ng hardly pauses between words, so these are syllables and words)."""
    spurts = talkspurts(speech, rate, pause_s=0.03, below_peak_db=20.0)
    return [(start, end) for start, end in spurts if end - start >= rate // 20]


def assert_spoken(
    audio: np.ndarray, text: str = TEXT, *args: str, chime: bool = False, rate: int = 16000
) -> list[float]:
    """`audio` (a page's, decoded) is espeak-ng's `text` from its start, or after the
    chime and its gap: all of it where it belongs, and each voiced stretch correlating
    above `MIN_CORRELATION` there. Returns the correlations."""
    reference = espeak_reference(text, *args, rate=rate)
    stretches = voiced_stretches(reference, rate)
    assert len(stretches) >= 6, "the reference has too few voiced stretches to compare"
    offset = 0
    if chime:
        bell = chime_reference(rate)
        lag, corr = align(audio[: len(bell) + rate // 10], bell)
        assert lag <= rate // 100, f"the chime starts {lag} samples in"
        assert corr > 0.95, f"the chime correlates {corr:.3f}"
        offset = round(SPEECH_AFTER_CHIME_S * rate)
    lag, _ = align(audio[offset : offset + len(reference) + rate // 10], reference)
    assert lag <= rate // 100, f"the speech starts {lag} samples late"
    start = offset + lag
    assert len(audio) - start >= len(reference), "the speech is cut short"
    correlations = []
    for begin, end in stretches:
        heard = audio[start + begin : start + end].astype(np.float64)
        said = reference[begin:end].astype(np.float64)
        correlations.append(float(np.corrcoef(heard, said)[0, 1]))
    assert min(correlations) > MIN_CORRELATION, [round(c, 3) for c in correlations]
    return correlations
