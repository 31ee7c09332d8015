"""Speech survives a trip through each codec with the quality the codec is known for.

Bit-exactness tests show the algorithm is the ITU's; these show it is wired up right as a
whole (input scaling, QMF, packing) on the signal the phones carry: a voice at a normal
level (-20 dBFS RMS). Bounds sit a little under the measured values, so a regression of
about 1 dB fails; the figures in the comments are what the codecs measured on this speech.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from tests.support import signals

from polyptt import codecs

MAX_LAG = 64  # samples; far more than any of these codecs delays

# name -> (least SNR in dB, delay in samples). Measured on tests/data/speech16k.wav at
# -20 dBFS RMS: G.711 37.4 / 37.3, G.722 28.5, G.726 11.7 / 15.5 / 21.5 / 26.8.
# The G.722 delay is that of its two 24-tap QMF filters (transmit + receive).
EXPECTED = {
    "g711u": (36.5, 0),
    "g711a": (36.5, 0),
    "g722": (27.5, 22),
    "g726-16": (11.0, 0),
    "g726-24": (14.5, 0),
    "g726-32": (20.5, 0),
    "g726-40": (26.0, 0),
    "g726-24-aal2": (14.5, 0),
    "g726qi": (14.5, 0),
}


def best_lag(reference: npt.NDArray[np.float64], coded: npt.NDArray[np.float64]) -> int:
    """The delay (0..MAX_LAG) at which `coded` correlates best with `reference`."""
    n = len(reference) + len(coded)
    spectrum = np.fft.rfft(coded, n) * np.conj(np.fft.rfft(reference, n))
    correlation = np.fft.irfft(spectrum, n)[:MAX_LAG]
    return int(np.argmax(correlation))


def snr_db(reference: npt.NDArray[np.float64], coded: npt.NDArray[np.float64]) -> float:
    noise = reference - coded
    return float(10 * np.log10(np.sum(reference**2) / np.sum(noise**2)))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_speech_snr(name: str) -> None:
    least_snr, delay = EXPECTED[name]
    pcm = signals.speech(codecs.info(name).sample_rate, rms_dbfs=-20)
    decoded = codecs.decode(name, codecs.encode(name, pcm))
    assert len(decoded) == len(pcm)
    reference, coded = pcm.astype(np.float64), decoded.astype(np.float64)

    lag = best_lag(reference, coded)
    assert lag == delay
    snr = snr_db(reference[: len(reference) - lag], coded[lag:])
    assert snr > least_snr, f"{name}: SNR {snr:.2f} dB"


def test_the_snr_measure_sees_noise() -> None:
    """The measure itself: a known noise level comes out at the SNR it was made with."""
    rng = np.random.default_rng(1)
    reference = rng.normal(0, 1000, 80000)
    noisy = np.concatenate([np.zeros(5), reference + rng.normal(0, 10, 80000)])
    lag = best_lag(reference, noisy)
    assert lag == 5
    assert snr_db(reference, noisy[lag : lag + len(reference)]) == pytest.approx(40, abs=0.1)
