"""The relay's SQLite database (relay/store/database.py): one worker thread, WAL, kept
across reopenings, and one clear error for a file that cannot be used."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from polyptt.relay.store.database import Database, DatabaseError, default_data_dir

SCHEMA = "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)"


def test_rows_written_from_the_loop_survive_a_reopening_and_all_run_on_one_thread(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data" / "relay.db"
    db = Database(path)
    db.schema(SCHEMA)
    db.open()
    threads: set[str] = set()

    def insert(conn: sqlite3.Connection) -> int:
        threads.add(threading.current_thread().name)
        return int(conn.execute("INSERT INTO notes (text) VALUES ('bell')").lastrowid or 0)

    async def main() -> list[int]:
        return list(await asyncio.gather(*(db.run(insert) for _ in range(20))))

    ids = asyncio.run(main())
    assert sorted(ids) == list(range(1, 21))
    assert len(threads) == 1
    assert threading.current_thread().name not in threads
    mode = db.call(lambda conn: conn.execute("PRAGMA journal_mode").fetchone()[0])
    assert mode == "wal"
    db.close()
    again = Database(path)
    again.schema(SCHEMA)
    again.open()
    assert again.call(lambda conn: conn.execute("SELECT count(*) FROM notes").fetchone()[0]) == 20
    again.close()


def test_a_failing_call_rolls_back_its_rows(tmp_path: Path) -> None:
    db = Database(None)
    db.schema(SCHEMA)
    db.open()

    def half(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO notes (text) VALUES ('one')")
        conn.execute("INSERT INTO notes (text) VALUES (NULL)")  # NOT NULL: raises

    with pytest.raises(sqlite3.IntegrityError):
        db.call(half)
    assert db.call(lambda conn: conn.execute("SELECT count(*) FROM notes").fetchone()[0]) == 0
    db.close()
    with pytest.raises(DatabaseError, match="is not open"):
        db.call(lambda conn: None)


def test_a_file_that_is_no_database_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "relay.db"
    path.write_bytes(b"this is not SQLite" * 100)
    db = Database(path)
    db.schema(SCHEMA)
    with pytest.raises(DatabaseError) as caught:
        db.open()
    assert str(caught.value).startswith(f"{path}: cannot open the database: ")
    assert "\n" not in str(caught.value)


def test_the_default_data_dir_follows_xdg_state_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "/srv/state")
    assert default_data_dir() == Path("/srv/state/polyptt/relay")
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_data_dir() == Path.home() / ".local/state/polyptt/relay"
