"""Retention (relay/store/retention.py): ``keep_days`` and ``keep_gb`` delete the oldest
pages, rows and recordings, with an injected clock and tiny limits; the relay enforces
them at start-up and counts what it deleted in ``/metrics``."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from tests.support.relay import add_token, app_client, settings, write_config
from tests.support.store import open_store

from polyptt.receive.recorder import iso_utc
from polyptt.relay.store.database import DATABASE_NAME
from polyptt.relay.store.pages import PageStore
from polyptt.relay.store.retention import Retention, run_retention

DAY = 86400.0
NOW = 1_800_000_000.0


def _page(store: PageStore, folder: Path, age_days: float, size: int, *, ended: bool = True) -> int:
    """A page that started `age_days` before NOW, with a recording of `size` bytes."""
    page_id = store.new_id()
    wav = folder / f"page{page_id}.wav"
    wav.write_bytes(b"\0" * size)
    wav.with_suffix(".json").write_text("{}")
    start = NOW - age_days * DAY
    record = {"id": page_id, "direction": "heard", "channel": 26, "caller_id": "Lobby"}
    record["start"] = iso_utc(start)
    store.started(record, wav)
    if ended:
        store.ended({**record, "end": iso_utc(start + 1), "wav": f"/{page_id}.wav"}, wav)
    return page_id


def _left(store: PageStore) -> list[int]:
    return store.db.call(lambda c: [r[0] for r in c.execute("SELECT id FROM pages ORDER BY id")])


def test_pages_older_than_keep_days_go_oldest_first_with_their_recordings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(tmp_path / "relay.db")
    ages = [40, 31, 30.5, 29.9, 2, 0]
    ids = [_page(store, tmp_path, age, 100) for age in ages]
    running = _page(store, tmp_path, 50, 100, ended=False)  # in progress: never deleted
    now = [NOW]
    retention = Retention(store.db, keep_days=30, now=lambda: now[0])
    with caplog.at_level(logging.WARNING, "polyptt.relay.store"):
        deleted = asyncio.run(retention.sweep())
    assert deleted.ids == {"days": ids[:3], "size": []}
    assert deleted.bytes == 300
    assert _left(store) == [*ids[3:], running]
    assert sorted(p.name for p in tmp_path.glob("page*.wav")) == sorted(
        f"page{i}.wav" for i in [*ids[3:], running]
    )
    assert not (tmp_path / f"page{ids[0]}.json").exists()
    assert caplog.messages == ["retention deleted 3 pages (ids 1-3) older than 30 days"]
    now[0] += 0.2 * DAY  # the clock moves on: the page 29.9 days old is now 30.1
    assert asyncio.run(retention.sweep()).ids["days"] == [ids[3]]
    store.close()
    store.db.close()


def test_beyond_keep_gb_the_oldest_pages_go_until_the_rest_fits(tmp_path: Path) -> None:
    store = open_store(tmp_path / "relay.db")
    ids = [_page(store, tmp_path, age, 1000) for age in (5, 4, 3, 2, 1)]
    retention = Retention(store.db, keep_gb=2500 / 1e9, now=lambda: NOW)
    deleted = asyncio.run(retention.sweep())
    assert deleted.ids == {"days": [], "size": ids[:3]}
    assert deleted.bytes == 3000
    assert _left(store) == ids[3:]
    assert asyncio.run(retention.sweep()).count == 0
    store.close()
    store.db.close()


def test_the_relay_enforces_retention_at_start_and_counts_it(tmp_path: Path) -> None:
    config = write_config(tmp_path / "relay", "keep_days = 7\n")
    token = add_token(config, "Guard", "listen")
    data = tmp_path / "data"
    store = open_store(data / DATABASE_NAME)
    age = (NOW - time.time()) / DAY  # how far NOW is from now, in days
    old = _page(store, tmp_path, age + 10, 500)
    recent = _page(store, tmp_path, age + 1, 500)
    store.close()
    store.db.close()
    assert recent > old

    async def main() -> tuple[list[int], str]:
        async with app_client(settings(config, 5555, data=data)) as client:
            headers = {"Authorization": f"Bearer {token}"}
            listed = await (await client.get("/api/v1/pages", headers=headers)).json()
            metrics = await (await client.get("/metrics", headers=headers)).text()
            return [p["id"] for p in listed["pages"]], metrics

    listed, metrics = asyncio.run(main())
    assert listed == [recent]
    assert not (tmp_path / f"page{old}.wav").exists()
    assert "polyptt_relay_pages_deleted_total 1\n" in metrics
    assert "polyptt_relay_recording_bytes_deleted_total 500\n" in metrics


def test_retention_runs_again_every_period_while_the_relay_runs(tmp_path: Path) -> None:
    store = open_store(tmp_path / "relay.db")
    counted: list[list[int]] = []
    retention = Retention(store.db, keep_days=30, now=lambda: NOW)

    async def main() -> None:
        running = run_retention(retention, lambda d: counted.append(d.ids["days"]), 0.05)
        await running.__anext__()  # the sweep at start-up is done
        assert counted == [[]]
        old = _page(store, tmp_path, 31, 10)
        deadline = asyncio.get_running_loop().time() + 5
        while [old] not in counted:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        await running.aclose()

    asyncio.run(main())
    assert _left(store) == []
    store.close()
    store.db.close()
