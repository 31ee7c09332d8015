"""Audio files in, the PCM a codec takes out: one-shot loading for pages from files.

A page must not start and then fail halfway, so everything that can go wrong with the
audio happens here, before the first packet: the file is read whole, mixed to mono,
resampled to the codec's rate, scaled, converted to ``int16`` and padded to whole
frames. Every problem with the input raises :class:`AudioError`, whose message is one
line fit for a cron mail.

Map by purpose
--------------
Read a file (or stdin) into codec-ready PCM
    :func:`load`, :class:`Audio`
Build a page's signal from it (repeats, gaps, whole frames)
    :func:`arrange`
All of it at once: a file as a page's encoded frames
    :func:`load_page`, :class:`PageAudio`

Audio that is already mono at the codec's rate in a 16-bit (or narrower) encoding and is
not scaled is read as ``int16`` and passed on sample for sample: a G.711 or G.722 file
prepared for the phones reaches the encoder exactly as it was made.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from polyptt.audio.pcm import to_int16

__all__ = [
    "STDIN",
    "Audio",
    "AudioError",
    "NotAudioError",
    "PageAudio",
    "arrange",
    "load",
    "load_page",
]

#: The file name that means "read standard input".
STDIN = "-"

# Encodings libsndfile decodes to int16 without loss: such files can skip the float path.
_INT16_SUBTYPES = frozenset({"PCM_S8", "PCM_U8", "PCM_16", "ULAW", "ALAW"})


class AudioError(ValueError):
    """The input audio cannot be paged; the message is one line naming the input."""


class NotAudioError(AudioError):
    """The input is not audio in any format libsndfile reads (a text, a form, a video)."""


@dataclass(frozen=True)
class Audio:
    """A signal ready for an encoder, and what was done to get it.

    Attributes
    ----------
    pcm : numpy.ndarray
        Mono ``int16`` samples at `sample_rate`.
    sample_rate : int
        The codec's rate.
    source_rate : int
        The file's sample rate.
    source_channels : int
        The file's channel count (mixed to mono by averaging).
    clipped : int
        Samples that exceeded 16-bit full scale after resampling and gain, and were
        clipped. Non-zero means audible distortion: lower ``--gain``.
    exact : bool
        True when the samples are the file's own, unconverted.
    """

    pcm: npt.NDArray[np.int16]
    sample_rate: int
    source_rate: int
    source_channels: int
    clipped: int
    exact: bool


def _name(source: str | Path) -> str:
    return "standard input" if str(source) == STDIN else str(source)


def _open(source: str | Path, stdin: BinaryIO | None) -> str | Path | io.BytesIO:
    """What soundfile should read; stdin is slurped because it cannot seek."""
    if str(source) == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        return io.BytesIO(stream.read())
    path = Path(source)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise AudioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return path


def _read(
    source: str | Path, rate: int, gain_db: float, stdin: BinaryIO | None
) -> tuple[npt.NDArray[np.int16] | npt.NDArray[np.float32], int, int, bool]:
    """The file's samples as (frames x channels) int16 or float32, and its properties."""
    import soundfile

    opened = _open(source, stdin)
    try:
        with soundfile.SoundFile(opened) as file:
            exact = (
                file.channels == 1
                and file.samplerate == rate
                and gain_db == 0
                and file.subtype in _INT16_SUBTYPES
            )
            data = file.read(dtype="int16" if exact else "float32", always_2d=True)
            return data, file.samplerate, file.channels, exact
    except soundfile.LibsndfileError as exc:
        if isinstance(opened, io.BytesIO) and not opened.getvalue():
            raise AudioError(f"{_name(source)}: no data") from None
        detail = str(exc.error_string).rstrip(".")
        raise NotAudioError(
            f"{_name(source)}: not an audio file libsndfile can read ({detail})"
        ) from None
    except (RuntimeError, TypeError, ValueError) as exc:  # damaged headers and the like
        raise AudioError(f"{_name(source)}: unreadable audio ({exc})") from None


def load(
    source: str | Path,
    sample_rate: int,
    *,
    gain_db: float = 0.0,
    stdin: BinaryIO | None = None,
) -> Audio:
    """Read any file libsndfile can (WAV, FLAC, Ogg, MP3...) as mono int16 at `sample_rate`.

    Parameters
    ----------
    source : str or pathlib.Path
        A file name, or ``"-"`` for standard input (read whole into memory first).
    sample_rate : int
        The codec's rate; the audio is resampled to it with soxr (high quality).
    gain_db : float
        Gain applied after resampling, in decibels.
    stdin : binary file, optional
        What ``"-"`` reads instead of ``sys.stdin.buffer`` (for tests and embedding).

    Returns
    -------
    Audio

    Raises
    ------
    AudioError
        A missing or unreadable file, data that is not audio, or audio with no samples.
    """
    data, source_rate, channels, exact = _read(source, sample_rate, gain_db, stdin)
    if len(data) == 0:
        raise AudioError(f"{_name(source)}: contains no audio")
    if exact:
        pcm: npt.NDArray[np.int16] = np.ascontiguousarray(data[:, 0], dtype=np.int16)
        return Audio(pcm, sample_rate, source_rate, channels, 0, True)

    mono: npt.NDArray[np.floating] = (
        data.mean(axis=1, dtype=np.float64) if channels > 1 else data[:, 0].astype(np.float32)
    )
    if source_rate != sample_rate:
        import soxr

        mono = soxr.resample(mono, source_rate, sample_rate, quality="HQ")
    if gain_db:
        mono = mono * 10.0 ** (gain_db / 20.0)
    pcm, clipped = to_int16(mono)
    if len(pcm) == 0:
        raise AudioError(f"{_name(source)}: too short to resample to {sample_rate} Hz")
    return Audio(pcm, sample_rate, source_rate, channels, clipped, False)


def arrange(
    pcm: npt.NDArray[np.int16],
    frame_samples: int,
    *,
    repeat: int = 1,
    gap_samples: int = 0,
) -> npt.NDArray[np.int16]:
    """The whole signal of a page: `pcm` `repeat` times with silence between, whole frames.

    The last frame is completed with silence, so the page's audio ends with a full frame
    like every other (receivers size frames from the sample-count step).

    Parameters
    ----------
    pcm : numpy.ndarray
        Mono int16 samples.
    frame_samples : int
        Samples in one frame at the codec's rate.
    repeat : int
        How many times the audio plays (at least 1).
    gap_samples : int
        Silence between two plays, in samples.

    Raises
    ------
    ValueError
        For `repeat` < 1, negative `gap_samples` or non-positive `frame_samples`.
    """
    if repeat < 1 or gap_samples < 0 or frame_samples < 1:
        raise ValueError("repeat must be >= 1, gap >= 0 and frames non-empty")
    gap = np.zeros(gap_samples, dtype=np.int16)
    pieces: list[npt.NDArray[np.int16]] = []
    for index in range(repeat):
        if index:
            pieces.append(gap)
        pieces.append(pcm)
    signal = np.concatenate(pieces) if len(pieces) > 1 else pcm
    pad = -len(signal) % frame_samples
    if pad:
        signal = np.concatenate([signal, np.zeros(pad, dtype=np.int16)])
    return signal


@dataclass(frozen=True)
class PageAudio:
    """A file ready to page: its encoded frames and what was done to get them.

    Attributes
    ----------
    frames : list of bytes
        Encoded frames of the page's codec and size, the last one completed with silence.
    clipped : int
        Samples clipped at full scale (see `Audio.clipped`).
    duration_s : float
        Seconds of audio in the frames (repeats and gaps included).
    """

    frames: list[bytes]
    clipped: int
    duration_s: float


def load_page(
    source: str | Path,
    codec: str,
    frame_ms: int,
    *,
    repeat: int = 1,
    gap_s: float = 0.0,
    gain_db: float = 0.0,
    stdin: BinaryIO | None = None,
) -> PageAudio:
    """Read, convert and encode a whole file for a page, before anything is sent.

    Parameters are those of :func:`load` and :func:`arrange`, with the codec's name
    and frame length (see `polyptt.codecs`) and the gap in seconds.

    Raises
    ------
    AudioError
        As :func:`load`.
    """
    from polyptt import codecs
    from polyptt.audio.framer import Framer

    rate = codecs.info(codec).sample_rate
    loaded = load(source, rate, gain_db=gain_db, stdin=stdin)
    framer = Framer(codec, frame_ms)
    signal = arrange(
        loaded.pcm, framer.frame_samples, repeat=repeat, gap_samples=round(gap_s * rate)
    )
    frames = framer.push(signal) + framer.flush()
    return PageAudio(frames, loaded.clipped, len(signal) / rate)
