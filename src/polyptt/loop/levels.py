"""Audio levels for the panel's meter and for VOX."""

from __future__ import annotations

import math

import numpy as np

from polyptt.receive.session import Pcm

__all__ = ["level_db"]


def level_db(pcm: Pcm) -> float:
    """The RMS level of int16 audio in dBFS (-120 for digital silence)."""
    if not len(pcm):
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64))))
    return max(-120.0, 20 * math.log10(max(rms, 1e-9) / 32768))
