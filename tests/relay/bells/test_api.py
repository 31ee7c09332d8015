"""The schedules' API: who may do what (the ``schedule`` scope, the token's channels),
what a schedule may name, and the answers (404, 409 busy, 204); ``polyptt relay token
add --can schedule`` makes such a token."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.relay.bells.clock import SetClock, bells_relay
from tests.relay.bells.test_runner import EIGHT, MORNING
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.relay import add_token, write_config
from tests.support.relay_audio import CHIME
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.relay.events import Event

pytestmark = pytest.mark.network

LUNCH = {"name": "lunch", "cron": "30 12 * * 1-5", "channel": 27, "say": "Lunch"}


def test_who_may_do_what_and_the_answers(tmp_path: Path) -> None:
    config = write_config(tmp_path / "relay", MORNING)
    (tmp_path / "data" / "sounds").mkdir(parents=True)
    (tmp_path / "data" / "sounds" / "bell.wav").write_bytes(CHIME.read_bytes())
    tokens = {
        "listener": add_token(config, "Listener", "listen"),
        "office": add_token(config, "Office", "schedule", channels=[26, 27]),
        "talker": add_token(config, "Talker", "talk"),
    }
    port = free_port()
    events: list[Event] = []
    answers: list[tuple[int, Any]] = []

    async def main() -> None:
        async with bells_relay(config, port, tmp_path / "data", SetClock(EIGHT - 3600), events) as (
            client,
            relay,
        ):

            async def ask(method: str, path: str, who: str, body: Any = None) -> None:
                headers = {"Authorization": f"Bearer {tokens[who]}"}
                async with client.request(method, path, json=body, headers=headers) as answer:
                    text = await answer.text()
                    answers.append((answer.status, await answer.json() if text else None))

            await ask("GET", "/api/v1/schedules/morning", "listener")
            await ask("POST", "/api/v1/schedules", "listener", LUNCH)
            await ask("POST", "/api/v1/schedules", "office", {**LUNCH, "channel": 28})
            await ask("POST", "/api/v1/schedules", "office", {**LUNCH, "channel": 50})
            outside = {**LUNCH, "say": None, "audio": "../relay/relay.toml"}
            await ask("POST", "/api/v1/schedules", "office", outside)
            await ask("POST", "/api/v1/schedules", "office", {**LUNCH, "cron": "* *"})
            await ask(
                "POST", "/api/v1/schedules", "office", {**LUNCH, "say": None, "audio": "bell.wav"}
            )
            await ask("POST", "/api/v1/schedules", "office", LUNCH)
            await ask("POST", "/api/v1/schedules/nope/ring", "office")
            headers = {"Authorization": f"Bearer {tokens['talker']}"}
            url = "/api/v1/pages?channel=27&duration=1"
            async with client.post(url, data=CHIME.read_bytes(), headers=headers) as answer:
                assert answer.status == 202
            talk = relay.talks.by_channel[27]
            await ask("POST", "/api/v1/schedules/lunch/ring", "office")
            await talk.wait()
            await ask("POST", "/api/v1/schedules/lunch/ring", "office")
            await relay.talks.by_channel[27].wait()
            await ask("DELETE", "/api/v1/schedules/lunch", "office")
            await ask("GET", "/api/v1/schedules/lunch", "office")
            await ask("DELETE", "/api/v1/schedules/morning", "office")
            await ask("GET", "/api/v1/pages", "listener")

    with UdpCapture(port):
        asyncio.run(main())
    pages = answers.pop()[1]["pages"]
    assert [(p["id"], p["via"], p["caller_id"], p["channel"]) for p in pages] == [
        (2, "schedule", "lunch", 27),
        (1, "http", "Talker", 27),
    ]
    statuses = [status for status, _ in answers]
    assert statuses == [200, 403, 403, 403, 400, 400, 201, 409, 404, 409, 202, 204, 404, 409]
    errors = [body.get("error") if body else None for _, body in answers]
    assert errors[1:6] == [
        "this token lacks the 'schedule' scope",
        "this token may not page on channel 28",
        "this token may not page on channel 50",
        "audio must be a file name in the data directory's 'sounds'",
        "schedule 'lunch': cron '* *' is not a 5-field cron expression (e.g. '0 8 * * 1-5')",
    ]
    assert answers[6][1]["audio"] == str(tmp_path / "data" / "sounds" / "bell.wav")
    assert errors[7:10] == [
        "a schedule named 'lunch' exists",
        "no schedule named 'nope'",
        "channel 27 is busy (Talker is talking)",
    ]
    assert answers[10][1] == {"page": 2}
    assert errors[13] == "schedule 'morning' is defined in the configuration: remove it there"
    rang = [e.payload for e in events if e.name == "schedule_rang"]
    assert [(p["name"], p["channel"], p["page"], p["reason"]) for p in rang] == [
        ("lunch", 27, 2, None)
    ]


def test_token_add_can_schedule(tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    done = subprocess.run(
        [*polyptt_command("relay", "token", "add", "Office"), "--can", "schedule",
         "--channels", "26-28", "--config", str(config)],
        capture_output=True, text=True, env=polyptt_env(), timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("token for Office (schedule), stored hashed")
    listed = subprocess.run(
        [*polyptt_command("relay", "token", "list"), "--config", str(config)],
        capture_output=True, text=True, env=polyptt_env(), timeout=60,
    )  # fmt: skip
    assert listed.stdout.split("\t")[:3] == ["Office", "schedule", "26-28"]
