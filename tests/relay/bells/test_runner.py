"""The bells at run time, on a clock the test sets (`polyptt.relay.bells.runner`): runs
missed while the relay was down (within and beyond ``grace_s``), a busy channel, and
API changes that survive a restart. The relay is served in this process and pages on
the loopback group (test network namespace); what it pages is captured."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from tests.relay.bells.clock import SetClock, alert_callers, bells_relay
from tests.support.relay import add_token, write_config
from tests.support.relay_audio import CHIME
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.relay.bells import persist
from polyptt.relay.events import Event
from polyptt.relay.state import Relay

pytestmark = pytest.mark.network

UTC = dt.timezone.utc
#: 08:00 in Berlin on Monday 2026-12-07 (CET, UTC+1).
EIGHT = dt.datetime(2026, 12, 7, 7, 0, tzinfo=UTC).timestamp()
MORNING = f"""
[[schedule]]
name = "morning"
cron = "0 8 * * *"
timezone = "Europe/Berlin"
channel = 26
audio = "{CHIME}"
"""


async def runs(relay: Relay) -> list[dict[str, Any]]:
    return await relay.db.run(persist.runs)


def missed_run(
    tmp_path: Path, late_s: float
) -> tuple[list[bytes], list[dict[str, Any]], list[Event]]:
    """The relay runs at 07:59 (it learns the schedule), is down at 08:00, and starts
    again `late_s` after it: what it paged, its runs, its events."""
    config = write_config(tmp_path / "relay", MORNING)
    data, port = tmp_path / "data", free_port()
    events: list[Event] = []
    clock = SetClock(EIGHT - 60)

    async def main() -> list[dict[str, Any]]:
        async with bells_relay(config, port, data, clock):
            pass
        clock.time = EIGHT + late_s
        async with bells_relay(config, port, data, clock, events) as (_, relay):
            talk = relay.talks.by_channel.get(26)
            if talk is not None:
                await talk.wait()
            return await runs(relay)

    with UdpCapture(port) as capture:
        recorded = asyncio.run(main())
        packets = capture.wait_quiet(0.5)
    return [d for _, d in packets], recorded, [e for e in events if "schedule" in e.name]


def test_a_run_missed_by_less_than_grace_s_rings_at_start_up(tmp_path: Path) -> None:
    packets, recorded, events = missed_run(tmp_path, 30)
    assert alert_callers([(0, d) for d in packets]) == ["morning"] * 31
    assert recorded == [
        {"name": "morning", "due": "2026-12-07T07:00:00+00:00", "outcome": "rang", "page": 1,
         "reason": None}
    ]  # fmt: skip
    assert [(e.name, e.payload) for e in events] == [
        ("schedule_rang", {"name": "morning", "due": "2026-12-07T08:00:00+01:00",
                           "channel": 26, "page": 1, "reason": None})
    ]  # fmt: skip


def test_a_run_missed_by_grace_s_or_more_is_stored_as_missed(tmp_path: Path) -> None:
    packets, recorded, events = missed_run(tmp_path, 60)
    assert packets == []
    assert recorded == [
        {"name": "morning", "due": "2026-12-07T07:00:00+00:00", "outcome": "missed",
         "page": None, "reason": "late"}
    ]  # fmt: skip
    assert [(e.name, e.payload) for e in events] == [
        ("schedule_missed", {"name": "morning", "due": "2026-12-07T08:00:00+01:00",
                             "channel": 26, "page": None, "reason": "late"})
    ]  # fmt: skip


BUSY = (
    MORNING
    + f"""
[[schedule]]
name = "break"
cron = "5 8 * * *"
timezone = "Europe/Berlin"
channel = 26
audio = "{CHIME}"
"""
)


def test_a_busy_channel_delays_a_bell_up_to_wait_s_and_it_never_talks_over(
    tmp_path: Path,
) -> None:
    """A page of a talker has channel 26 at 08:00: the bell waits (10 s on, still), and
    rings once the page ended (at 08:00:20). At 08:05 another page has it past wait_s
    (30 s): that run is missed (busy), and the talker's page was never talked over."""
    config = write_config(tmp_path / "relay", BUSY)
    token = add_token(config, "Talker", "talk")
    clock = SetClock(EIGHT - 10)
    port = free_port()

    async def talk(client: Any, relay: Relay) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        url = "/api/v1/pages?channel=26&duration=1.5"
        async with client.post(url, data=CHIME.read_bytes(), headers=headers) as answer:
            assert answer.status == 202
        return relay.talks.by_channel[26]

    async def main() -> tuple[list[str], list[dict[str, Any]]]:
        vias = []
        async with bells_relay(config, port, tmp_path / "data", clock) as (client, relay):
            talker = await talk(client, relay)
            for at in (0, 10):
                clock.time = EIGHT + at
                await relay.bells.step()
                vias.append(relay.talks.by_channel[26].via)
            await talker.wait()
            clock.time = EIGHT + 20
            await relay.bells.step()
            bell = relay.talks.by_channel[26]
            vias.append(bell.via)
            await bell.wait()
            talker = await talk(client, relay)
            for at in (300, 329, 330):
                clock.time = EIGHT + at
                await relay.bells.step()
                vias.append(relay.talks.by_channel[26].via)
            await talker.wait()
            return vias, await runs(relay)

    with UdpCapture(port) as capture:
        vias, recorded = asyncio.run(main())
        packets = capture.wait_quiet(0.5)
    assert vias == ["http", "http", "schedule", "http", "http", "http"]
    assert [(r["name"], r["outcome"], r["reason"]) for r in recorded] == [
        ("morning", "rang", None),
        ("break", "missed", "busy"),
    ]
    assert alert_callers(packets) == ["Talker"] * 31 + ["morning"] * 31 + ["Talker"] * 31


def test_api_changes_survive_a_restart(tmp_path: Path) -> None:
    """A schedule made through the API, a config schedule paused: both are so after a
    restart; an API schedule named as a config one loses to it (and says so)."""
    config = write_config(tmp_path / "relay", MORNING)
    token = add_token(config, "Office", "schedule")
    headers = {"Authorization": f"Bearer {token}"}
    clock = SetClock(EIGHT - 3600)
    data, port = tmp_path / "data", free_port()
    lunch = {
        "name": "lunch",
        "cron": "30 12 * * 1-5",
        "timezone": "Europe/Berlin",
        "channel": 27,
        "say": "Lunch time",
        "skip_dates": ["2026-12-24..2027-01-06"],
    }

    async def main() -> tuple[Any, Any]:
        async with bells_relay(config, port, data, clock) as (client, _relay):
            async with client.post("/api/v1/schedules", json=lunch, headers=headers) as answer:
                assert answer.status == 201, await answer.text()
            async with client.post("/api/v1/schedules/morning/pause", headers=headers) as answer:
                assert answer.status == 200
            morning = {**lunch, "name": "morning"}
            async with client.put("/api/v1/schedules/morning", json=morning, headers=headers) as a:
                assert (a.status, await a.json()) == (
                    409,
                    {
                        "error": (
                            "schedule 'morning' is defined in the configuration: change it there"
                        )
                    },
                )
        async with bells_relay(config, port, data, clock) as (client, relay):
            async with client.get("/api/v1/schedules?count=3", headers=headers) as answer:
                listing = await answer.json()
            return listing, relay.bells.next_runs(3)

    listing, upcoming = asyncio.run(main())
    shown = {s["name"]: (s["source"], s["paused"], s["next"]) for s in listing["schedules"]}
    assert shown == {
        "lunch": ("api", False, "2026-12-07T12:30:00+01:00"),
        "morning": ("config", True, None),
    }
    assert [(r["name"], r["due"]) for r in upcoming] == [
        ("lunch", "2026-12-07T12:30:00+01:00"),
        ("lunch", "2026-12-08T12:30:00+01:00"),
        ("lunch", "2026-12-09T12:30:00+01:00"),
    ]
    assert listing["next"] == upcoming
