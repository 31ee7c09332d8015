"""Sample-rate conversion between RTP and Poly audio with a few milliseconds of delay.

A bridge converts every packet as it arrives, so a resampler that holds audio back in
blocks would add its block to every page's delay: soxr's streaming resampler at its
usual qualities lets 8 -> 16 kHz out in lumps of about 100 ms. The common cases are whole
factors (PCMU 8 kHz <-> G.722 16 kHz), served by windowed-sinc polyphase filters that
answer every chunk at once (`polyptt.audio.upsample.Upsampler` up, `Downsampler` down);
any other ratio (L16 at 44.1 kHz) goes through soxr's quick quality, which streams
sample for sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from polyptt.audio.upsample import KAISER_BETA, TAPS_PER_PHASE, Upsampler

__all__ = ["Downsampler", "converter"]

Pcm = npt.NDArray[np.int16]


class Downsampler:
    """Lowers the rate of int16 mono PCM by a whole `factor`, chunk by chunk, at once.

    A Kaiser-windowed sinc low-pass (cut-off at 0.92 of the output's Nyquist frequency)
    evaluated only at the kept samples; the last inputs are carried between chunks, so
    any cut of the input gives the same output.
    """

    def __init__(self, factor: int, taps_per_phase: int = TAPS_PER_PHASE) -> None:
        self.factor = factor
        length = factor * taps_per_phase
        n = np.arange(length) - (length - 1) / 2
        cutoff = 0.92 / (2 * factor)
        taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(length, KAISER_BETA)
        self._taps = taps / taps.sum()
        self._history = np.zeros(length - 1)
        self._phase = 0  # input samples to skip before the next kept one

    def push(self, pcm: Pcm) -> Pcm:
        """The kept samples of `pcm` (one in `factor`), filtered."""
        extended = np.concatenate([self._history, np.asarray(pcm, dtype=np.float64)])
        self._history = extended[len(extended) - len(self._history) :]
        full = np.convolve(extended, self._taps, mode="valid")
        kept = full[self._phase :: self.factor]
        self._phase = (self._phase - len(full)) % self.factor
        return np.clip(np.rint(kept), -32768, 32767).astype(np.int16)


class _Soxr:
    def __init__(self, rate_in: int, rate_out: int) -> None:
        import soxr

        self._stream = soxr.ResampleStream(rate_in, rate_out, 1, dtype="int16", quality="QQ")

    def push(self, pcm: Pcm) -> Pcm:
        out: Pcm = self._stream.resample_chunk(np.ascontiguousarray(pcm, dtype=np.int16))
        return out


class _Same:
    @staticmethod
    def push(pcm: Pcm) -> Pcm:
        return pcm


def converter(rate_in: int, rate_out: int) -> Any:
    """An object whose ``push(pcm)`` converts int16 mono chunks from `rate_in` to `rate_out`."""
    if rate_in == rate_out:
        return _Same()
    if rate_out % rate_in == 0:
        return Upsampler(rate_out // rate_in)
    if rate_in % rate_out == 0:
        return Downsampler(rate_in // rate_out)
    return _Soxr(rate_in, rate_out)
