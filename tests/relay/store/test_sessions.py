"""Browser sessions outlive a relay restart (relay/store/sessions.py), end when their
token is revoked (also after a restart), and the database holds no usable session id."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from tests.support.relay import add_token, app_client, revoke_token, settings, write_config
from tests.support.udp_capture import free_port

from polyptt.relay.app import REVOCATION_CHECK_S
from polyptt.relay.security import COOKIE
from polyptt.relay.store.database import Database
from polyptt.relay.store.sessions import Sessions

pytestmark = pytest.mark.network


def _signed_in(client, cookie: str):  # type: ignore[no-untyped-def]
    return client.get("/api/v1/session", headers={"Cookie": f"{COOKIE}={cookie}"})


def test_a_browser_stays_signed_in_across_a_restart_until_its_token_is_revoked(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Nurses", "listen")
    data = tmp_path / "data"
    port = free_port()

    async def sign_in() -> str:
        async with app_client(settings(config, port, data=data)) as client:
            answer = await client.post(
                "/api/v1/session", headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status == 200
            return str(answer.cookies[COOKIE].value)

    async def status_after_restart(cookie: str, revoke: bool = False) -> int:
        async with app_client(settings(config, port, data=data)) as client:
            if revoke:
                revoke_token(config, "Nurses")
                await asyncio.sleep(REVOCATION_CHECK_S * 3)
            return (await _signed_in(client, cookie)).status

    cookie = asyncio.run(sign_in())
    assert asyncio.run(status_after_restart(cookie)) == 200
    assert asyncio.run(status_after_restart("forged" + cookie)) == 401
    with sqlite3.connect(data / "relay.db") as conn:
        stored = [row[0] for row in conn.execute("SELECT id_hash FROM sessions")]
    assert len(stored) == 1
    assert cookie not in stored[0]
    assert asyncio.run(status_after_restart(cookie, revoke=True)) == 401
    assert asyncio.run(status_after_restart(cookie)) == 401  # and not back after a restart


def test_the_oldest_sessions_go_beyond_the_limit_in_memory_and_on_disk(tmp_path: Path) -> None:
    db = Database(tmp_path / "relay.db")
    sessions = Sessions(db, limit=3)
    db.open()
    for n in range(5):
        sessions.add(f"s{n}", f"digest{n}")
    assert [sessions.digest(f"s{n}") for n in range(5)] == [
        None,
        None,
        "digest2",
        "digest3",
        "digest4",
    ]
    sessions.end("s3")
    db.close()
    again = Database(tmp_path / "relay.db")
    reloaded = Sessions(again, limit=3)
    again.open()
    reloaded.load()
    assert [reloaded.digest(f"s{n}") for n in range(5)] == [None, None, "digest2", None, "digest4"]
    assert len(reloaded) == 2
    again.close()
