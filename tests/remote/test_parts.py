"""polyptt.remote's parts without a relay: what ``listen --relay`` records, and the raw
pipe ``send --relay --raw`` streams.

The recordings are listen's (`polyptt.receive.recorder.Recorder`, real files in a
temporary directory); the raw pipe reads a real file through `polyptt.audio.live`'s
`PcmReader` into a real asyncio queue. The relay's events are written here as the relay
sends them (`polyptt.relay.hub`); the whole path against a running relay is
``tests/relay/test_pages.py``.
"""

from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from polyptt.audio.sniff import RawInputError
from polyptt.receive.recorder import Recorder
from polyptt.relay.wire import RATE, MessageType
from polyptt.remote.listen import _Follower
from polyptt.remote.sources import open_raw

START = {
    "type": MessageType.PAGE_START,
    "id": 7,
    "direction": "heard",
    "channel": 29,
    "channel_name": "page:4",
    "caller_id": "Front Désk",
    "start": "2026-11-26T12:42:28.099Z",
}


def _follower(directory: Path, errors: list[str]) -> tuple[_Follower, Recorder]:
    recorder = Recorder(directory, errors.append)
    lines: list[dict[str, Any]] = []
    return _Follower("http://relay", lambda _: None, lines.append, None, recorder, None), recorder


def _wav(path: Path) -> tuple[int, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), np.frombuffer(wav.readframes(wav.getnframes()), "<i2")


def test_relay_pages_are_recorded_as_listen_records_them(tmp_path: Path) -> None:
    """Named by the page's UTC start, channel and caller; the relay's rate; the relay's
    record of the page (without the message type) as the JSON, written at its end."""
    errors: list[str] = []
    follower, recorder = _follower(tmp_path, errors)
    pcm = np.arange(-800, 800, dtype=np.int16)
    follower.on_event(START)
    follower.on_audio(7, pcm[:640].astype("<i2").tobytes())
    follower.on_audio(7, pcm[640:].astype("<i2").tobytes())
    follower.on_audio(8, pcm.astype("<i2").tobytes())  # a page whose start it never saw
    end = {**START, "type": MessageType.PAGE_END, "end": "2026-11-26T12:42:29.000Z"}
    end.update(frames=5, end_reason="end_packets")
    follower.on_event(end)
    stem = "20261126T124228Z_ch29_front-desk"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{stem}.json", f"{stem}.wav"]
    rate, samples = _wav(tmp_path / f"{stem}.wav")
    assert rate == RATE
    assert np.array_equal(samples, pcm)
    record = json.loads((tmp_path / f"{stem}.json").read_text())
    assert record == {k: v for k, v in end.items() if k != "type"}
    assert (follower.ended, recorder.finished, errors) == (1, [tmp_path / f"{stem}.json"], [])


def test_a_page_still_under_way_at_the_end_is_finished_as_interrupted(tmp_path: Path) -> None:
    """As listen ends a page when it stops: the WAV completed and a JSON that says so,
    rather than a WAV without its JSON."""
    follower, _recorder = _follower(tmp_path, [])
    follower.on_event(START)
    follower.on_audio(7, np.ones(320, dtype="<i2").tobytes())
    follower.close_recordings()
    stem = tmp_path / "20261126T124228Z_ch29_front-desk"
    record = json.loads(stem.with_suffix(".json").read_text())
    assert (record["id"], record["end_reason"]) == (7, "interrupted")
    assert record["end"].endswith("Z")
    assert len(_wav(stem.with_suffix(".wav"))[1]) == 320


def _stream(pipe: Any) -> bytes:
    """Everything `pipe` delivers to an asyncio queue until its end (None)."""

    async def main() -> bytes:
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue(4)  # small: the reader waits
        pipe.start(asyncio.get_running_loop(), chunks)
        received = b""
        while (chunk := await asyncio.wait_for(chunks.get(), 10)) is not None:
            received += chunk
        return received

    try:
        return asyncio.run(main())
    finally:
        pipe.stop()
        pipe.close()


def test_the_raw_pipe_hands_on_every_whole_sample_of_a_file(tmp_path: Path) -> None:
    """Through the one raw reader: its first bytes read before the page (and checked),
    then the rest, whole samples only (a last odd byte is no sample)."""
    data = np.arange(-40000, 40000, 3, dtype=np.int32).astype("<i2").tobytes()
    raw = tmp_path / "speech.raw"
    raw.write_bytes(data + b"\x01")
    pipe = open_raw(str(raw), 8000, stdin=None)  # type: ignore[arg-type]
    assert pipe.rate == 8000
    assert _stream(pipe) == data


def test_the_raw_pipe_refuses_an_audio_file_before_the_page(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(bytes(1600))
    with pytest.raises(RawInputError) as refused:
        open_raw(str(path), 8000, stdin=None)  # type: ignore[arg-type]
    assert str(refused.value) == (
        f"{path} looks like a WAV file (RIFF/WAVE), not raw PCM: drop --raw to page it as a file"
    )
