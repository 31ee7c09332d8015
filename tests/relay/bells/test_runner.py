"""The bells at run time, on a clock the test sets (`polyptt.relay.bells.runner`): runs
missed while the relay was down (within and beyond ``grace_s``), a busy channel, and
API changes that survive a restart. The relay is served in this process and pages on
the loopback group (test network namespace); what it pages is captured."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.relay.bells.clock import SetClock, alert_callers, bells_relay
from tests.support.relay import add_token, write_config
from tests.support.relay_audio import CHIME
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.relay.api import render_metrics
from polyptt.relay.bells import persist
from polyptt.relay.events import Event
from polyptt.relay.state import Relay

pytestmark = pytest.mark.network

SPEECH = Path(__file__).resolve().parents[2] / "data" / "speech16k.wav"

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
    again `late_s` after it: what it paged, its runs, its events (and, in `METRICS`, its
    bell counters as ``/metrics`` shows them)."""
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
            METRICS[:] = [
                line
                for line in render_metrics(relay).splitlines()
                if line.startswith("polyptt_relay_bells_")
            ]
            return await runs(relay)

    with UdpCapture(port) as capture:
        recorded = asyncio.run(main())
        packets = capture.wait_quiet(0.5)
    return [d for _, d in packets], recorded, [e for e in events if "schedule" in e.name]


#: The bell counters of the last `missed_run`'s second relay, as /metrics says them.
METRICS: list[str] = []


def test_a_run_missed_by_less_than_grace_s_rings_at_start_up(tmp_path: Path) -> None:
    packets, recorded, events = missed_run(tmp_path, 30)
    assert METRICS == ["polyptt_relay_bells_rang_total 1", "polyptt_relay_bells_missed_total 0"]
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
    assert METRICS == ["polyptt_relay_bells_rang_total 0", "polyptt_relay_bells_missed_total 1"]
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


def test_a_replaced_audio_file_is_prepared_again_before_the_run(tmp_path: Path) -> None:
    """The file is prepared at start-up; replaced later, it is prepared again when the
    run is 30 s away, and the bell plays the new one."""
    from polyptt import codecs
    from polyptt.audio import load_page

    sound = tmp_path / "bell.wav"
    sound.write_bytes(CHIME.read_bytes())
    config = write_config(tmp_path / "relay", MORNING.replace(str(CHIME), str(sound)))
    clock = SetClock(EIGHT - 3600)

    async def main() -> tuple[bool, bool]:
        async with bells_relay(config, free_port(), tmp_path / "data", clock) as (_, relay):
            entry = relay.bells.get("morning")
            first = entry.frames
            clock.time = EIGHT - 60
            await relay.bells.step()
            kept = entry.frames is first
            shutil.copy(SPEECH, sound)
            clock.time = EIGHT - 30
            await relay.bells.step()
            assert entry.preparing is not None
            await entry.preparing
            return kept, entry.frames == load_page(sound, codecs.DEFAULT, 30).frames

    kept, renewed = asyncio.run(main())
    assert (kept, renewed) == (True, True)


def test_the_configs_schedule_wins_a_name_clash_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An API schedule named as one the config added later: the config's is the one."""
    from polyptt.relay.store.database import Database

    data = tmp_path / "data"
    db = Database(data / "relay.db")
    db.schema(*persist.SCHEMA)
    db.open()
    made = {"name": "morning", "cron": "0 9 * * *", "channel": 27, "say": "API's"}
    db.call(lambda c: persist.save(c, made))
    db.close()
    config = write_config(tmp_path / "relay", MORNING)

    async def main() -> dict[str, Any]:
        async with bells_relay(config, free_port(), data, SetClock(EIGHT - 3600)) as (_, relay):
            return relay.bells.schedules()[0]

    with caplog.at_level("WARNING", logger="polyptt.relay.bells"):
        shown = asyncio.run(main())
    assert (shown["source"], shown["cron"], shown["channel"]) == ("config", "0 8 * * *", 26)
    assert "schedule 'morning': the config's wins over the one made by the API" in caplog.messages


def test_of_several_runs_missed_only_the_last_may_ring(tmp_path: Path) -> None:
    """Hourly bells, the relay down from 07:59 to 10:00:10: 08:00 and 09:00 are missed
    (late), 10:00 rings (10 s late, within grace_s)."""
    config = write_config(tmp_path / "relay", MORNING.replace('"0 8 * * *"', '"0 * * * *"'))
    data, port = tmp_path / "data", free_port()
    clock = SetClock(EIGHT - 60)

    async def main() -> list[dict[str, Any]]:
        async with bells_relay(config, port, data, clock):
            pass
        clock.time = EIGHT + 2 * 3600 + 10
        async with bells_relay(config, port, data, clock) as (_, relay):
            await relay.talks.by_channel[26].wait()
            return await runs(relay)

    with UdpCapture(port) as capture:
        recorded = asyncio.run(main())
        packets = capture.wait_quiet(0.5)
    assert [(r["due"][11:16], r["outcome"], r["reason"]) for r in recorded] == [
        ("07:00", "missed", "late"),
        ("08:00", "missed", "late"),
        ("09:00", "rang", None),
    ]
    assert alert_callers(packets) == ["morning"] * 31


def test_a_put_a_delete_and_a_resume_survive_a_restart(tmp_path: Path) -> None:
    """Made through the API in one run of the relay, changed in the next (a PUT with a
    new cron, a DELETE, a resume of the paused config schedule): a third run has the
    changes, not what was there before them."""
    config = write_config(tmp_path / "relay", MORNING)
    token = add_token(config, "Office", "schedule")
    headers = {"Authorization": f"Bearer {token}"}
    clock = SetClock(EIGHT - 3600)
    data, port = tmp_path / "data", free_port()
    lunch = {"name": "lunch", "cron": "30 12 * * 1-5", "timezone": "Europe/Berlin",
             "channel": 27, "say": "Lunch time"}  # fmt: skip
    assembly = {**lunch, "name": "assembly", "cron": "0 9 * * 1"}

    async def ask(client: Any, method: str, path: str, body: Any = None) -> int:
        async with client.request(method, path, json=body, headers=headers) as answer:
            return int(answer.status)

    async def main() -> tuple[list[int], Any, int, list[dict[str, Any]]]:
        statuses = []
        async with bells_relay(config, port, data, clock) as (client, _relay):
            statuses.append(await ask(client, "POST", "/api/v1/schedules", lunch))
            statuses.append(await ask(client, "POST", "/api/v1/schedules", assembly))
            statuses.append(await ask(client, "POST", "/api/v1/schedules/morning/pause"))
        async with bells_relay(config, port, data, clock) as (client, _relay):
            later = {**lunch, "cron": "45 11 * * 1-5"}
            statuses.append(await ask(client, "PUT", "/api/v1/schedules/lunch", later))
            statuses.append(await ask(client, "DELETE", "/api/v1/schedules/assembly"))
            statuses.append(await ask(client, "POST", "/api/v1/schedules/morning/resume"))
        async with bells_relay(config, port, data, clock) as (client, relay):
            async with client.get("/api/v1/schedules", headers=headers) as answer:
                listing = await answer.json()
            gone = await ask(client, "GET", "/api/v1/schedules/assembly")
            return statuses, listing, gone, relay.bells.next_runs(3)

    statuses, listing, gone, upcoming = asyncio.run(main())
    assert statuses == [201, 201, 200, 200, 204, 200]
    shown = {
        s["name"]: (s["source"], s["cron"], s["paused"], s["next"]) for s in listing["schedules"]
    }
    assert shown == {
        "lunch": ("api", "45 11 * * 1-5", False, "2026-12-07T11:45:00+01:00"),
        "morning": ("config", "0 8 * * *", False, "2026-12-07T08:00:00+01:00"),
    }
    assert gone == 404
    assert [(r["name"], r["due"]) for r in upcoming] == [
        ("morning", "2026-12-07T08:00:00+01:00"),
        ("lunch", "2026-12-07T11:45:00+01:00"),
        ("morning", "2026-12-08T08:00:00+01:00"),
    ]


NIGHTLY = f"""
[[schedule]]
name = "night"
cron = "30 2 * * *"
timezone = "Europe/Berlin"
channel = 26
audio = "{CHIME}"
"""


def _step_through(
    tmp_path: Path, start: dt.datetime, end: dt.datetime, every_s: float
) -> tuple[list[bytes], list[dict[str, Any]], list[Event], list[float]]:
    """Run the nightly bell's relay on a clock stepped from `start` to `end` (UTC):
    what it paged, its runs, its events, and the clock's time at each page it began."""
    config = write_config(tmp_path / "relay", NIGHTLY)
    port = free_port()
    events: list[Event] = []
    clock = SetClock(start.timestamp())
    began: list[float] = []

    async def main() -> list[dict[str, Any]]:
        async with bells_relay(config, port, tmp_path / "data", clock, events) as (_, relay):
            while clock.time <= end.timestamp():
                await relay.bells.step()
                talk = relay.talks.by_channel.get(26)
                if talk is not None:
                    began.append(clock.time)
                    await talk.wait()
                clock.time += every_s
            return await runs(relay)

    with UdpCapture(port) as capture:
        recorded = asyncio.run(main())
        packets = capture.wait_quiet(0.5)
    told = [e for e in events if "schedule" in e.name]
    return [d for _, d in packets], recorded, told, began


def test_a_bell_at_a_time_the_spring_change_skips_rings_once_at_three(tmp_path: Path) -> None:
    """Europe/Berlin, 2027-03-28: 02:00 CET becomes 03:00 CEST, so 02:30 never comes.
    Stepped every 10 s from 01:00 CET to 03:01 CEST, the bell rings once, at 03:00."""
    start = dt.datetime(2027, 3, 28, 0, 0, tzinfo=UTC)  # 01:00 CET
    end = dt.datetime(2027, 3, 28, 1, 1, tzinfo=UTC)  # 03:01 CEST
    packets, recorded, told, began = _step_through(tmp_path, start, end, 10)
    three = dt.datetime(2027, 3, 28, 1, 0, tzinfo=UTC).timestamp()
    assert began == [three]
    assert recorded == [
        {"name": "night", "due": "2027-03-28T01:00:00+00:00", "outcome": "rang", "page": 1,
         "reason": None}
    ]  # fmt: skip
    assert [(e.name, e.payload["due"]) for e in told] == [
        ("schedule_rang", "2027-03-28T03:00:00+02:00")
    ]
    assert alert_callers([(0, d) for d in packets]) == ["night"] * 31


def test_a_bell_at_a_time_the_autumn_change_repeats_rings_once(tmp_path: Path) -> None:
    """Europe/Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET, so 02:30 comes twice
    (00:30 and 01:30 UTC). Stepped every 30 s from 00:00 CEST to 03:00 CET, the bell
    rings once, the first time."""
    start = dt.datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 00:00 CEST
    end = dt.datetime(2026, 10, 25, 2, 0, tzinfo=UTC)  # 03:00 CET
    packets, recorded, told, began = _step_through(tmp_path, start, end, 30)
    first = dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC).timestamp()
    assert began == [first]
    assert recorded == [
        {"name": "night", "due": "2026-10-25T00:30:00+00:00", "outcome": "rang", "page": 1,
         "reason": None}
    ]  # fmt: skip
    assert [(e.name, e.payload["due"]) for e in told] == [
        ("schedule_rang", "2026-10-25T02:30:00+02:00")
    ]
    assert alert_callers([(0, d) for d in packets]) == ["night"] * 31


QUIET = (
    MORNING
    + f"""
[[schedule]]
name = "drill"
cron = "0 8 * * *"
timezone = "Europe/Berlin"
channel = 27
audio = "{CHIME}"
enabled = false
"""
)


def test_a_paused_and_a_disabled_schedule_stay_silent_when_due(tmp_path: Path) -> None:
    """At 08:00 the paused bell (channel 26) and the disabled one (27) page nothing and
    leave no run; resumed, the paused one rings at its next due time (08:00 next day),
    the disabled one still not."""
    config = write_config(tmp_path / "relay", QUIET)
    token = add_token(config, "Office", "schedule")
    headers = {"Authorization": f"Bearer {token}"}
    clock = SetClock(EIGHT - 60)
    port = free_port()

    async def main() -> tuple[list[Any], list[dict[str, Any]], list[dict[str, Any]]]:
        busy: list[Any] = []
        async with bells_relay(config, port, tmp_path / "data", clock) as (client, relay):
            async with client.post("/api/v1/schedules/morning/pause", headers=headers) as a:
                assert a.status == 200
            for at in (0, 1, 30):
                clock.time = EIGHT + at
                await relay.bells.step()
                busy.append(dict(relay.talks.by_channel))
            silent = await runs(relay)
            async with client.post("/api/v1/schedules/morning/resume", headers=headers) as a:
                assert a.status == 200
            for at in (60, 86400 - 1):
                clock.time = EIGHT + at
                await relay.bells.step()
                busy.append(dict(relay.talks.by_channel))
            clock.time = EIGHT + 86400
            await relay.bells.step()
            busy.append(sorted(relay.talks.by_channel))
            await relay.talks.by_channel[26].wait()
            return busy, silent, await runs(relay)

    with UdpCapture(port) as capture:
        busy, silent, recorded = asyncio.run(main())
        packets = capture.wait_quiet(0.5)
    assert busy == [{}, {}, {}, {}, {}, [26]]
    assert silent == []
    assert recorded == [
        {"name": "morning", "due": "2026-12-08T07:00:00+00:00", "outcome": "rang", "page": 1,
         "reason": None}
    ]  # fmt: skip
    assert alert_callers(packets) == ["morning"] * 31
