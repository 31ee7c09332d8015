"""Streaming upsampling by a whole factor with a few milliseconds of delay.

The relay hands every page to its WebSocket listeners at 16 kHz, 20 ms a message, as
each packet arrives; narrowband codecs (G.711, G.726) decode to 8 kHz. soxr's streaming
resampler is made for files: at its usual qualities it keeps audio back and lets it out
in blocks of about 100 ms (8 -> 16 kHz), so listeners got pages in lumps. A polyphase
FIR (a Kaiser-windowed sinc) gives every input sample its outputs at once, with a
constant delay of half the filter: 3 ms at the defaults, and images of a narrowband
signal (above 4.3 kHz here) held 80 dB down. Streaming is exact: the last inputs are
kept between chunks, so audio cut into any pieces gives the samples it gives whole,
and always `factor` times as many.

>>> import numpy as np
>>> up = Upsampler(2)
>>> len(up.push(np.zeros(160, dtype=np.int16)))
320
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["Upsampler"]

#: Filter taps per output phase: the delay is about half of them, in input samples.
TAPS_PER_PHASE = 48
#: Cut-off as a share of the input's Nyquist frequency (0.96: 3.84 kHz for 8 kHz in).
CUTOFF = 0.96
#: Kaiser window shape: about 80 dB of stopband attenuation.
KAISER_BETA = 8.0


class Upsampler:
    """Raises the sample rate of int16 mono PCM by `factor`, chunk by chunk.

    Parameters
    ----------
    factor : int
        Output samples per input sample (2 for 8 -> 16 kHz).
    taps_per_phase : int
        Filter length per output phase; longer is sharper and later.

    Attributes
    ----------
    delay : float
        Output samples by which the output lags the input (half the filter).
    """

    def __init__(self, factor: int, taps_per_phase: int = TAPS_PER_PHASE) -> None:
        if factor < 1 or taps_per_phase < 1:
            raise ValueError(f"factor and taps must be at least 1, got {factor}, {taps_per_phase}")
        self.factor = factor
        length = factor * taps_per_phase
        n = np.arange(length) - (length - 1) / 2
        cutoff = CUTOFF / (2 * factor)  # cycles per output sample
        prototype = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(length, KAISER_BETA)
        prototype *= factor / prototype.sum()  # zero stuffing divides the level by factor
        # phase p computes outputs factor*i + p from taps p, p + factor, p + 2 factor...
        self._phases = prototype.reshape(taps_per_phase, factor).T.copy()
        self._history = np.zeros(taps_per_phase - 1)
        self.delay = (length - 1) / 2

    def push(self, pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """`factor` output samples for each sample of `pcm`, at once."""
        if not len(pcm):
            return np.zeros(0, dtype=np.int16)
        extended = np.concatenate([self._history, np.asarray(pcm, dtype=np.float64)])
        if len(self._history):
            self._history = extended[len(extended) - len(self._history) :]
        out = np.empty(len(pcm) * self.factor)
        for phase, taps in enumerate(self._phases):
            out[phase :: self.factor] = np.convolve(extended, taps, mode="valid")
        return np.clip(np.rint(out), -32768, 32767).astype(np.int16)

    def flush(self) -> npt.NDArray[np.int16]:
        """The end of the input: nothing more.

        The output is exactly `factor` samples per input sample, `delay` late: what the
        filter still holds (the last ``delay / factor`` input samples' echo, 3 ms at the
        defaults) is left out, so that a page of N frames gives its listeners exactly N
        frames of audio, as a resampler that makes up for its delay does.
        """
        return np.zeros(0, dtype=np.int16)
