"""Text to speech (polyptt.audio.speech): espeak-ng's own audio, the chime, the refusals.

espeak-ng is the Debian program on PATH here. Piper cannot run here (no voice file can be
downloaded), so its tests are the refusals, and its glue is driven by a stand-in module
in place of the ``piper`` package (said where it is).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import types
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
import soxr

from polyptt.audio import speech
from polyptt.audio.speech import Voice
from polyptt.errors import BadInput, Missing

ROOT = Path(__file__).resolve().parents[2]
TEXT = "Fire drill in five minutes"


def espeak_own(*args: str) -> tuple[np.ndarray, int]:
    """espeak-ng run by hand, the text (last) as its argument: the reference."""
    done = subprocess.run(["espeak-ng", "--stdout", *args], capture_output=True, check=True)
    pcm, rate = soundfile.read(io.BytesIO(done.stdout), dtype="int16")
    return pcm, rate


def test_speech_is_espeak_ngs_own_rendering_sample_for_sample() -> None:
    pcm, rate = speech.synthesize(TEXT)
    reference, reference_rate = espeak_own(TEXT)
    assert (pcm.dtype, pcm.ndim, rate) == (np.int16, 1, reference_rate)
    np.testing.assert_array_equal(pcm, reference)
    assert 1.0 < len(pcm) / rate < 3.0


def test_voice_and_rate_reach_espeak_ng() -> None:
    pcm, _ = speech.synthesize(TEXT, Voice(voice="en-us", rate_wpm=120))
    reference, _ = espeak_own("-v", "en-us", "-s", "120", TEXT)
    np.testing.assert_array_equal(pcm, reference)
    fast, _ = speech.synthesize(TEXT, Voice(rate_wpm=300))
    assert len(fast) < 0.6 * len(pcm)


def test_a_text_that_looks_like_an_option_is_spoken() -> None:
    pcm, rate = speech.synthesize("-v de")  # as espeak-ng's argument it would be a voice
    assert len(pcm) / rate > 0.3
    reference, _ = espeak_own("--", "-v de")
    np.testing.assert_array_equal(pcm, reference)


def test_control_characters_are_spaces() -> None:
    pcm, _ = speech.synthesize("Fire\x00drill\x1b in five minutes")
    reference, _ = espeak_own("Fire drill  in five minutes")
    np.testing.assert_array_equal(pcm, reference)


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x00\x07"])
def test_empty_text_is_refused(text: str) -> None:
    with pytest.raises(BadInput) as caught:
        speech.synthesize(text)
    assert (str(caught.value), caught.value.option) == (
        "nothing to say: the text is empty",
        "--say",
    )
    assert not isinstance(caught.value, Missing)


def test_a_text_past_the_limit_is_refused_before_synthesis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # refused before espeak-ng is looked for
    with pytest.raises(BadInput) as caught:
        speech.synthesize("a" * (speech.MAX_TEXT_CHARS + 1))
    assert str(caught.value) == "the text has 10001 characters; at most 10000"


def test_no_espeak_ng_on_path_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(Missing) as caught:
        speech.spoken_audio(TEXT, chime=True)
    assert str(caught.value) == (
        "no text-to-speech engine: espeak-ng is not installed (apt install espeak-ng)"
    )


def test_an_unknown_voice_names_the_option() -> None:
    with pytest.raises(BadInput) as caught:
        speech.synthesize(TEXT, Voice(voice="xx-nosuch"))
    assert str(caught.value) == "espeak-ng has no voice 'xx-nosuch' (espeak-ng --voices lists them)"
    assert caught.value.option == "--voice"
    for name in ("-s 9", "../../../etc/passwd", "/etc/passwd", "a/b/c"):
        with pytest.raises(BadInput) as caught:
            speech.synthesize(TEXT, Voice(voice=name))
        assert str(caught.value) == f"{name!r} is not an espeak-ng voice name"
    pcm, _ = speech.synthesize(TEXT, Voice(voice="gmw/en-US"))  # a voice file's name
    np.testing.assert_array_equal(pcm, espeak_own("-v", "gmw/en-US", TEXT)[0])


@pytest.mark.parametrize("rate", [79, 501, 0, -5])
def test_a_rate_out_of_range_is_refused(rate: int) -> None:
    with pytest.raises(BadInput) as caught:
        speech.synthesize(TEXT, Voice(rate_wpm=rate))
    assert str(caught.value) == f"{rate} words per minute; the rate must be 80-500"
    assert caught.value.option == "--rate"


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(BadInput) as caught:
        speech.synthesize(TEXT, Voice(engine="festival"))
    assert str(caught.value) == "no text-to-speech engine 'festival'; choose espeak-ng or piper"
    assert caught.value.option == "--tts-engine"


def test_chime_then_speech_in_one_signal() -> None:
    pcm, rate = speech.spoken_audio(TEXT, chime=True)
    speech_only, speech_rate = speech.synthesize(TEXT)
    chime, chime_rate = soundfile.read(ROOT / "examples" / "audio" / "chime.wav", dtype="int16")
    bell = speech.chime_at(rate)
    gap = round(1.96 * rate) - len(bell)  # 1.7 s of chime, 0.25 s more to a whole 20 ms
    assert rate == speech_rate == 22050
    assert len(bell) == round(len(chime) * rate / chime_rate)
    assert len(pcm) == len(bell) + gap + len(speech_only)
    np.testing.assert_array_equal(pcm[: len(bell)], bell)
    assert not np.any(pcm[len(bell) : len(bell) + gap])
    np.testing.assert_array_equal(pcm[len(bell) + gap :], speech_only)
    # the chime itself, resampled (not some other sound of its length)
    expected = soxr.resample(chime.astype(np.float32) / 32768, chime_rate, rate, "HQ")
    assert np.corrcoef(expected, bell / 32768)[0, 1] > 0.999
    assert np.array_equal(speech.spoken_audio(TEXT)[0], speech_only)


def test_the_packaged_chime_is_the_examples_chime() -> None:
    """Inside the package (a wheel carries it), the same bytes as the examples' one."""
    path = speech.chime_file()
    assert path.parent == Path(speech.__file__).parent  # src/ or an installed wheel
    assert path.read_bytes() == (ROOT / "examples" / "audio" / "chime.wav").read_bytes()


# ------------------------------------------------------------------ Piper


@pytest.fixture
def voice_file(tmp_path: Path) -> Path:
    """A file where a Piper voice would be (not a real model: none can be had here)."""
    model = tmp_path / "en_US-test-medium.onnx"
    model.write_bytes(b"not a model")
    model.with_name(model.name + ".json").write_text("{}")
    return model


def test_piper_not_installed_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, voice_file: Path
) -> None:
    monkeypatch.setitem(sys.modules, "piper", None)  # an import of it fails, installed or not
    with pytest.raises(Missing) as caught:
        speech.synthesize(TEXT, Voice(engine="piper", voice=str(voice_file)))
    assert str(caught.value) == "piper is not installed: pip install 'polyptt[piper]'"


def test_piper_needs_a_voice_file(tmp_path: Path, voice_file: Path) -> None:
    absent = tmp_path / "no.onnx"
    cases = {
        None: "piper needs a voice file: --voice FILE.onnx",
        str(absent): f"{absent}: no such voice file (piper needs a FILE.onnx)",
    }
    voice_file.with_name(voice_file.name + ".json").unlink()
    cases[str(voice_file)] = f"{voice_file}.json: missing (a piper voice comes with its .onnx.json)"
    for given, message in cases.items():
        with pytest.raises(BadInput) as caught:
            speech.synthesize(TEXT, Voice(engine="piper", voice=given))
        assert (str(caught.value), caught.value.option) == (message, "--voice")


_TONE = (8000 * np.sin(np.arange(22050) * 2 * np.pi * 440 / 22050)).astype(np.int16)


class _StandInVoice:
    """Stands in for piper-tts 1.3's PiperVoice (the real one needs a model file that
    cannot be had here): one second of a tone, and what it was asked."""

    asked: dict[str, Any] = {}  # noqa: RUF012

    @classmethod
    def load(cls, path: str) -> _StandInVoice:
        cls.asked["path"] = path
        return cls()

    def synthesize_wav(self, text: str, wav: wave.Wave_write, syn_config: Any) -> None:
        self.asked.update(text=text, length_scale=syn_config.length_scale)
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(22050)
        wav.writeframes(_TONE.astype("<i2").tobytes())


def test_piper_glue_with_a_stand_in_module(
    monkeypatch: pytest.MonkeyPatch, voice_file: Path
) -> None:
    module = types.ModuleType("piper")
    module.PiperVoice = _StandInVoice  # type: ignore[attr-defined]
    module.SynthesisConfig = types.SimpleNamespace  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "piper", module)
    pcm, rate = speech.synthesize(" Hello ", Voice("piper", str(voice_file), rate_wpm=350))
    assert rate == 22050
    np.testing.assert_array_equal(pcm, _TONE)
    assert _StandInVoice.asked == {"path": str(voice_file), "text": "Hello", "length_scale": 0.5}


def test_espeak_ng_is_here() -> None:
    """The tests above compare with espeak-ng itself: it must be installed, not skipped."""
    assert shutil.which("espeak-ng") is not None


def test_a_long_text_is_spoken_whole_as_one_argument_would_be() -> None:
    """espeak-ng reading standard input without ``--stdin`` speaks it in pieces, with
    pauses of its own between them (9 s more over 700 words): the text goes whole."""
    text = " ".join(["attention"] * 200)
    pcm, _ = speech.synthesize(text)
    reference, _ = espeak_own(text)
    np.testing.assert_array_equal(pcm, reference)


def test_begin_speaks_in_a_thread_and_gives_the_same_answer_or_refusal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    speaking = speech.begin(TEXT, chime=True)
    pcm, rate = speaking.result()
    expected, expected_rate = speech.spoken_audio(TEXT, chime=True)
    assert rate == expected_rate
    np.testing.assert_array_equal(pcm, expected)
    monkeypatch.setenv("PATH", str(tmp_path))
    missing = speech.begin(TEXT)
    with pytest.raises(Missing, match="espeak-ng is not installed"):
        missing.result()
    with pytest.raises(BadInput, match=r"^nothing to say"):
        speech.begin(" ").result()


def test_importing_speech_loads_no_numpy() -> None:
    """A page begins speaking before numpy (tens of milliseconds) is loaded: the speech
    module and its package load it only when it is needed."""
    child = "import sys, polyptt.audio.speech; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    assert done.stdout == "False\n"
