"""Sample formats: floating-point audio to the int16 PCM every codec takes.

Below both `polyptt.audio.files` (a file read whole) and `polyptt.audio.framer` (live
audio framed as it comes), which convert the same way.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["to_int16"]

_INT16_MAX = 32767
_INT16_MIN = -32768


def to_int16(signal: npt.NDArray[np.floating]) -> tuple[npt.NDArray[np.int16], int]:
    """Full-scale float to int16, rounding; returns the samples and how many clipped."""
    scaled = np.nan_to_num(signal.astype(np.float64) * 32768.0)
    clipped = int(np.count_nonzero((scaled > 32768.0) | (scaled < -32768.0)))
    pcm = np.clip(np.rint(scaled), _INT16_MIN, _INT16_MAX).astype(np.int16)
    return pcm, clipped
