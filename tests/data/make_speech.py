"""Regenerate speech16k.wav, the real-speech test signal (run by hand; tests only read it).

The tests need speech, not a synthetic stand-in: ADPCM adapts to the envelope and spectrum
of voice, and a tone or noise exercises other paths. espeak-ng makes it reproducibly with
no licensing question; it is committed so that tests do not need espeak-ng at run time.

Usage: ``python tests/data/make_speech.py`` (needs espeak-ng, soundfile, soxr).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

TEXT = "Attention please. The delivery truck is at dock four. Call two one five."
OUT = Path(__file__).with_name("speech16k.wav")
PEAK = 0.89  # about -1 dBFS: loud, but resampling overshoot cannot clip


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "espeak.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "170", "-w", str(raw), TEXT], check=True)
        speech, rate = sf.read(raw, dtype="float64")
    voiced = np.flatnonzero(np.abs(speech) > 1e-3)
    speech = speech[max(voiced[0] - 200, 0) : voiced[-1] + 200]  # trim the silent ends
    speech = soxr.resample(speech, rate, 16000, quality="VHQ")
    speech *= PEAK / np.abs(speech).max()
    sf.write(OUT, np.round(speech * 32767).astype(np.int16), 16000, subtype="PCM_16")
    print(f"{OUT}: {len(speech) / 16000:.2f} s")


if __name__ == "__main__":
    main()
