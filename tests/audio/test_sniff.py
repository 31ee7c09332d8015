"""``send --raw``'s check of a stream's first bytes (`polyptt.audio.sniff`): every audio
file format it knows is refused, made by the tools that make them (libsndfile, ffmpeg),
and raw PCM, however it starts, is not."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile

from polyptt.audio import AudioError
from polyptt.audio.live import RawReader
from polyptt.audio.sniff import (
    SNIFF_BYTES,
    RawInputError,
    bytes_wanted,
    describe_container,
    read_head,
    reader_of,
)

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech16k.wav"


def speech() -> np.ndarray:
    pcm, _rate = soundfile.read(SPEECH, dtype="int16")
    return pcm[:16000]


def libsndfile(fmt: str, subtype: str) -> Callable[[Path], bytes]:
    def make(folder: Path) -> bytes:
        out = io.BytesIO()
        soundfile.write(out, speech(), 16000, format=fmt, subtype=subtype)
        return out.getvalue()

    return make


def ffmpeg(suffix: str, *options: str) -> Callable[[Path], bytes]:
    """A file as ffmpeg writes it (an MP3 with its ID3 tag, an M4A)."""

    def make(folder: Path) -> bytes:
        if shutil.which("ffmpeg") is None:
            pytest.fail("ffmpeg is missing (.ci/run installs it)", pytrace=False)
        out = folder / f"speech{suffix}"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(SPEECH), "-t", "1", *options, str(out)],
            check=True,
            timeout=60,
        )
        return out.read_bytes()

    return make


FILES = {
    "wav": (libsndfile("WAV", "PCM_16"), "a WAV file (RIFF/WAVE)"),
    "wavex": (libsndfile("WAVEX", "PCM_16"), "a WAV file (RIFF/WAVE)"),
    "rf64": (libsndfile("RF64", "PCM_16"), "a WAV file (RF64/WAVE)"),
    "w64": (libsndfile("W64", "PCM_16"), "a Wave64 file"),
    "flac": (libsndfile("FLAC", "PCM_16"), "a FLAC file"),
    "ogg-vorbis": (libsndfile("OGG", "VORBIS"), "an Ogg file"),
    "ogg-opus": (libsndfile("OGG", "OPUS"), "an Ogg file"),
    "aiff": (libsndfile("AIFF", "PCM_16"), "an AIFF file"),
    "au": (libsndfile("AU", "PCM_16"), "a Sun/NeXT AU file"),
    "caf": (libsndfile("CAF", "PCM_16"), "a CAF file"),
    # libsndfile's MP3 has no tag: it starts with a frame (MPEG-2 layer III at 16 kHz)
    "mp3-frames": (libsndfile("MP3", "MPEG_LAYER_III"), "an MP3 file (MPEG audio frames)"),
    "mp3-id3": (ffmpeg(".mp3"), "an MP3 file (ID3 tag)"),
    "mp3-44k-untagged": (
        ffmpeg(".mp3", "-ar", "44100", "-id3v2_version", "0", "-write_xing", "0"),
        "an MP3 file (MPEG audio frames)",  # MPEG-1, with padded frames
    ),
    "mp2": (ffmpeg(".mp2", "-ar", "48000"), "an MPEG audio file"),
    "m4a": (ffmpeg(".m4a"), "an MP4/M4A file (ftyp)"),
    "aifc": (libsndfile("AIFF", "FLOAT"), "an AIFF-C file"),
}


@pytest.mark.parametrize("kind", FILES)
def test_every_known_audio_file_is_refused(tmp_path: Path, kind: str) -> None:
    make, description = FILES[kind]
    data = make(tmp_path)
    assert describe_container(data[: bytes_wanted(data)]) == description
    with pytest.raises(RawInputError) as refused:
        read_head(io.BytesIO(data).read, "tone")
    assert str(refused.value) == (
        f"tone looks like {description}, not raw PCM: drop --raw to page it as a file"
    )
    assert isinstance(refused.value, AudioError)


def test_an_mpeg_frame_is_confirmed_by_the_next_one() -> None:
    """A lone frame header is what a raw stream starting at -1025 looks like: only a
    second header where the first frame ends makes it MPEG audio."""
    mp3 = libsndfile("MP3", "MPEG_LAYER_III")(Path())
    length = 288  # MPEG-2 layer III, 64 kbit/s, 16 kHz: 72 * 64000 / 16000
    assert bytes_wanted(mp3[:4]) == length + 4
    assert mp3[length] == 0xFF
    assert describe_container(mp3[: length + 4]) == "an MP3 file (MPEG audio frames)"
    assert describe_container(mp3[:length]) is None  # not seen yet: not judged
    raw = np.frombuffer(mp3[:4], "<i2").tolist() + speech()[:1000].tolist()
    pcm = np.array(raw, np.int16).tobytes()
    assert pcm[:4] == mp3[:4]  # the very same first frame header...
    assert describe_container(pcm[: bytes_wanted(pcm)]) is None  # ...and raw audio after it


@pytest.mark.parametrize(
    "first",
    [
        [0, 0],  # silence
        [-1, -1],  # FF FF FF FF: a sync, a reserved version... rejected
        [-1025, 0x1234],  # FF FB 34 12: a plausible MPEG-1 layer III header
        [0x4449, 0x0933],  # "ID3\x09": no ID3 version
    ],
)
def test_raw_pcm_is_not_taken_for_a_file(first: list[int]) -> None:
    pcm = np.concatenate([np.array(first, np.int16), speech()]).astype("<i2").tobytes()
    assert read_head(io.BytesIO(pcm).read, "-") == pcm[: bytes_wanted(pcm)]


def test_random_raw_audio_is_never_taken_for_a_file() -> None:
    rng = np.random.default_rng(18)
    for _ in range(2000):
        pcm = rng.integers(-32768, 32767, 2000, dtype=np.int16).astype("<i2").tobytes()
        assert describe_container(pcm[: bytes_wanted(pcm)]) is None


@pytest.mark.parametrize("data", [b"", b"\x01"], ids=["empty", "half a sample"])
def test_a_stream_with_no_sample_is_refused(data: bytes) -> None:
    with pytest.raises(RawInputError, match=r"^standard input: ended before any audio "):
        read_head(io.BytesIO(data).read, "standard input")


def test_a_short_stream_is_judged_on_what_it_has() -> None:
    assert read_head(io.BytesIO(b"\x01\x02\x03\x04").read, "-") == b"\x01\x02\x03\x04"
    with pytest.raises(RawInputError, match="an Ogg file"):
        read_head(io.BytesIO(b"OggS\x00\x02").read, "-")
    assert read_head(io.BytesIO(b"RIFF\x00\x00").read, "-") == b"RIFF\x00\x00"  # no WAVE


def test_a_read_error_is_one_line() -> None:
    def failing(_size: int) -> bytes:
        raise IsADirectoryError(21, "Is a directory")

    with pytest.raises(RawInputError, match=r"^/tmp: Is a directory$"):
        read_head(failing, "/tmp")


def test_the_head_waits_for_enough_bytes_from_a_pipe() -> None:
    """A pipe delivers bytes as they are written: the head is read until the stream can
    be judged, and no further (the rest is left for the page)."""
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        read = reader_of(pipe)
        done: list[float] = []

        def later() -> None:
            os.write(write_fd, b"RIFF")
            time.sleep(0.3)
            done.append(time.monotonic())
            os.write(write_fd, b"\x00" * 100)

        started = time.monotonic()
        writer = threading.Thread(target=later)
        writer.start()
        head = read_head(read, "-")
        writer.join()
        os.close(write_fd)
        assert time.monotonic() - started >= 0.3
        assert head == b"RIFF" + b"\x00" * (SNIFF_BYTES - 4)  # RIFF, but no WAVE: raw
        assert len(pipe.read()) == 100 - (SNIFF_BYTES - 4)


def test_raw_reader_pages_the_head_first() -> None:
    """What `wait_for_audio` read is the page's first audio, sample for sample, odd
    bytes included."""
    pcm = speech()[:3200].astype("<i2").tobytes()
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        reader = RawReader(pipe, 16000, "g711u", 20)  # 20 ms at 8 kHz: 160 bytes
        os.write(write_fd, pcm[:7])  # the head ends mid-sample
        os.write(write_fd, pcm[7:13])
        reader.wait_for_audio()
        os.write(write_fd, pcm[13:])
        os.close(write_fd)
        reader.start()
        frames = []
        deadline = time.monotonic() + 10
        while (frame := reader.frames.next_frame()) != b"" and time.monotonic() < deadline:
            if frame is None:
                time.sleep(0.01)
            else:
                frames.append(frame)
    from polyptt.audio.framer import Framer

    framer = Framer("g711u", 20, input_rate=16000)
    expected = framer.push(np.frombuffer(pcm, "<i2")) + framer.flush()
    assert frames == expected


def test_raw_reader_refuses_a_wav() -> None:
    data = libsndfile("WAV", "PCM_16")(Path())
    reader = RawReader(io.BytesIO(data), 16000, "g722", 20, name="speech.wav")
    with pytest.raises(RawInputError, match=r"^speech.wav looks like a WAV file"):
        reader.wait_for_audio()
