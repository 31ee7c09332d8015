"""Text to speech: a text as mono int16 PCM, ready to be paged like a file's audio.

Two engines: espeak-ng (the program, found on PATH: ``apt install espeak-ng``), the
default, small and fast; and Piper (``pip install 'polyptt[piper]'``), a neural voice
from a ``.onnx`` file the user supplies (with its ``.onnx.json`` beside it), imported
only when asked for. Everything that can go wrong is said in one line before any page
begins: no engine (`polyptt.errors.Missing`: what to install), an empty text, an
unknown voice, a rate out of range (`polyptt.errors.BadInput`, naming the option).

Both functions block (espeak-ng is a subprocess, Piper runs a model): from an event
loop, call them with ``asyncio.to_thread``. Encoding the result into a page's frames is
`polyptt.audio.files.pcm_page` (the relay's `polyptt.relay.requests.pcm_frames`), with
the page length limit checked before anything is sent.

The bundled chime (`chime_file`, ``chime.wav`` in this package) is the one
``examples/audio/chime.wav`` holds, made for polyptt and under its MIT licence.
"""

from __future__ import annotations

import functools
import io
import math
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyptt.errors import BadInput, Missing

if TYPE_CHECKING:
    from typing import TypeAlias

    import numpy as np
    import numpy.typing as npt

    #: Mono int16 samples and their rate.
    Speech: TypeAlias = tuple[npt.NDArray[np.int16], int]

__all__ = [
    "CHIME_GAP_S",
    "ENGINES",
    "MAX_RATE_WPM",
    "MAX_TEXT_CHARS",
    "MIN_RATE_WPM",
    "Speaking",
    "Voice",
    "begin",
    "chime_at",
    "chime_file",
    "clean_text",
    "speech_start",
    "spoken_audio",
    "synthesize",
]

#: The engines there are; the first is the default.
ENGINES = ("espeak-ng", "piper")
#: Speaking rates accepted, in words per minute (espeak-ng's own range; its default 175).
MIN_RATE_WPM, MAX_RATE_WPM = 80, 500
#: espeak-ng's rate when none is asked for; Piper's voices speak about as fast.
DEFAULT_RATE_WPM = 175
#: The longest text an engine is given: far more than any page may last (ten minutes
#: of speech is about 9,000 characters), so a runaway text costs no synthesis time.
MAX_TEXT_CHARS = 10_000
#: Silence between the chime and the speech, at least (`speech_start`).
CHIME_GAP_S = 0.25
#: How long an engine may take before it is given up on.
TIMEOUT_S = 60.0

_INSTALL_ESPEAK = "no text-to-speech engine: espeak-ng is not installed (apt install espeak-ng)"
_INSTALL_PIPER = "piper is not installed: pip install 'polyptt[piper]'"
# a control character other than tab and newline (a NUL would end espeak-ng's text)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# espeak-ng voice names: "en", "en-us", "en+f3", "gmw/en-US", "mb/mb-en1"; never an
# option, nor a path out of espeak-ng's voices (a relay's client names one)
_ESPEAK_VOICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+-]{0,31}(/[A-Za-z0-9][A-Za-z0-9_+-]{0,31})?")


@dataclass(frozen=True)
class Voice:
    """Who speaks: the engine, its voice and how fast.

    Attributes
    ----------
    engine : str
        ``"espeak-ng"`` or ``"piper"`` (`ENGINES`).
    voice : str or None
        An espeak-ng voice name (``espeak-ng --voices`` lists them; None: its default),
        or the path of a Piper ``.onnx`` voice (required for Piper).
    rate_wpm : int or None
        Words per minute, `MIN_RATE_WPM`-`MAX_RATE_WPM`; None: the engine's own.
    """

    engine: str = "espeak-ng"
    voice: str | None = None
    rate_wpm: int | None = None


def synthesize(text: str, voice: Voice = Voice()) -> Speech:
    """`text` spoken by `voice`: mono int16 samples and their sample rate.

    Raises
    ------
    polyptt.errors.Missing
        The engine is not installed (the message says what to install).
    polyptt.errors.BadInput
        An empty or too long text (``--say``), an unknown engine (``--tts-engine``), a
        voice the engine does not have (``--voice``), a rate out of range (``--rate``),
        or an engine that failed (its own words, on one line).
    """
    clean = clean_text(text)
    _check_rate(voice.rate_wpm)
    if voice.engine == "espeak-ng":
        pcm, rate = _espeak(clean, voice)
    elif voice.engine == "piper":
        pcm, rate = _piper(clean, voice)
    else:
        raise BadInput(
            f"no text-to-speech engine {voice.engine!r}; choose {' or '.join(ENGINES)}",
            "--tts-engine",
        )
    import numpy as np  # once the engine has run: it speaks while numpy loads (`begin`)

    if not np.any(pcm):
        raise BadInput(f"nothing to say: {text.strip()!r} makes no sound", "--say")
    return pcm, rate


def spoken_audio(text: str, voice: Voice = Voice(), *, chime: bool = False) -> Speech:
    """`text` spoken, after the bundled chime and `CHIME_GAP_S` of silence if `chime`:
    one signal at the speech's rate (the chime is resampled to it), for one page."""
    speech, rate = synthesize(text, voice)
    if not chime:
        return speech, rate
    import numpy as np

    bell = chime_at(rate)
    gap = np.zeros(speech_start(len(bell), rate) - len(bell), dtype=np.int16)
    return np.concatenate([bell, gap, speech]), rate


class Speaking:
    """A text being spoken in a thread of its own (`begin`); `result` waits for it.

    A page that starts its speech first has it spoken while the rest of the page is made
    ready (numpy, the codecs, the socket): espeak-ng takes about as long as those take.
    """

    def __init__(self, work: Callable[[], Speech]) -> None:
        self._outcome: tuple[Speech | None, BaseException | None] = (None, None)
        self._thread = threading.Thread(target=self._run, args=(work,), name="speech", daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], Speech]) -> None:
        try:
            self._outcome = (work(), None)
        except BaseException as exc:  # given to whoever waits, in their thread
            self._outcome = (None, exc)

    def result(self) -> Speech:
        """`spoken_audio`'s answer, or its exception (`Missing`, `BadInput`)."""
        self._thread.join()
        speech, error = self._outcome
        if error is not None:
            raise error
        assert speech is not None
        return speech


def begin(text: str, voice: Voice = Voice(), *, chime: bool = False) -> Speaking:
    """`spoken_audio` started in a thread: its `Speaking.result` is the same, later."""
    return Speaking(functools.partial(spoken_audio, text, voice, chime=chime))


def speech_start(chime_samples: int, rate: int) -> int:
    """Where the speech begins after a chime of `chime_samples` at `rate`: `CHIME_GAP_S`
    after it, rounded up to a whole 20 ms, so it starts on the same instant at every
    rate a codec resamples it to (no fraction of a sample between chime and speech)."""
    blocks = math.ceil(round((chime_samples / rate + CHIME_GAP_S) * 50, 6))
    return round(blocks * rate / 50)


def chime_file() -> Path:
    """The bundled chime's file (``chime.wav`` in this package, 16 kHz mono)."""
    from importlib import resources

    return Path(str(resources.files("polyptt.audio").joinpath("chime.wav")))


@functools.lru_cache(maxsize=4)
def chime_at(rate: int) -> npt.NDArray[np.int16]:
    """The bundled chime as mono int16 at `rate` (read-only: one copy for every page)."""
    from polyptt.audio.files import load

    pcm = load(chime_file(), rate).pcm
    pcm.setflags(write=False)
    return pcm


# ------------------------------------------------------------------ checks


def clean_text(text: str) -> str:
    """The text an engine is given: control characters as spaces; `BadInput` if empty or
    longer than `MAX_TEXT_CHARS`."""
    clean = _CONTROL.sub(" ", text).strip()
    if not clean:
        raise BadInput("nothing to say: the text is empty", "--say")
    if len(clean) > MAX_TEXT_CHARS:
        raise BadInput(f"the text has {len(clean)} characters; at most {MAX_TEXT_CHARS}", "--say")
    return clean


def _check_rate(rate_wpm: int | None) -> None:
    if rate_wpm is not None and not MIN_RATE_WPM <= rate_wpm <= MAX_RATE_WPM:
        raise BadInput(
            f"{rate_wpm} words per minute; the rate must be {MIN_RATE_WPM}-{MAX_RATE_WPM}",
            "--rate",
        )


# ------------------------------------------------------------------ espeak-ng


def _espeak(text: str, voice: Voice) -> Speech:
    """espeak-ng's WAV on stdout, the text on stdin (never an option, any length)."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise Missing(_INSTALL_ESPEAK)
    # --stdin: the text read whole, as an argument would be (without it, line by line)
    command = [program, "--stdout", "--stdin", "-b", "1"]  # -b 1: the text is UTF-8
    if voice.voice is not None:
        if not _ESPEAK_VOICE.fullmatch(voice.voice):
            raise BadInput(f"{voice.voice!r} is not an espeak-ng voice name", "--voice")
        command += ["-v", voice.voice]
    if voice.rate_wpm is not None:
        command += ["-s", str(voice.rate_wpm)]
    try:
        done = subprocess.run(
            command, input=text.encode(), capture_output=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise BadInput(f"espeak-ng took more than {TIMEOUT_S:g} s", "--say") from None
    except OSError as exc:
        raise Missing(f"espeak-ng cannot be run: {exc.strerror or exc}") from None
    error = " ".join(done.stderr.decode(errors="replace").split())
    if done.returncode != 0 or not done.stdout:
        if "voice does not exist" in error:
            raise BadInput(
                f"espeak-ng has no voice {voice.voice!r} (espeak-ng --voices lists them)",
                "--voice",
            )
        raise BadInput(f"espeak-ng failed: {error or f'exit status {done.returncode}'}")
    return _wav_pcm(done.stdout, "espeak-ng")


def _wav_pcm(data: bytes, engine: str) -> Speech:
    """A mono 16-bit WAV's samples (a streamed header's unknown length is fine)."""
    import numpy as np
    import soundfile

    try:
        pcm, rate = soundfile.read(io.BytesIO(data), dtype="int16", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise BadInput(f"{engine} gave audio that cannot be read ({exc})") from None
    return np.ascontiguousarray(pcm[:, 0]), int(rate)


# ------------------------------------------------------------------ Piper


def _piper(text: str, voice: Voice) -> Speech:
    """Piper's speech with the user's voice file (1.2's API and 1.3's both)."""
    model = _piper_model(voice.voice)
    piper = _load_piper()
    try:
        loaded = piper.PiperVoice.load(str(model))
        scale = None if voice.rate_wpm is None else DEFAULT_RATE_WPM / voice.rate_wpm
        data = io.BytesIO()
        import wave

        with wave.open(data, "wb") as wav:
            if hasattr(loaded, "synthesize_wav"):  # piper-tts >= 1.3
                config = piper.SynthesisConfig(length_scale=scale)
                loaded.synthesize_wav(text, wav, syn_config=config)
            else:
                loaded.synthesize(text, wav, length_scale=scale)
    except Exception as exc:  # a damaged voice file, onnxruntime's refusals
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise BadInput(f"piper failed with {model}: {detail}", "--voice") from None
    return _wav_pcm(data.getvalue(), "piper")


def _piper_model(voice: str | None) -> Path:
    """The Piper voice file, checked: it and its ``.onnx.json`` exist."""
    if voice is None:
        raise BadInput("piper needs a voice file: --voice FILE.onnx", "--voice")
    model = Path(voice)
    if not model.is_file():
        raise BadInput(f"{model}: no such voice file (piper needs a FILE.onnx)", "--voice")
    config = model.with_name(model.name + ".json")
    if not config.is_file():
        raise BadInput(f"{config}: missing (a piper voice comes with its .onnx.json)", "--voice")
    return model


def _load_piper() -> Any:
    try:
        import piper  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise Missing(_INSTALL_PIPER) from None
    return piper
