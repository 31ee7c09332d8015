"""Is a raw stream raw? Its first bytes, read before a raw page starts.

``send --raw RATE FILE`` pages whatever bytes arrive as 16-bit PCM, so an MP3 or a WAV
given with ``--raw`` by mistake would reach every phone as full-scale noise. Audio
files announce themselves in their first bytes; :func:`read_head` reads those before
the page's first alert and refuses a known container, and a stream that ends before
its first sample (a text-to-speech engine that failed) is no page either.

Decision on MPEG audio: its frame sync (eleven 1 bits) is also what a raw stream
starting with a small negative sample looks like (``-1`` is ``FF FF``), so one
plausible frame header is not enough: a second one must follow where the first frame
ends. An ID3 tag, the usual start of an MP3 file, is recognised on its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

from polyptt.audio.files import AudioError

__all__ = [
    "SNIFF_BYTES",
    "RawInputError",
    "bytes_wanted",
    "describe_container",
    "read_head",
    "reader_of",
]

#: First bytes every signature but MPEG audio's is decided on (``RIFF....WAVE``).
SNIFF_BYTES = 12

#: The smallest raw audio: one 16-bit sample.
SAMPLE_BYTES = 2

# signature -> description: (offset, bytes) pairs that must all match
_SIGNATURES: tuple[tuple[tuple[tuple[int, bytes], ...], str], ...] = (
    (((0, b"RIFF"), (8, b"WAVE")), "a WAV file (RIFF/WAVE)"),
    (((0, b"RF64"), (8, b"WAVE")), "a WAV file (RF64/WAVE)"),
    (((0, b"BW64"), (8, b"WAVE")), "a WAV file (BW64/WAVE)"),
    (((0, b"fLaC"),), "a FLAC file"),
    (((0, b"OggS"),), "an Ogg file"),
    (((0, b"FORM"), (8, b"AIFF")), "an AIFF file"),
    (((0, b"FORM"), (8, b"AIFC")), "an AIFF-C file"),
    (((4, b"ftyp"),), "an MP4/M4A file (ftyp)"),
    (((0, b"riff\x2e\x91\xcf\x11"),), "a Wave64 file"),
    (((0, b"caff"),), "a CAF file"),
    (((0, b".snd"),), "a Sun/NeXT AU file"),
)

# MPEG audio frame headers: bit rates (kbit/s, indexes 1-14) by (MPEG-1?, layer)
_BITRATES = {
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
# sample rates by the header's version bits (0: MPEG-2.5, 2: MPEG-2, 3: MPEG-1)
_RATES = {0: (11025, 12000, 8000), 2: (22050, 24000, 16000), 3: (44100, 48000, 32000)}
_HEADER_BYTES = 4


class RawInputError(AudioError):
    """A raw stream that is no raw audio: a known container, or no sample at all."""


def _mpeg_frame(header: bytes) -> tuple[int, tuple[int, int, int]] | None:
    """The length of the MPEG audio frame `header` (4 bytes) starts and its (version,
    layer, rate index), or None if it is no valid frame header (free format included:
    its length is unknown)."""
    if len(header) < _HEADER_BYTES or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer_bits = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    bitrate_index, rate_index = header[2] >> 4, (header[2] >> 2) & 3
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    layer, mpeg1 = 4 - layer_bits, version == 3
    bitrate = _BITRATES[mpeg1, layer][bitrate_index - 1] * 1000
    rate = _RATES[version][rate_index]
    padding = (header[2] >> 1) & 1
    if layer == 1:
        length = (12 * bitrate // rate + padding) * 4
    else:
        length = (144 if layer == 2 or mpeg1 else 72) * bitrate // rate + padding
    return length, (version, layer, rate_index)


def _id3_tag(head: bytes) -> bool:
    """An ID3v2 tag's header: "ID3", version 2-4, a revision, flags, and a size of
    four 7-bit bytes."""
    return (
        head[:3] == b"ID3"
        and len(head) >= 10
        and 2 <= head[3] <= 4
        and head[4] != 0xFF
        and all(byte < 0x80 for byte in head[6:10])
    )


def bytes_wanted(head: bytes) -> int:
    """How many first bytes :func:`describe_container` needs to judge a stream that
    starts with `head`: `SNIFF_BYTES`, or up to the second frame header of what may be
    MPEG audio."""
    frame = _mpeg_frame(head[:_HEADER_BYTES])
    if frame is None:
        return SNIFF_BYTES
    return max(SNIFF_BYTES, frame[0] + _HEADER_BYTES)


def describe_container(head: bytes) -> str | None:
    """What a stream that starts with `head` is, if a known audio file format (e.g.
    ``"a WAV file (RIFF/WAVE)"``); None if it may be raw PCM.

    `head` should hold `bytes_wanted` bytes; a shorter one (the whole stream) is
    judged on what it has: a signature cut short does not match.
    """
    for fields, description in _SIGNATURES:
        if all(head[at : at + len(magic)] == magic for at, magic in fields):
            return description
    if _id3_tag(head):
        return "an MP3 file (ID3 tag)"
    first = _mpeg_frame(head[:_HEADER_BYTES])
    if first is not None:
        length, kind = first
        second = _mpeg_frame(head[length : length + _HEADER_BYTES])
        if second is not None and second[1] == kind:
            return "an MP3 file (MPEG audio frames)" if kind[1] == 3 else "an MPEG audio file"
    return None


def reader_of(stream: BinaryIO) -> Callable[[int], bytes]:
    """A function reading at most n bytes of `stream`, returning what is there at once:
    ``os.read`` on its descriptor (a pipe's data as it arrives, not a full buffer), or
    the stream's own ``read`` if it has none (an in-memory stream)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return stream.read
    return lambda size: os.read(fd, size)


def read_head(read: Callable[[int], bytes], name: str) -> bytes:
    """A raw stream's first bytes, once there are enough to judge it (or it ended).

    Blocks until then: a raw page waits for its first audio before its first alert.

    Parameters
    ----------
    read : callable
        Reads at most n bytes, ``b""`` at the end (see :func:`reader_of`).
    name : str
        The stream as the user knows it ("standard input", a path), for messages.

    Returns
    -------
    bytes
        What was read: the stream's first bytes, to be paged first.

    Raises
    ------
    RawInputError
        The stream looks like a known audio file, ended before one whole sample, or
        could not be read.
    """
    head = b""
    while len(head) < (wanted := bytes_wanted(head)):
        try:
            data = read(wanted - len(head))
        except OSError as exc:
            raise RawInputError(f"{name}: {exc.strerror or exc}") from None
        if not data:
            break
        head += data
    if len(head) < SAMPLE_BYTES:
        raise RawInputError(f"{name}: ended before any audio (expected raw 16-bit PCM)")
    container = describe_container(head)
    if container is not None:
        raise RawInputError(
            f"{name} looks like {container}, not raw PCM: drop --raw to page it as a file"
        )
    return head
