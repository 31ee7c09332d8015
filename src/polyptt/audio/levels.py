"""Audio levels: the loop's meter, VOX, and the pauses a live page may skip."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["SILENCE_DB", "level_db"]

#: The level given to digital silence, far below any microphone's noise.
SILENCE_DB = -120.0


def level_db(pcm: npt.NDArray[np.generic]) -> float:
    """The RMS level in dBFS of ``int16`` (full scale 32768) or floating point (full
    scale 1.0) samples, any shape; `SILENCE_DB` for digital silence or no samples."""
    if not pcm.size:
        return SILENCE_DB
    rms = float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64))))
    if pcm.dtype == np.int16:
        rms /= 32768.0
    return max(SILENCE_DB, 20 * math.log10(max(rms, 1e-12)))
