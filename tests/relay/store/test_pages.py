"""The page store (relay/store/pages.py, repair.py): ids that are never handed out
twice, a page's rows and record as the hub writes them, a failed write logged once, and
a WAV cut off by a crash made whole again."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile
from tests.support.store import open_store

from polyptt.receive.recorder import iso_utc
from polyptt.relay.store.database import Database
from polyptt.relay.store.pages import ID_BLOCK, PageQuery, PageStore
from polyptt.relay.store.repair import repair_wav


def _page(store: PageStore, start: float = 1_800_000_000.0) -> int:
    """One ended page, written as the hub writes it; its id."""
    page_id = store.new_id()
    record = {"id": page_id, "direction": "heard", "channel": 26, "caller_id": "Lobby"}
    record["start"] = iso_utc(start)
    store.started(record, None)
    store.ended({**record, "end": iso_utc(start + 1), "end_reason": "end_packets"}, None)
    return page_id


def _ids(db: Database) -> list[int]:
    return db.call(lambda conn: [r[0] for r in conn.execute("SELECT id FROM pages ORDER BY id")])


def test_ids_are_never_handed_out_twice_not_after_deleting_the_newest_nor_after_a_crash(
    tmp_path: Path,
) -> None:
    path = tmp_path / "relay.db"
    store = open_store(path)
    handed = [_page(store) for _ in range(ID_BLOCK + 5)]  # beyond the first block
    assert handed == list(range(1, ID_BLOCK + 6))
    store.db.call(lambda conn: conn.execute("DELETE FROM pages WHERE id > 10"))
    store.close()
    store.db.close()
    # a clean stop gives back only the ids never handed out: numbering goes on after 37
    store = open_store(path)
    assert _page(store) == ID_BLOCK + 6
    store.db.call(lambda conn: conn.execute("DELETE FROM pages WHERE id > 10"))
    handed = [store.new_id() for _ in range(3)]  # handed out, never written: then a crash
    store.db.close()  # no store.close(): what SIGKILL leaves
    store = open_store(path)
    after = _page(store)
    assert after > max(handed) > ID_BLOCK + 6
    assert _ids(store.db) == [*range(1, 11), after]
    store.close()
    store.db.close()


def test_a_page_written_from_the_loop_keeps_its_order_and_its_record(tmp_path: Path) -> None:
    store = open_store(tmp_path / "relay.db")
    record = {"id": store.new_id(), "direction": "sent", "channel": 27, "caller_id": "Desk"}
    record.update(start=iso_utc(1_800_000_000.0), via="http", target=None)
    store.started(dict(record), None)
    record.update(end=iso_utc(1_800_000_002.5), duration_s=2.5, end_reason="completed")
    store.ended(dict(record), None)

    async def listed() -> list[dict]:
        return await store.pages(PageQuery())

    assert asyncio.run(listed()) == [record]
    row = store.db.call(
        lambda conn: dict(conn.execute("SELECT * FROM pages WHERE id = 1").fetchone())
    )
    assert (row["token"], row["via"], row["end"], row["duration_s"]) == (
        "Desk",
        "http",
        "2027-01-15T08:00:02.500Z",
        2.5,
    )
    assert json.loads(row["record"]) == record
    store.close()
    store.db.close()


def _killed_wav(path: Path, pcm: np.ndarray, rate: int) -> None:
    """A WAV as a killed recorder leaves it: the header's sizes are those of its first
    write (`wave` writes them then, and again only at close), then the rest of the
    audio, then half a sample."""
    with path.open("wb") as file, wave.open(file, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframesraw(pcm[:100].astype("<i2").tobytes())
        writer.writeframesraw(pcm[100:].astype("<i2").tobytes())
        file.write(b"\x01")  # a sample cut in half
        file.flush()
        writer._file = None  # type: ignore[attr-defined]  # never closed: sizes stay
    with wave.open(str(path)) as reader:  # the header says: only the first write
        assert reader.getnframes() == 100


def test_repair_gives_a_cut_off_wav_the_sizes_of_the_audio_it_holds(tmp_path: Path) -> None:
    pcm = (np.sin(np.arange(12345) / 7) * 9000).astype(np.int16)
    path = tmp_path / "cut.wav"
    _killed_wav(path, pcm, 8000)
    found = repair_wav(path)
    assert found is not None
    assert (found.rate, found.frames) == (8000, 12345)
    audio, rate = soundfile.read(path, dtype="int16")
    assert rate == 8000
    with wave.open(str(path)) as reader:
        assert reader.getnframes() == 12345
    np.testing.assert_array_equal(audio, pcm)
    (tmp_path / "junk.wav").write_bytes(b"not a wav at all")
    assert repair_wav(tmp_path / "junk.wav") is None


def test_an_interrupted_row_is_repaired_at_open(tmp_path: Path) -> None:
    path = tmp_path / "relay.db"
    store = open_store(path)
    page_id = store.new_id()
    wav = tmp_path / "rec.wav"
    pcm = (np.sin(np.arange(16000 * 2) / 5) * 9000).astype(np.int16)
    _killed_wav(wav, pcm, 16000)
    record = {"id": page_id, "direction": "sent", "channel": 28, "caller_id": "Desk"}
    record["start"] = "2027-01-15T08:00:00.000Z"
    store.started(record, wav)
    store.db.close()  # killed
    store = open_store(path)
    (row,) = store.db.call(lambda conn: [dict(r) for r in conn.execute("SELECT * FROM pages")])
    repaired = json.loads(row["record"])
    assert repaired == {
        **record,
        "end": "2027-01-15T08:00:02.000Z",
        "duration_s": 2.0,
        "end_reason": "interrupted",
        "wav": f"/api/v1/pages/{page_id}.wav",
    }
    assert (row["end_reason"], row["recording"], row["recording_bytes"]) == (
        "interrupted",
        str(wav),
        44 + 2 * len(pcm),
    )
    assert json.loads(wav.with_suffix(".json").read_text())["end_reason"] == "interrupted"
    assert (
        sqlite3.connect(path)
        .execute('SELECT COUNT(*) FROM pages WHERE "end" IS NULL')
        .fetchone()[0]
        == 0
    )
    store.close()
    store.db.close()


def test_a_failed_write_is_logged_once_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(tmp_path / "relay.db")
    store.db.call(  # every write now fails, as on a full disk
        lambda conn: conn.execute(
            "CREATE TRIGGER full BEFORE INSERT ON pages BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    )
    with caplog.at_level(logging.ERROR, "polyptt.relay.store"):
        for _ in range(3):
            _page(store)
        store.db.call(lambda conn: None)  # the writes before it are done
    assert store.errors == 6  # each page's start and end
    assert len(caplog.messages) == 1
    assert caplog.messages[0] == (
        "the page store cannot write page 1: disk full (pages go on; logged once)"
    )
    store.close()
    store.db.close()
