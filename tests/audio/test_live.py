"""Live sources: audio captured while the alerts go out is paged from its first sample."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from polyptt import codecs, protocol
from polyptt.audio.framer import Framer
from polyptt.audio.live import LiveFrames, PcmReader, RawReader, parse_device
from polyptt.send import PageParams, page_length, send_page

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech16k.wav"


def speech(seconds: float) -> np.ndarray:
    pcm, _rate = soundfile.read(SPEECH, dtype="int16")
    return pcm[: int(seconds * 16000)]


def expected_frames(pcm: np.ndarray, codec: str = "g722", frame_ms: int = 20) -> list[bytes]:
    framer = Framer(codec, frame_ms)
    return framer.push(pcm) + framer.flush()


class RecordingSink:
    paced = True

    def __init__(self) -> None:
        self.sent: list[tuple[float, bytes]] = []

    def send(self, datagram: bytes, offset: float) -> None:
        self.sent.append((offset, datagram))

    def frames(self) -> list[bytes]:
        out, previous = [], 0
        for _offset, data in self.sent:
            if data[0] == protocol.OpCode.TRANSMIT:
                out.append(data[26 + previous :])
                previous = len(out[-1])
        return out


def test_frames_wait_for_capture_and_end_after_close() -> None:
    live = LiveFrames(Framer("g711u", 20))
    assert live.next_frame() is None
    live.feed(np.arange(100, dtype=np.int16))
    assert live.next_frame() is None  # 100 of 160 samples: not a frame yet
    live.feed(np.arange(200, dtype=np.int16))
    first = live.next_frame()
    assert first is not None
    assert len(first) == 160
    assert live.next_frame() is None
    live.close()
    live.feed(np.ones(1000, np.int16))  # after close: ignored
    assert len(live.next_frame() or b"") == 160  # the 140 left, padded
    assert live.next_frame() == b""
    assert live.next_frame() == b""


def test_buffer_is_bounded() -> None:
    live = LiveFrames(Framer("g711u", 20), max_buffer_s=0.1)  # 800 samples
    for _ in range(10):
        live.feed(np.zeros(160, np.int16))
    assert live.overflowed == 5 * 160
    live.close()
    assert sum(1 for _ in iter(live.next_frame, b"")) == 5


def _write_in_real_time(fd: int, pcm: np.ndarray, chunk_s: float = 0.02) -> None:
    """What a TTS engine or arecord does: chunks at the pace of the audio, then EOF."""
    step = int(16000 * chunk_s)
    start = time.monotonic()
    for index in range(0, len(pcm), step):
        os.write(fd, pcm[index : index + step].astype("<i2").tobytes())
        delay = start + (index + step) / 16000 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    os.close(fd)


def test_live_audio_during_the_alerts_is_paged_from_its_first_sample() -> None:
    """Capture starts with the first alert: the first transmit packet carries the
    first 20 ms that were captured, and every frame after it follows, exactly."""
    pcm = speech(2.0)
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        reader = RawReader(pipe, 16000, "g722", 20)
        sink = RecordingSink()
        writer = threading.Thread(target=_write_in_real_time, args=(write_fd, pcm))
        reader.start()
        writer.start()
        params = PageParams(26, 1, "live", protocol.CodecId.G722, 20)
        report = send_page(reader.frames, params, sink=sink, realtime=False)
        writer.join()
    expected = expected_frames(pcm)
    assert sink.frames()[0] == expected[0]
    assert sink.frames() == expected
    assert (report.alerts, report.transmits, report.ends) == (31, len(expected), 12)
    assert report.interrupted is None
    assert not report.stopped
    # the capture kept ahead of the page: no frame was waited for
    assert report.offset == pytest.approx(page_length(len(expected), 20))


def test_a_source_that_falls_behind_delays_the_audio_without_a_burst() -> None:
    """Frames that arrive late are sent when they arrive, then evenly paced again."""
    live = LiveFrames(Framer("g711u", 20))
    pcm = np.zeros(160 * 10, np.int16)
    live.feed(pcm[:800])  # 5 frames before the page, 5 more 0.3 s into the audio

    def late() -> None:
        time.sleep(0.93 + 0.1 + 0.3)
        live.feed(pcm[800:])
        live.close()

    feeder = threading.Thread(target=late)
    sink = RecordingSink()
    feeder.start()
    params = PageParams(1, 1, "", protocol.CodecId.G711U, 20)
    report = send_page(live, params, sink=sink, realtime=False)
    feeder.join()
    transmits = [o for o, d in sink.sent if d[0] == protocol.OpCode.TRANSMIT]
    assert len(transmits) == 10 == report.transmits
    gaps = np.diff(transmits)
    assert gaps[:4] == pytest.approx([0.02] * 4)
    assert gaps[4] > 0.2  # waited for the late frame...
    assert gaps[5:] == pytest.approx([0.02] * 4)  # ...then paced again, no burst


def test_parse_device() -> None:
    assert parse_device(None) is None
    assert parse_device(" ") is None
    assert parse_device("3") == 3
    assert parse_device("virtual_mic") == "virtual_mic"


def test_decoded_page_matches_the_speech() -> None:
    pcm = speech(1.0)
    decoded = codecs.decode("g722", b"".join(expected_frames(pcm)))
    corr = np.corrcoef(decoded[22 : len(pcm)].astype(float), pcm[:-22].astype(float))[0, 1]
    assert corr > 0.99


def test_the_raw_reader_hands_on_whole_samples_as_they_arrive_then_ends_once() -> None:
    """`PcmReader` (the raw reader of pages and of the relay client): a sample split
    between two writes is handed on whole, in order, and the end is said once."""
    pcm = np.arange(-500, 500, dtype=np.int16)
    data = pcm.astype("<i2").tobytes()
    chunks: list[np.ndarray] = []
    ended = threading.Event()
    ends: list[int] = []
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        reader = PcmReader(pipe, chunks.append, lambda: (ends.append(1), ended.set()))
        reader.start()
        for piece in (data[:1], data[1:777], data[777:]):  # odd cuts: samples split
            os.write(write_fd, piece)
            time.sleep(0.02)
        os.close(write_fd)
        assert ended.wait(5)
    assert all(chunk.dtype == np.int16 for chunk in chunks)
    assert np.array_equal(np.concatenate(chunks), pcm)
    assert len(chunks) >= 2  # handed on as it came, not at the end
    assert ends == [1]
    assert reader.error is None
