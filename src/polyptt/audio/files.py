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
The same for samples already in memory (speech, `polyptt.audio.speech`)
    :func:`pcm_page`

Audio that is already mono at the codec's rate in a 16-bit (or narrower) encoding and is
not scaled is read as ``int16`` and passed on sample for sample: a G.711 or G.722 file
prepared for the phones reaches the encoder exactly as it was made.
"""

from __future__ import annotations

import io
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypedDict

import numpy as np
import numpy.typing as npt

from polyptt.audio.pcm import to_int16

__all__ = [
    "STDIN",
    "Audio",
    "AudioError",
    "AudioTooLongError",
    "Bounds",
    "NotAudioError",
    "PageAudio",
    "Shaping",
    "arrange",
    "load",
    "load_page",
    "page_bounds",
    "pcm_page",
    "shaping",
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


@dataclass(frozen=True)
class Bounds:
    """How much of a file may be decoded: what keeps a small file from taking gigabytes.

    A file's header is checked before any sample is decoded (rate, channels, declared
    length), and decoding stops as soon as the limit is passed, so a header that lies
    costs at most one block more than the limit.

    Attributes
    ----------
    max_s : float or None
        The longest audio accepted, in seconds; longer is an `AudioTooLongError`.
    cut_s : float or None
        Read only this many seconds (the page is cut there anyway); the rest is skipped.
    """

    max_s: float | None = None
    cut_s: float | None = None


#: Sample rates a file may have: below, a few bytes declare hours; above, no real file.
MIN_RATE, MAX_RATE = 4000, 192000
#: Channels a file may have (7.1, the widest common layout); all are mixed to mono.
MAX_CHANNELS = 8
#: Frames decoded at a time: at most 8 channels x 65,536 x 4 bytes = 2 MiB per block.
BLOCK_FRAMES = 65536
# libsndfile's frame count when the header does not say (SF_COUNT_MAX)
_UNKNOWN_FRAMES = 2**63 - 1
#: Decoded past a page's ``duration`` (which its sender cuts at a whole frame): more
#: than a frame (at most 80 ms) and the resampler's reach, so the cut page is the same.
CUT_MARGIN_S = 0.25
#: The longest file ``send`` pages unless ``--duration`` cuts it (ten minutes: a page
#: is held whole in memory, about 0.4 GB per 10 minutes at 16 kHz; live input streams).
SEND_MAX_S = 600.0


class AudioTooLongError(AudioError):
    """The audio lasts longer than the page may (declared or found while decoding)."""


def _too_long(name: str, lasts: str, limit: float) -> AudioTooLongError:
    return AudioTooLongError(f"{name}: the audio lasts {lasts}; limit: {limit:g} s")


def _check_header(name: str, file: Any, bounds: Bounds) -> None:
    """Refuse, before decoding, a rate, channel count or declared length past the bounds."""
    if not MIN_RATE <= file.samplerate <= MAX_RATE:
        raise AudioError(
            f"{name}: sample rate {file.samplerate} Hz; files must be {MIN_RATE}-{MAX_RATE} Hz"
        )
    if file.channels > MAX_CHANNELS:
        raise AudioError(f"{name}: {file.channels} channels; at most {MAX_CHANNELS}")
    if file.frames >= _UNKNOWN_FRAMES:  # a stream's header may not say: decoding stops
        return
    declared = file.frames / file.samplerate
    if bounds.max_s is not None and bounds.cut_s is None and declared > bounds.max_s:
        raise _too_long(name, f"{declared:.1f} s", bounds.max_s)


def _frame_budget(rate: int, bounds: Bounds) -> tuple[int | None, int | None]:
    """(frames to read at most, frames past which the file is refused) at `rate`."""
    cut = None if bounds.cut_s is None else max(1, math.ceil(bounds.cut_s * rate))
    refuse = None
    if bounds.max_s is not None and cut is None:
        refuse = math.floor(bounds.max_s * rate)
    return cut, refuse


def _mono(block: npt.NDArray[Any], exact: bool) -> npt.NDArray[Any]:
    """One block mixed to mono, in the dtype the one-shot path always used."""
    if exact:
        return np.ascontiguousarray(block[:, 0], dtype=np.int16)
    if block.shape[1] > 1:
        return block.mean(axis=1, dtype=np.float64)
    return block[:, 0].astype(np.float32)


def _decode(name: str, file: Any, rate: int, exact: bool, bounds: Bounds) -> npt.NDArray[Any]:
    """The file as mono at `rate`, decoded and resampled block by block (soxr streams)."""
    import soxr

    cut, refuse = _frame_budget(file.samplerate, bounds)
    stream = None
    dtype = "float64" if file.channels > 1 else "float32"
    if not exact and file.samplerate != rate:
        stream = soxr.ResampleStream(file.samplerate, rate, 1, dtype=dtype, quality="HQ")
    pieces: list[npt.NDArray[Any]] = []
    done = 0
    while cut is None or done < cut:
        want = BLOCK_FRAMES if cut is None else min(BLOCK_FRAMES, cut - done)
        block = file.read(want, dtype="int16" if exact else "float32", always_2d=True)
        if len(block) == 0:
            break
        done += len(block)
        if refuse is not None and done > refuse:
            assert bounds.max_s is not None
            raise _too_long(name, f"more than {bounds.max_s:g} s", bounds.max_s)
        mono = _mono(block, exact)
        pieces.append(mono if stream is None else stream.resample_chunk(mono, last=False))
    if stream is not None:
        pieces.append(stream.resample_chunk(np.zeros(0, dtype=dtype), last=True))
    if done == 0:
        raise AudioError(f"{name}: contains no audio")
    return np.concatenate(pieces) if len(pieces) > 1 else pieces[0]


def _read(
    source: str | Path,
    rate: int,
    gain_db: float,
    stdin: BinaryIO | None,
    bounds: Bounds,
) -> tuple[npt.NDArray[Any], int, int, bool]:
    """The file as mono at `rate` (int16 when `exact`, else float), and its properties."""
    import soundfile

    opened = _open(source, stdin)
    name = _name(source)
    try:
        with soundfile.SoundFile(opened) as file:
            _check_header(name, file, bounds)
            exact = (
                file.channels == 1
                and file.samplerate == rate
                and gain_db == 0
                and file.subtype in _INT16_SUBTYPES
            )
            mono = _decode(name, file, rate, exact, bounds)
            return mono, file.samplerate, file.channels, exact
    except soundfile.LibsndfileError as exc:
        if isinstance(opened, io.BytesIO) and not opened.getvalue():
            raise AudioError(f"{name}: no data") from None
        detail = str(exc.error_string).rstrip(".")
        raise NotAudioError(f"{name}: not an audio file libsndfile can read ({detail})") from None
    except AudioError:
        raise
    except (RuntimeError, TypeError, ValueError) as exc:  # damaged headers and the like
        raise AudioError(f"{name}: unreadable audio ({exc})") from None


def load(
    source: str | Path,
    sample_rate: int,
    *,
    gain_db: float = 0.0,
    stdin: BinaryIO | None = None,
    bounds: Bounds | None = None,
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
    bounds : Bounds, optional
        How long the audio may be; the header is checked against them before decoding
        (rate 4-192 kHz, at most 8 channels, declared length) and decoding stops once
        they are passed. Memory is then about ``max_s`` (or ``cut_s``) seconds of the
        codec's rate in float64, a few times over, plus one 2 MiB block.

    Returns
    -------
    Audio

    Raises
    ------
    AudioError
        A missing or unreadable file, data that is not audio, audio with no samples, or
        audio past the bounds (`AudioTooLongError`).
    """
    mono, source_rate, channels, exact = _read(
        source, sample_rate, gain_db, stdin, bounds or Bounds()
    )
    if exact:
        return Audio(mono, sample_rate, source_rate, channels, 0, True)
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


class Shaping(TypedDict):
    """The keywords of `load_page` and `pcm_page` that arrange a page's audio."""

    repeat: int
    gap_s: float
    gain_db: float
    max_s: float | None
    duration_s: float | None


class _Shaped(Protocol):
    """What asks for a page: ``send``'s job, the relay's page request."""

    @property
    def repeat(self) -> int: ...
    @property
    def gap(self) -> float: ...
    @property
    def gain(self) -> float: ...
    @property
    def duration(self) -> float | None: ...


def shaping(page: _Shaped, max_s: float | None) -> Shaping:
    """`page`'s repeats, gap, gain and cut as `load_page`'s and `pcm_page`'s keywords, so
    that a file and speech for the same page are arranged alike."""
    return Shaping(
        repeat=page.repeat,
        gap_s=page.gap,
        gain_db=page.gain,
        max_s=max_s,
        duration_s=page.duration,
    )


def page_bounds(max_s: float | None, duration_s: float | None, repeat: int, gap_s: float) -> Bounds:
    """What one file of a page may last: a page of at most `max_s` seconds, `repeat`
    plays with `gap_s` between, cut at `duration_s` (a cut page is never too long)."""
    if duration_s is not None and (max_s is None or duration_s <= max_s):
        return Bounds(cut_s=duration_s + CUT_MARGIN_S)
    if max_s is None:
        return Bounds()
    return Bounds(max_s=max(0.0, (max_s - (repeat - 1) * gap_s) / repeat))


def load_page(
    source: str | Path,
    codec: str,
    frame_ms: int,
    *,
    repeat: int = 1,
    gap_s: float = 0.0,
    gain_db: float = 0.0,
    stdin: BinaryIO | None = None,
    max_s: float | None = None,
    duration_s: float | None = None,
) -> PageAudio:
    """Read, convert and encode a whole file for a page, before anything is sent.

    Parameters are those of :func:`load` and :func:`arrange`, with the codec's name
    and frame length (see `polyptt.codecs`), the gap in seconds, the longest page
    accepted (`max_s`) and where the page will be cut (`duration_s`: only that much of
    the file is decoded); see `page_bounds`.

    Raises
    ------
    AudioError
        As :func:`load`; `AudioTooLongError` names the page's limit.
    """
    from polyptt import codecs

    rate = codecs.info(codec).sample_rate
    bounds = page_bounds(max_s, duration_s, repeat, gap_s)
    try:
        loaded = load(source, rate, gain_db=gain_db, stdin=stdin, bounds=bounds)
    except AudioTooLongError as exc:
        if repeat == 1 or max_s is None:
            raise
        raise AudioTooLongError(
            f"{exc}; {repeat} plays with {gap_s:g} s gaps must fit in {max_s:g} s"
        ) from None
    return _encode_page(loaded.pcm, loaded.clipped, codec, frame_ms, repeat, gap_s)


def _encode_page(
    pcm: npt.NDArray[np.int16], clipped: int, codec: str, frame_ms: int, repeat: int, gap_s: float
) -> PageAudio:
    """`pcm` at the codec's rate arranged (`arrange`) and encoded into a page's frames."""
    from polyptt import codecs
    from polyptt.audio.framer import Framer

    rate = codecs.info(codec).sample_rate
    framer = Framer(codec, frame_ms)
    signal = arrange(pcm, framer.frame_samples, repeat=repeat, gap_samples=round(gap_s * rate))
    frames = framer.push(signal) + framer.flush()
    return PageAudio(frames, clipped, len(signal) / rate)


def pcm_page(
    pcm: npt.NDArray[np.int16],
    sample_rate: int,
    codec: str,
    frame_ms: int,
    *,
    repeat: int = 1,
    gap_s: float = 0.0,
    gain_db: float = 0.0,
    max_s: float | None = None,
    duration_s: float | None = None,
    name: str = "the audio",
) -> PageAudio:
    """Mono int16 samples already in memory (speech, a chime) as a page's frames: what
    :func:`load_page` does for a file, within the same bounds (`page_bounds`).

    Raises
    ------
    AudioError
        No samples, a rate outside `MIN_RATE`-`MAX_RATE`, or audio longer than the page
        may last (`AudioTooLongError`, naming the limit); `name` names the audio.
    """
    from polyptt import codecs

    if not MIN_RATE <= sample_rate <= MAX_RATE:
        raise AudioError(f"{name}: sample rate {sample_rate} Hz; must be {MIN_RATE}-{MAX_RATE} Hz")
    if not len(pcm):
        raise AudioError(f"{name}: contains no audio")
    bounds = page_bounds(max_s, duration_s, repeat, gap_s)
    if bounds.cut_s is not None:
        pcm = pcm[: math.ceil(bounds.cut_s * sample_rate)]
    lasts = len(pcm) / sample_rate
    if bounds.max_s is not None and lasts > bounds.max_s:
        error = _too_long(name, f"{lasts:.1f} s", max_s or 0.0)
        if repeat > 1:
            error = AudioTooLongError(
                f"{error}; {repeat} plays with {gap_s:g} s gaps must fit in {max_s:g} s"
            )
        raise error
    rate = codecs.info(codec).sample_rate
    if sample_rate == rate and not gain_db:
        return _encode_page(pcm, 0, codec, frame_ms, repeat, gap_s)
    signal: npt.NDArray[Any] = pcm.astype(np.float32) / 32768.0
    if sample_rate != rate:
        import soxr

        signal = soxr.resample(signal, sample_rate, rate, "HQ")
    if gain_db:
        signal = signal * 10.0 ** (gain_db / 20.0)
    converted, clipped = to_int16(signal)
    if not len(converted):
        raise AudioError(f"{name}: too short to resample to {rate} Hz")
    return _encode_page(converted, clipped, codec, frame_ms, repeat, gap_s)
