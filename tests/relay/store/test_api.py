"""``GET /api/v1/pages`` and ``/api/v1/pages/ID.wav`` served from the store (in-process
relay on a virtual clock): filters, the ``next`` cursor, token visibility, range
requests, and the recording switches per direction."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from tests.support.clocks import VirtualClock
from tests.support.relay import add_token, app_client, settings, write_config
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.relay.state import RELAY

PCM = (np.sin(np.arange(8000) / 5) * 9000).astype(np.int16)  # 1 s at 8 kHz


def _tone(tmp_path: Path) -> bytes:
    path = tmp_path / "tone.wav"
    soundfile.write(path, PCM, 8000, subtype="PCM_16")
    return path.read_bytes()


def _heard(
    relay: Any, channel: int, caller: str, target: str | None = None, direction: str = ""
) -> int:
    """A page heard (or, with `target` or `direction`, sent) told to the hub as its
    teller does, with 1 s of audio."""
    key = object()
    fields = {"channel": channel, "caller_id": caller, "codec": "g722", "target": target}
    page_id = relay.hub.started(key, direction or ("sent" if target else "heard"), fields)
    relay.hub.audio(key, PCM, 8000)
    relay.hub.ended(key, {"end_reason": "end_packets", "duration_s": 1.0})
    return int(page_id)


async def _get(client: Any, path: str, token: str, **headers: str) -> Any:
    return await client.get(path, headers={"Authorization": f"Bearer {token}", **headers})


def test_pages_are_listed_newest_first_filtered_and_paged_by_their_next_url(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path / "relay", '[targets]\nreception = "127.0.0.1"\n')
    talker = add_token(config, "Desk", "listen,talk", targets=None)
    listener = add_token(config, "Guard", "listen")
    body = _tone(tmp_path)
    port = free_port()

    async def main() -> dict[str, Any]:
        found: dict[str, Any] = {}
        relay_settings = settings(config, port, clock=VirtualClock(), data=tmp_path / "data")
        async with app_client(relay_settings) as client:
            relay = client.server.app[RELAY]
            sent = []
            for channel in (26, 27, 26):
                answer = await client.post(
                    f"/api/v1/pages?channel={channel}&codec=g711u&wait=1",
                    data=body,
                    headers={"Authorization": f"Bearer {talker}"},
                )
                assert answer.status == 200
                sent.append((await answer.json())["page"])
                await asyncio.sleep(0.01)  # each page starts at a millisecond of its own
            found["sent"] = sent
            found["lobby"] = _heard(relay, 30, "Lobby")
            found["private"] = _heard(relay, 26, "Desk", target="reception")
            ids, url = [], "/api/v1/pages?limit=2"
            while url is not None:
                page = await (await _get(client, url, listener)).json()
                assert len(page["pages"]) <= 2
                ids += [p["id"] for p in page["pages"]]
                url = page["next"]
            found["walked"] = ids
            listed = await (await _get(client, "/api/v1/pages", listener)).json()
            starts = {p["id"]: p["start"] for p in listed["pages"]}
            found["starts"] = [starts[i] for i in sent]
            second, third = starts[sent[1]], starts[sent[2]]
            boundaries = {
                "between": f"since={second}&until={third}",
                "since": f"since={second}",
                "until": f"until={third}",
            }
            for name, query in boundaries.items():
                page = await (await _get(client, f"/api/v1/pages?{query}", listener)).json()
                found[name] = [p["id"] for p in page["pages"]], page["next"]
            for query in (
                "channel=26",
                "direction=heard",
                "caller=Lobby",
                "channel=26&direction=sent&limit=1",
                "since=2999-01-01T00:00:00Z",
            ):
                page = await (await _get(client, f"/api/v1/pages?{query}", listener)).json()
                found[query] = [p["id"] for p in page["pages"]], page["next"]
            page = await (await _get(client, "/api/v1/pages", talker)).json()
            found["talker"] = [p["id"] for p in page["pages"]]
            for query in ("limit=0", "channel=x", "since=yesterday", "colour=red"):
                answer = await _get(client, f"/api/v1/pages?{query}", listener)
                found[query] = answer.status, (await answer.json())["error"]
            private = f"/api/v1/pages/{found['private']}.wav"
            found["private_wav"] = [
                (await _get(client, private, token)).status for token in (listener, talker)
            ]
        return found

    with UdpCapture(port):
        found = asyncio.run(main())
    first, second, third = found["sent"]
    lobby, private = found["lobby"], found["private"]
    # the listener may not see the page sent to a target it may not page
    assert found["walked"] == [lobby, third, second, first]
    assert found["talker"] == [private, lobby, third, second, first]
    assert found["channel=26"] == ([third, first], None)
    assert found["direction=heard"] == ([lobby], None)
    assert found["caller=Lobby"] == ([lobby], None)
    assert found["channel=26&direction=sent&limit=1"] == (
        [third],
        f"/api/v1/pages?limit=1&before={third}&channel=26&direction=sent",
    )
    assert found["since=2999-01-01T00:00:00Z"] == ([], None)
    # since is inclusive, until exclusive: the second page's start to the third's
    assert found["starts"] == sorted(set(found["starts"]))
    assert found["between"] == ([second], None)
    assert found["since"] == ([lobby, third, second], None)
    assert found["until"] == ([second, first], None)
    assert found["limit=0"] == (400, "limit must be a whole number from 1 to 500, not '0'")
    assert found["channel=x"] == (400, "channel must be a whole number from 1 to 50, not 'x'")
    assert found["since=yesterday"] == (
        400,
        "since must be an ISO 8601 time like 2026-12-06T08:00:00Z",
    )
    assert found["colour=red"][0] == 400
    assert found["colour=red"][1].startswith("unknown parameters ['colour']")
    assert found["private_wav"] == [404, 200]


def test_a_recording_is_served_with_its_length_and_range_requests(tmp_path: Path) -> None:
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Guard", "listen")

    async def main() -> tuple[Any, ...]:
        relay_settings = settings(config, free_port(), data=tmp_path / "data")
        async with app_client(relay_settings) as client:
            page_id = _heard(client.server.app[RELAY], 26, "Lobby")
            path = f"/api/v1/pages/{page_id}.wav"
            whole = await _get(client, path, token)
            part = await _get(client, path, token, Range="bytes=40-1039")
            return (
                whole.status,
                whole.headers["Content-Length"],
                whole.headers["Accept-Ranges"],
                await whole.read(),
                part.status,
                part.headers["Content-Range"],
                await part.read(),
            )

    status, length, ranges, wav, part_status, content_range, part = asyncio.run(main())
    (recorded,) = (tmp_path / "data" / "recordings").glob("*_ch26_lobby.wav")
    assert (status, ranges) == (200, "bytes")
    assert wav == recorded.read_bytes()
    assert int(length) == len(wav) == 44 + 2 * len(PCM)
    assert (part_status, content_range) == (206, f"bytes 40-1039/{len(wav)}")
    assert part == wav[40:1040]


def test_recording_can_be_switched_off_per_direction(tmp_path: Path) -> None:
    config = write_config(tmp_path / "relay", 'record = ["sent"]\n')
    token = add_token(config, "Guard", "listen")

    async def main() -> list[dict[str, Any]]:
        relay_settings = settings(config, free_port(), data=tmp_path / "data")
        async with app_client(relay_settings) as client:
            relay = client.server.app[RELAY]
            _heard(relay, 26, "Lobby")
            _heard(relay, 27, "Desk", direction="sent")
            return list((await (await _get(client, "/api/v1/pages", token)).json())["pages"])

    sent, heard = asyncio.run(main())
    assert (sent["direction"], heard["direction"]) == ("sent", "heard")
    assert "wav" in sent
    assert "wav" not in heard
    recordings = tmp_path / "data" / "recordings"
    (wav,) = recordings.glob("*.wav")
    assert wav.name.endswith("_ch27_desk.wav")
    assert [p.name for p in recordings.glob("*.json")] == [wav.with_suffix(".json").name]


def test_the_listed_record_is_the_one_the_events_carry(tmp_path: Path) -> None:
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Guard", "listen")

    async def main() -> tuple[list[Any], list[dict[str, Any]]]:
        relay_settings = settings(config, free_port(), data=tmp_path / "data")
        async with app_client(relay_settings) as client:
            relay = client.server.app[RELAY]
            told: list[Any] = []
            relay.events.subscribe(told.append)
            _heard(relay, 26, "Lobby")
            _heard(relay, 27, "Desk", direction="sent")
            listed = await (await _get(client, "/api/v1/pages", token)).json()
            return told, listed["pages"]

    told, listed = asyncio.run(main())
    ended = [e.payload for e in told if e.name == "page_ended"]
    assert ended == listed[::-1]
    assert [e.payload["id"] for e in told if e.name == "page_started"] == [p["id"] for p in ended]
