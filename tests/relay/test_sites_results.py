"""A site's answer that comes after the page ended (it waited there for a busy channel)
reaches the page store's row, not only the record in memory.

`Sites` has a stand-in hub (only its page store is read) and no talks path: the answer
is handed to its handler as NATS would, without a server.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

from tests.support.store import open_store

from polyptt.receive.recorder import iso_utc
from polyptt.relay.sites.config import NatsConfig
from polyptt.relay.sites.federation import Sites


def test_a_result_after_the_page_ended_is_written_into_its_stored_record(
    tmp_path: Path,
) -> None:
    store = open_store(tmp_path / "relay.db")
    record = {"id": store.new_id(), "direction": "sent", "channel": 26, "caller_id": "Office"}
    record.update(start=iso_utc(1_800_000_000.0), end=iso_utc(1_800_000_001.0), sites={})
    store.started(dict(record), None)
    store.ended(dict(record), None)
    config = NatsConfig(urls=("nats://127.0.0.1:1",))
    sites = Sites(SimpleNamespace(store=store), object(), "north", config, ())  # type: ignore[arg-type]
    sites.records["p" * 16] = record  # the page's record, as `started` keeps it
    answer = {"page": "p" * 16, "to": "north", "state": "played", "at": iso_utc(1_800_000_009.0)}
    message = SimpleNamespace(subject="polyptt.result.south", data=json.dumps(answer).encode())
    asyncio.run(sites._on_result(message))
    stored = store.db.call(
        lambda conn: conn.execute(
            "SELECT record FROM pages WHERE id = ?", (record["id"],)
        ).fetchone()
    )
    assert json.loads(stored["record"])["sites"] == {
        "south": {"state": "played", "at": "2027-01-15T08:00:09.000Z"}
    }
    store.close()
    store.db.close()
