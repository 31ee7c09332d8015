"""The streaming framer: any chunks in, the frames of the whole signal out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from polyptt import codecs
from polyptt.audio.framer import Framer

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech16k.wav"


def speech(rate: int = 16000) -> np.ndarray:
    pcm, file_rate = soundfile.read(SPEECH, dtype="int16")
    assert file_rate == 16000
    return pcm if rate == 16000 else pcm[:: 16000 // rate].copy()


def framed(framer: Framer, chunks: list[np.ndarray]) -> list[bytes]:
    out = []
    for chunk in chunks:
        out += framer.push(chunk)
    return out + framer.flush()


def random_cuts(signal: np.ndarray, seed: int, count: int = 60) -> list[np.ndarray]:
    cuts = np.sort(np.random.default_rng(seed).integers(0, len(signal), count))
    return np.split(signal, cuts)


@pytest.mark.parametrize(("codec", "frame_ms"), [("g722", 20), ("g722", 30), ("g711u", 20),
                                                 ("g726qi", 30)])  # fmt: skip
def test_exact_input_frames_to_the_one_shot_encoding(codec: str, frame_ms: int) -> None:
    info = codecs.info(codec)
    pcm = speech(info.sample_rate)
    size = info.frame_bytes(frame_ms)
    padded = np.concatenate([pcm, np.zeros(-len(pcm) % info.frame_samples(frame_ms), np.int16)])
    whole = codecs.encode(codec, padded)
    expected = [whole[i : i + size] for i in range(0, len(whole), size)]
    for seed in range(3):
        framer = Framer(codec, frame_ms)
        assert framer.exact
        assert framed(framer, random_cuts(pcm, seed)) == expected
        assert framer.samples_in == len(pcm)


@pytest.mark.parametrize("rate", [8000, 44100, 48000])
def test_resampled_chunks_equal_the_same_audio_in_one_chunk(rate: int) -> None:
    pcm = speech()
    import soxr

    source = np.round(soxr.resample(pcm / 32768.0, 16000, rate) * 32767).astype(np.int16)
    whole = framed(Framer("g722", 20, input_rate=rate), [source])
    assert framed(Framer("g722", 20, input_rate=rate), random_cuts(source, 7)) == whole
    # the resampler's delay is compensated: about as much audio comes out as went in
    assert len(whole) == pytest.approx(len(pcm) / 320, abs=1.5)
    decoded = codecs.decode("g722", b"".join(whole))
    delay = 22  # G.722's QMF filters: encoder and decoder together
    corr = np.corrcoef(decoded[delay : delay + len(pcm)].astype(float), pcm.astype(float))[0, 1]
    assert corr > 0.99


def test_stereo_float_is_mixed_and_scaled() -> None:
    mono = speech().astype(np.float32) / 32768
    stereo = np.stack([mono * 0.5, mono * 1.5], axis=1)
    out = framed(Framer("g722", 20, channels=2), [stereo[:1000], stereo[1000:]])
    expected = framed(Framer("g722", 20), [np.round(mono * 32768).astype(np.int16)])
    decoded = codecs.decode("g722", b"".join(out)).astype(float)
    reference = codecs.decode("g722", b"".join(expected)).astype(float)
    assert np.corrcoef(decoded, reference)[0, 1] > 0.999


def test_gain_clips_and_counts() -> None:
    framer = Framer("g711u", 20, gain_db=40)
    framer.push(np.full(160, 10000, np.int16))
    assert framer.clipped == 160
    assert not framer.exact


def test_flush_pads_the_last_frame_and_closes() -> None:
    framer = Framer("g711u", 20)
    assert framer.push(np.ones(100, np.int16)) == []
    last = framer.flush()
    assert len(last) == 1
    assert len(last[0]) == 160
    assert framer.flush() == []
    with pytest.raises(ValueError, match="flushed"):
        framer.push(np.ones(1, np.int16))


def test_wrong_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        Framer("g722", 20, channels=2).push(np.zeros(10, np.int16))
    with pytest.raises(ValueError, match="channel"):
        Framer("g722", 20).push(np.zeros((10, 2), np.int16))
