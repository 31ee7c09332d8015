"""Loading audio for a page: exact pass-through, mixing, resampling, gain, bad input."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

from polyptt import audio


def tone(rate: int, seconds: float, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def random_int16(count: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(-32768, 32768, count, dtype=np.int16)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_mono_int16_at_codec_rate_is_passed_sample_for_sample(tmp_path: Path, rate: int) -> None:
    samples = random_int16(rate)  # full-scale noise: any float round trip would show
    path = tmp_path / "exact.wav"
    soundfile.write(path, samples, rate, subtype="PCM_16")
    loaded = audio.load(path, rate)
    assert loaded.exact
    assert loaded.pcm.dtype == np.int16
    np.testing.assert_array_equal(loaded.pcm, samples)
    assert (loaded.clipped, loaded.source_rate, loaded.source_channels) == (0, rate, 1)


def test_flac_is_exact_too(tmp_path: Path) -> None:
    samples = random_int16(4000, seed=2)
    path = tmp_path / "exact.flac"
    soundfile.write(path, samples, 8000, subtype="PCM_16")
    np.testing.assert_array_equal(audio.load(path, 8000).pcm, samples)


def test_stereo_44k1_is_mixed_and_resampled_like_soxr(tmp_path: Path) -> None:
    left, right = tone(44100, 1.0, 440), tone(44100, 1.0, 1000, 0.25)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([left, right], axis=1), 44100, subtype="FLOAT")
    loaded = audio.load(path, 16000)
    assert not loaded.exact
    assert (loaded.source_rate, loaded.source_channels) == (44100, 2)
    reference = soxr.resample((left + right) / 2, 44100, 16000, quality="HQ")
    assert len(loaded.pcm) == len(reference) == 16000
    expected = np.rint(reference * 32768).astype(np.int16)
    assert np.max(np.abs(loaded.pcm.astype(np.int32) - expected)) <= 1


def test_gain_scales_and_clipping_is_counted(tmp_path: Path) -> None:
    samples = np.array([1000, -1000, 20000, -20000, 0] * 100, dtype=np.int16)
    path = tmp_path / "loud.wav"
    soundfile.write(path, samples, 8000, subtype="PCM_16")
    loaded = audio.load(path, 8000, gain_db=20 * np.log10(2))  # x2
    assert not loaded.exact
    assert loaded.clipped == 200  # the +/-20000 samples
    assert loaded.pcm[:5].tolist() == [2000, -2000, 32767, -32768, 0]
    quieter = audio.load(path, 8000, gain_db=-6.0206)
    assert quieter.clipped == 0
    assert quieter.pcm[:3].tolist() == [500, -500, 10000]


def test_float_full_scale_is_not_reported_as_clipped(tmp_path: Path) -> None:
    path = tmp_path / "full.wav"
    soundfile.write(path, np.array([1.0, -1.0, 0.5]), 8000, subtype="FLOAT")
    loaded = audio.load(path, 8000)
    assert loaded.pcm.tolist() == [32767, -32768, 16384]
    assert loaded.clipped == 0


def test_stdin_is_read_whole(tmp_path: Path) -> None:
    samples = random_int16(800, seed=3)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, 8000, subtype="PCM_16", format="WAV")
    loaded = audio.load("-", 8000, stdin=io.BytesIO(buffer.getvalue()))
    np.testing.assert_array_equal(loaded.pcm, samples)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_text("hello, not audio\n"), "not an audio file libsndfile can read"),
        (lambda p: p.write_bytes(b""), "not an audio file libsndfile can read"),
        (lambda p: soundfile.write(p, np.zeros(0), 8000, subtype="PCM_16"), "contains no audio"),
    ],
    ids=["missing", "directory", "text", "zero-bytes", "no-samples"],
)
def test_bad_input_raises_one_line(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "input.wav"
    make(path)
    with pytest.raises(audio.AudioError, match=message) as caught:
        audio.load(path, 16000)
    assert "\n" not in str(caught.value)
    assert str(path) in str(caught.value)


def test_empty_stdin(tmp_path: Path) -> None:
    with pytest.raises(audio.AudioError, match="standard input: no data"):
        audio.load("-", 8000, stdin=io.BytesIO(b""))


def test_arrange_repeats_with_gaps_and_pads_to_whole_frames() -> None:
    pcm = np.arange(1, 101, dtype=np.int16)
    signal = audio.arrange(pcm, 80, repeat=3, gap_samples=30)
    assert len(signal) == 400  # 100 + 30 + 100 + 30 + 100 = 360, padded to 5 frames
    np.testing.assert_array_equal(signal[:100], pcm)
    assert not signal[100:130].any()
    np.testing.assert_array_equal(signal[130:230], pcm)
    np.testing.assert_array_equal(signal[260:360], pcm)
    assert not signal[360:].any()


def test_arrange_leaves_whole_frames_alone() -> None:
    pcm = np.ones(160, dtype=np.int16)
    assert audio.arrange(pcm, 80) is pcm


@pytest.mark.parametrize(("repeat", "gap", "frame"), [(0, 0, 80), (1, -1, 80), (1, 0, 0)])
def test_arrange_rejects_nonsense(repeat: int, gap: int, frame: int) -> None:
    with pytest.raises(ValueError, match="repeat must be"):
        audio.arrange(np.ones(10, dtype=np.int16), frame, repeat=repeat, gap_samples=gap)


# ------------------------------------------------------------------ samples in memory


@pytest.mark.parametrize(
    ("rate", "gain"), [(16000, 0.0), (22050, 0.0), (16000, -6.0), (44100, 3.0)]
)
def test_pcm_page_is_load_page_of_the_same_samples(tmp_path: Path, rate: int, gain: float) -> None:
    from polyptt.audio.files import pcm_page

    pcm, _ = to_int16_tone(rate)
    path = tmp_path / "same.wav"
    soundfile.write(path, pcm, rate, subtype="PCM_16")
    from_file = audio.load_page(path, "g722", 30, repeat=2, gap_s=0.5, gain_db=gain)
    in_memory = pcm_page(pcm, rate, "g722", 30, repeat=2, gap_s=0.5, gain_db=gain)
    assert (in_memory.duration_s, in_memory.clipped) == (from_file.duration_s, from_file.clipped)
    assert len(in_memory.frames) == len(from_file.frames) == 84  # 2 x 1 s + 0.5 s in 30 ms
    if rate == 16000 and not gain:
        assert in_memory.frames == from_file.frames  # the samples reach the encoder as they are


def to_int16_tone(rate: int) -> tuple[np.ndarray, int]:
    return (tone(rate, 1.0) * 32767).astype(np.int16), rate


def test_pcm_page_refuses_audio_past_the_limit_and_cuts_at_duration() -> None:
    from polyptt.audio.files import AudioTooLongError, pcm_page

    pcm, rate = to_int16_tone(16000)
    with pytest.raises(AudioTooLongError) as caught:
        pcm_page(np.tile(pcm, 3), rate, "g722", 30, max_s=2.5, name="the speech")
    assert str(caught.value) == "the speech: the audio lasts 3.0 s; limit: 2.5 s"
    with pytest.raises(AudioTooLongError) as caught:
        pcm_page(pcm, rate, "g722", 30, repeat=3, gap_s=1.0, max_s=4.0)
    assert str(caught.value) == (
        "the audio: the audio lasts 1.0 s; limit: 4 s; 3 plays with 1 s gaps must fit in 4 s"
    )
    cut = pcm_page(np.tile(pcm, 3), rate, "g711u", 20, max_s=2.5, duration_s=1.0)
    assert len(cut.frames) > 50  # cut a little after 1 s: the sender cuts at the frame
    assert cut.duration_s < 1.5
    with pytest.raises(audio.AudioError, match=r"^the audio: contains no audio$"):
        pcm_page(pcm[:0], rate, "g722", 30)
