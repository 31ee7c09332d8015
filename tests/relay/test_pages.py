"""A real ``polyptt relay`` process pages and listens on the namespaced loopback.

What the issue asks the relay to show: an uploaded file is paged exactly as
``polyptt send`` pages it; a WebSocket talker's live audio is paged; a LAN page reaches a
WebSocket listener with its metadata and audio; SIGTERM ends every page in progress
with its 12 end packets.
"""

from __future__ import annotations

import asyncio
import collections
import io
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import soundfile
import soxr
from tests.support.audio_devices import (
    align,
    assert_speech_whole,
    one_clean_run,
    sounddevice_or_skip,
)
from tests.support.listen import expected_audio, make_page_capture, polyptt, start_listen
from tests.support.processes import polyptt_command
from tests.support.relay import (
    RELAY_SERIAL,
    add_token,
    audit_events,
    start_relay,
    write_config,
)
from tests.support.relay_audio import CHIME, SPEECH, frames, speech, stream_realtime
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.protocol import DEFAULT_GROUP, EndPacket, parse_packet
from polyptt.relay.wire import AUDIO_HEADER

pytestmark = pytest.mark.network


@pytest.mark.parametrize("codec", ["g722", "g711u"])
def test_posted_file_is_paged_as_send_pages_it(tmp_path: Path, codec: str) -> None:
    port = free_port()
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Reception", "listen,talk")
    listening = start_listen(tmp_path / "rec", "--count", "1", "--timeout", "30", port=port)
    relay = start_relay(config, udp_port=port, args=["--record", str(tmp_path / "relay-rec")])
    try:
        status, answer = relay.request(
            "POST", f"/api/v1/pages?channel=27&codec={codec}&wait=1", token, CHIME.read_bytes()
        )
        assert listening.wait() == 0
        _, pages = relay.request("GET", "/api/v1/pages", token)
        wav = relay.fetch(pages["pages"][0]["wav"], token)
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    assert status == 200, answer
    assert (answer["alerts"], answer["ends"], answer["outcome"]) == (31, 12, "completed")
    reference = make_page_capture(
        tmp_path / "send.pcap", codec=codec, channel=27, audio=CHIME, port=port
    )
    _, reference_audio, reference_frames = expected_audio(d for _, d in reference)
    ((meta, audio),) = listening.recordings().values()
    assert (meta["serial"], meta["channel"], meta["caller_id"]) == (RELAY_SERIAL, 27, "Reception")
    assert (meta["codec"], meta["end_reason"]) == (codec, "end_packets")
    assert meta["frames"] == answer["transmits"] == len(reference_frames)
    np.testing.assert_array_equal(audio, reference_audio)  # the same frames, decoded
    sent = pages["pages"][0]
    assert (sent["direction"], sent["channel"], sent["caller_id"]) == ("sent", 27, "Reception")
    assert (sent["end_reason"], sent["ends"], sent["frames"]) == ("completed", 12, meta["frames"])
    # the relay records what it sent, as it went on the wire, with its record as the JSON
    (recorded,) = (tmp_path / "relay-rec").glob("*.wav")
    assert recorded.name.endswith("_ch27_reception.wav")
    assert wav == recorded.read_bytes()
    sent_audio, rate = soundfile.read(io.BytesIO(wav), dtype="int16")
    assert rate == (16000 if codec == "g722" else 8000)
    np.testing.assert_array_equal(sent_audio, reference_audio)
    saved = json.loads(recorded.with_suffix(".json").read_text())
    assert saved == {k: v for k, v in sent.items() if k not in ("id", "wav")}
    assert (saved["via"], saved["frame_ms"], saved["codec"]) == ("http", meta["frame_ms"], codec)


def _talk_and_stream(
    relay: Any, token: str, pcm: np.ndarray, channel: int, **talk: Any
) -> list[dict]:
    async def main() -> list[dict]:
        events = []
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(relay.ws_url, headers={"Authorization": f"Bearer {token}"}) as ws,
        ):
            await ws.send_json({"type": "talk", "channel": channel, **talk})
            events.append(await ws.receive_json())  # hello
            events.append(await ws.receive_json())  # talking
            await stream_realtime(ws, frames(pcm))
            await ws.send_json({"type": "stop"})
            events.append(await ws.receive_json(timeout=10))  # stopped
        return events

    return asyncio.run(main())


@pytest.mark.parametrize("keep_pauses", [False, True])
def test_websocket_talker_is_paged_live(tmp_path: Path, keep_pauses: bool) -> None:
    """Speech streamed from the start of the alerts: by default the page catches up in its
    pauses (polyptt.audio.catchup); with ``keep_pauses`` every sample goes out."""
    port = free_port()
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Browser", "talk", channels=[26])
    pcm = speech(3.0)
    listening = start_listen(tmp_path / "rec", "--count", "1", "--timeout", "30", port=port)
    relay = start_relay(config, udp_port=port)
    try:
        talk = {"keep_pauses": True} if keep_pauses else {}
        hello, talking, stopped = _talk_and_stream(relay, token, pcm, 26, **talk)
        assert listening.wait() == 0
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    assert hello["type"] == "hello"
    assert hello["name"] == "Browser"
    assert (talking["type"], talking["channel"], talking["codec"]) == ("talking", 26, "g722")
    assert (stopped["type"], stopped["reason"], stopped["ends"]) == ("stopped", "stop", 12)
    ((meta, audio),) = listening.recordings().values()
    assert (meta["caller_id"], meta["channel"], meta["frame_ms"]) == ("Browser", 26, 20)
    assert meta["frames_concealed"] == 0
    if keep_pauses:
        assert meta["frames"] == stopped["frames"] >= len(pcm) // 320
        _lag, corr = align(audio, pcm[:-800])  # room for the codec's delay
        assert corr > 0.95
    else:  # the speech's one long pause (0.32 s) gave up to 0.22 s
        assert len(pcm) // 320 - 12 <= meta["frames"] == stopped["frames"] < len(pcm) // 320
        assert_speech_whole(audio, pcm[:-800], starts_within_s=0.1)  # the codec's delay


def test_lan_page_reaches_websocket_listener(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "relay", '[channels]\n27 = "Kitchen"\n')
    token = add_token(config, "Monitor", "listen")
    relay = start_relay(config, udp_port=port, args=["--record", str(tmp_path / "rec")])

    async def main() -> tuple[list[dict], dict[int, list[bytes]]]:
        events: list[dict] = []
        audio: dict[int, list[bytes]] = collections.defaultdict(list)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(relay.ws_url, headers={"Authorization": f"Bearer {token}"}) as ws,
        ):
            await ws.send_json({"type": "listen", "channels": [27]})
            assert (await ws.receive_json())["type"] == "hello"
            assert (await ws.receive_json())["type"] == "listening"
            sender = await asyncio.create_subprocess_exec(
                *polyptt_args(port), env=polyptt_env_loopback()
            )
            while not events or events[-1]["type"] != "page_end":
                message = await ws.receive(timeout=20)
                if message.type == aiohttp.WSMsgType.BINARY:
                    page, frame = (
                        int.from_bytes(message.data[:4]),
                        int.from_bytes(message.data[4:8]),
                    )
                    assert frame == len(audio[page])
                    audio[page].append(message.data[8:])
                else:
                    events.append(message.json())
            assert await sender.wait() == 0
        return events, audio

    try:
        events, audio = asyncio.run(main())
        _, pages = relay.request("GET", "/api/v1/pages", token)
        wav = relay.fetch(pages["pages"][0]["wav"], token)
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    start, end = events
    assert start["type"] == "page_start"
    assert end["type"] == "page_end"
    assert start["id"] == end["id"]
    assert list(audio) == [start["id"]]
    expected = {"channel": 27, "channel_name": "Kitchen", "caller_id": "Lobby", "serial": 0x3000}
    assert {k: end[k] for k in expected} == expected
    assert (end["direction"], end["codec"], end["end_reason"]) == ("heard", "g722", "end_packets")
    assert end["source"] == f"127.0.0.1:{port}"
    assert pages["pages"] == [{k: v for k, v in end.items() if k != "type"}]
    (recorded,) = (tmp_path / "rec").glob("*.wav")
    assert wav == recorded.read_bytes()
    pcm = np.frombuffer(b"".join(audio[start["id"]]), dtype="<i2")
    assert all(len(chunk) == 640 for chunk in audio[start["id"]][:-1])
    reference = soundfile.read(SPEECH, dtype="int16")[0]
    assert abs(len(pcm) - len(reference)) < 16000 * 0.05  # the whole page, 30 ms frames
    _lag, corr = align(pcm, reference[: len(pcm) - 480])
    assert corr > 0.95


def polyptt_args(port: int) -> list[str]:
    from tests.support.processes import polyptt_command

    return polyptt_command(
        "send",
        "--channel",
        "27",
        "--caller-id",
        "Lobby",
        "--serial",
        "0x3000",
        "--to",
        f"{DEFAULT_GROUP}:{port}",
        str(SPEECH),
    )


def polyptt_env_loopback() -> dict[str, str]:
    from tests.support.processes import polyptt_env

    return polyptt_env()


def test_sigterm_ends_both_live_pages_with_their_ends(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "relay")
    tokens = [add_token(config, name, "talk") for name in ("Alpha", "Bravo")]
    relay = start_relay(config, udp_port=port)
    pcm = speech(4.0)

    async def talker(token: str, channel: int, talking: asyncio.Event) -> dict:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(relay.ws_url, headers={"Authorization": f"Bearer {token}"}) as ws,
        ):
            await ws.send_json({"type": "talk", "channel": channel})
            await ws.receive_json()  # hello
            assert (await ws.receive_json())["type"] == "talking"
            talking.set()
            streaming = asyncio.create_task(stream_realtime(ws, frames(pcm)))
            while True:
                message = await ws.receive(timeout=20)
                if message.type != aiohttp.WSMsgType.TEXT:
                    streaming.cancel()
                    return {"closed": ws.close_code}
                event = message.json()
                if event["type"] == "stopped":
                    streaming.cancel()
                    return event

    async def main() -> tuple[int, list[dict]]:
        ready = [asyncio.Event(), asyncio.Event()]
        talks = [
            asyncio.create_task(talker(token, 26 + i, ready[i])) for i, token in enumerate(tokens)
        ]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 10)
        await asyncio.sleep(1.5)  # past the alerts, mid-audio
        status = await asyncio.to_thread(relay.stop)
        return status, await asyncio.gather(*talks)

    with UdpCapture(port) as capture:
        status, results = asyncio.run(main())
        datagrams = capture.wait_quiet()
    assert status == 128 + signal.SIGTERM
    ends = collections.Counter(
        p.channel for p in (parse_packet(d) for _, d in datagrams) if isinstance(p, EndPacket)
    )
    assert ends == {26: 12, 27: 12}
    events = audit_events(config)
    page_ends = {e["channel"]: e for e in events if e["event"] == "page_end"}
    assert {c: (e["outcome"], e["ends"]) for c, e in page_ends.items()} == {
        26: ("shutdown", 12),
        27: ("shutdown", 12),
    }
    assert [e["event"] for e in events][-1] == "relay_stop"
    assert all(r.get("type") == "stopped" or r.get("closed") for r in results)
    assert not any(token in (config.parent / "audit.jsonl").read_text() for token in tokens)


def test_cli_token_commands(tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    added = polyptt(
        "relay",
        "token",
        "add",
        "Night",
        "--can",
        "talk",
        "--channels",
        "26-30",
        "--config",
        str(config),
    )
    token = added.stdout.splitlines()[-1]
    assert len(token) >= 40
    assert token not in (tmp_path / "relay.tokens.json").read_text()
    (config.parent / "relay.toml").write_text('[targets]\ndesk = "127.0.0.1"\n')
    for name, targets in (("Desk", "desk"), ("Every", "all")):
        polyptt(
            "relay",
            "token",
            "add",
            name,
            "--can",
            "talk",
            "--targets",
            targets,
            "--config",
            str(config),
        )
    listed = polyptt("relay", "token", "list", "--config", str(config))
    assert listed.stdout == (
        "Desk\ttalk\t1-50\tdesk\tnever\n"
        "Every\ttalk\t1-50\tall\tnever\n"
        "Night\ttalk\t26-30\t-\tnever\n"
    )
    for name in ("Desk", "Every"):
        polyptt("relay", "token", "revoke", name, "--config", str(config))
    typo = polyptt(
        "relay",
        "token",
        "add",
        "Typo",
        "--can",
        "talk",
        "--targets",
        "dsek",
        "--config",
        str(config),
        check=False,
    )
    assert typo.returncode == 2
    assert typo.stderr.count("\n") == 1
    assert "no target named dsek" in typo.stderr
    assert "known: desk" in typo.stderr
    listener = polyptt(
        "relay",
        "token",
        "add",
        "Ears",
        "--can",
        "listen",
        "--targets",
        "desk",
        "--config",
        str(config),
        check=False,
    )
    assert (listener.returncode, listener.stderr.count("\n")) == (2, 1)
    polyptt("relay", "token", "revoke", "Night", "--config", str(config))
    assert polyptt("relay", "token", "list", "--config", str(config)).stdout == ""
    again = polyptt("relay", "token", "revoke", "Night", "--config", str(config), check=False)
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1
    long_name = polyptt(
        "relay", "token", "add", "A" * 14, "--can", "talk", "--config", str(config), check=False
    )
    assert long_name.returncode == 2
    assert "13 bytes" in long_name.stderr


def _metric(relay: Any, token: str, name: str) -> float:
    _, text = relay.request("GET", "/metrics", token)
    line = next(x for x in text.splitlines() if x.startswith(f"polyptt_relay_{name} "))
    return float(line.split()[1])


def test_send_and_listen_through_the_relay_from_the_cli(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Remote", "listen,talk")
    relay = start_relay(config, udp_port=port)
    lan = start_listen(tmp_path / "lan", "--count", "1", "--timeout", "30", port=port)
    remote_dir = tmp_path / "remote"
    env = {**polyptt_env_loopback(), "POLYPTT_RELAY": relay.url, "POLYPTT_TOKEN": token}
    remote = subprocess.Popen(
        polyptt_command(
            "listen",
            "--no-play",
            "--json",
            "--count",
            "2",
            "--timeout",
            "40",
            "--record",
            str(remote_dir),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 10
        while _metric(relay, token, "listeners") < 1:
            assert time.monotonic() < deadline, remote.stderr.read() if remote.stderr else ""
            time.sleep(0.05)
        sent = polyptt(
            "send", "--relay", relay.url, "--token", token, "--channel", "28", "--json", str(CHIME)
        )
        assert lan.wait() == 0
        polyptt(
            "send",
            "--channel",
            "29",
            "--caller-id",
            "Lobby",
            "--to",
            f"{DEFAULT_GROUP}:{port}",
            str(SPEECH),
        )
        out, err = remote.communicate(timeout=40)
    finally:
        if remote.poll() is None:
            remote.kill()
            remote.communicate()
        assert relay.stop() == 128 + signal.SIGTERM
    assert remote.returncode == 0, err
    answer = json.loads(sent.stdout)
    assert (answer["channel"], answer["ends"], answer["outcome"]) == (28, 12, "completed")
    ((meta, _audio),) = lan.recordings().values()
    assert (meta["caller_id"], meta["channel"], meta["frames"]) == ("Remote", 28, answer["frames"])
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["event"], e["direction"], e["channel"]) for e in events] == [
        ("page_start", "sent", 28),
        ("page_end", "sent", 28),
        ("page_start", "heard", 29),
        ("page_end", "heard", 29),
    ]
    heard = events[-1]
    assert (heard["caller_id"], heard["codec"], heard["end_reason"]) == (
        "Lobby",
        "g722",
        "end_packets",
    )
    # listen's recordings: <UTC start>_ch<NN>_<caller>, the relay's record as the JSON
    stamp = heard["start"][:19].replace("-", "").replace(":", "") + "Z"
    stem = remote_dir / f"{stamp}_ch29_lobby"
    assert sorted(p.name for p in remote_dir.iterdir() if "_ch29_" in p.name) == [
        f"{stem.name}.json",
        f"{stem.name}.wav",
    ]
    pcm, rate = soundfile.read(stem.with_suffix(".wav"), dtype="int16")
    assert rate == 16000
    reference = soundfile.read(SPEECH, dtype="int16")[0]
    _lag, corr = align(pcm, reference[: len(pcm) - 480])
    assert corr > 0.95
    record = json.loads(stem.with_suffix(".json").read_text())
    assert record == {k: v for k, v in heard.items() if k != "event"}


def test_send_through_the_relay_with_a_wrong_token_is_one_line_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path / "relay")
    relay = start_relay(config, udp_port=free_port())
    try:
        result = polyptt("send", "--relay", relay.url, "--token", "wrong", str(CHIME), check=False)
    finally:
        relay.stop()
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "401" in result.stderr


@pytest.mark.audio
@pytest.mark.exclusive  # three starved runs in a row under the full parallel run
def test_send_mic_through_the_relay_carries_what_the_microphone_heard(tmp_path: Path) -> None:
    """One clean run in three: the VM may starve the audio threads
    (`tests.support.audio_devices.one_clean_run`)."""
    sounddevice_or_skip()
    one_clean_run(_send_mic_through_the_relay, tmp_path)


def _send_mic_through_the_relay(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Mic", "talk")
    clip = speech(2.5)
    wav = tmp_path / "clip.wav"
    soundfile.write(wav, clip, 16000)
    relay = start_relay(config, udp_port=port)
    lan = start_listen(tmp_path / "lan", "--count", "1", "--timeout", "30", port=port)
    try:
        sender = subprocess.Popen(
            polyptt_command("send", "--relay", relay.url, "--mic", "--duration", "5", "--json"),
            env={**polyptt_env_loopback(), "POLYPTT_TOKEN": token},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)  # the page is under way; the microphone captures from its alerts
        subprocess.run(["paplay", "-d", "micsink", str(wav)], check=True, timeout=30)
        out, err = sender.communicate(timeout=30)
        assert lan.wait() == 0
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    assert sender.returncode == 0, err
    stopped = json.loads(out)
    # --duration 5 in 20 ms frames, less the quiet said during the alerts: skipped so that
    # the page catches up with the talker (polyptt.audio.catchup)
    assert 250 - 47 <= stopped["frames"] < 250
    assert stopped["ends"] == 12
    ((meta, audio),) = lan.recordings().values()
    assert (meta["caller_id"], meta["frames"]) == ("Mic", stopped["frames"])
    assert_speech_whole(audio, clip, starts_within_s=0.3)


def test_named_targets_are_paged_only_by_tokens_granted_them(tmp_path: Path) -> None:
    """Target scopes on both ways of talking: a granted target is paged by unicast; one
    the token was not granted is refused (403, or a ``forbidden`` error on the WebSocket)
    before anything is sent, and a token with every target still meets unknown names."""
    port = free_port()
    config = write_config(
        tmp_path / "relay", '[targets]\nreception = "127.0.0.1"\nboss = "127.0.0.1"\n'
    )
    front = add_token(config, "Front", "talk", targets=["reception"])
    plain = add_token(config, "Plain", "talk")
    admin = add_token(config, "Admin", "talk", targets=None)
    relay = start_relay(config, udp_port=port)

    async def websocket_talk(token: str, target: str) -> tuple[dict, dict]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(relay.ws_url, headers={"Authorization": f"Bearer {token}"}) as ws,
        ):
            hello = await ws.receive_json()
            await ws.send_json({"type": "talk", "channel": 26, "target": target})
            return hello, await ws.receive_json(timeout=10)

    def post(token: str, target: str) -> tuple[int, Any]:
        query = f"/api/v1/pages?channel=26&target={target}&wait=1"
        return relay.request("POST", query, token, CHIME.read_bytes())

    try:
        with UdpCapture(port, group=None) as unicast:
            refused = [post(front, "boss"), post(plain, "reception")]
            front_hello, front_ws = asyncio.run(websocket_talk(front, "boss"))
            plain_hello, plain_ws = asyncio.run(websocket_talk(plain, "reception"))
            unknown = post(admin, "nowhere")
            assert unicast.packets == []  # nothing was sent for any of them
            granted = post(front, "reception")
            datagrams = unicast.wait_quiet()
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    assert [status for status, _ in refused] == [403, 403]
    assert refused[0][1] == {"error": "this token may not page the target 'boss'"}
    assert (front_ws["type"], front_ws["code"]) == ("error", "forbidden")
    assert front_ws["message"] == "this token may not page the target 'boss'"
    assert plain_ws["code"] == "forbidden"
    assert (front_hello["targets"], plain_hello["targets"]) == (["reception"], [])
    assert unknown == (400, {"error": "no target named 'nowhere'"})
    status, answer = granted
    assert (status, answer["ends"], answer["outcome"]) == (200, 12, "completed")
    packets = [parse_packet(d) for _, d in datagrams]
    assert len(packets) == answer["alerts"] + answer["transmits"] + answer["ends"]
    assert {(p.channel, p.caller_id) for p in packets} == {(26, "Front")}
    refusals = [e for e in audit_events(config) if e["event"] == "page_refused"]
    assert [(e["who"], e["target"]) for e in refusals] == [
        ("Front", "boss"),
        ("Plain", "reception"),
        ("Front", "boss"),
        ("Plain", "reception"),
    ]


async def _follow(ws: Any, pages: int) -> tuple[list[dict], dict[int, list[bytes]]]:
    """Events and audio (by page id, frame numbers checked) until `pages` page_end."""
    events: list[dict] = []
    audio: dict[int, list[bytes]] = collections.defaultdict(list)
    while sum(e["type"] == "page_end" for e in events) < pages:
        message = await ws.receive(timeout=30)
        if message.type == aiohttp.WSMsgType.BINARY:
            page, frame = AUDIO_HEADER.unpack_from(message.data)
            assert frame == len(audio[page])
            audio[page].append(message.data[AUDIO_HEADER.size :])
        else:
            assert message.type == aiohttp.WSMsgType.TEXT, message
            events.append(message.json())
    return events, audio


def test_a_posted_page_reaches_websocket_listeners(tmp_path: Path) -> None:
    """An uploaded page is told to the listeners of its channel like a LAN page: events
    with source ``relay`` and its audio as the phones get it."""
    port = free_port()
    config = write_config(tmp_path / "relay")
    talker = add_token(config, "Uploader", "talk")
    listener = add_token(config, "Ears", "listen")
    relay = start_relay(config, udp_port=port)

    async def main() -> tuple[list[dict], dict[int, list[bytes]], Any]:
        headers = {"Authorization": f"Bearer {listener}"}
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(relay.ws_url, headers=headers) as ws,
            session.ws_connect(relay.ws_url, headers=headers) as elsewhere,
        ):
            await ws.send_json({"type": "listen", "channels": [26]})
            await elsewhere.send_json({"type": "listen", "channels": [27]})
            for connection in (ws, elsewhere):
                assert (await connection.receive_json())["type"] == "hello"
                assert (await connection.receive_json())["type"] == "listening"
            posted = asyncio.to_thread(
                relay.request,
                "POST",
                "/api/v1/pages?channel=26&wait=1",
                talker,
                SPEECH.read_bytes(),
            )
            (events, audio), answer = await asyncio.gather(_follow(ws, 1), posted)
            with pytest.raises(asyncio.TimeoutError):
                await elsewhere.receive(timeout=0.2)  # another channel: nothing at all
        return events, audio, answer

    try:
        events, audio, (status, answer) = asyncio.run(main())
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    assert status == 200
    start, end = events
    assert (start["type"], end["type"]) == ("page_start", "page_end")
    assert start["id"] == end["id"] == answer["page"]
    assert (start["source"], start["direction"], start["caller_id"]) == (
        "relay",
        "sent",
        "Uploader",
    )
    assert (end["frames"], end["ends"]) == (answer["transmits"], 12)
    assert list(audio) == [answer["page"]]
    pcm = np.frombuffer(b"".join(audio[answer["page"]]), dtype="<i2")
    assert len(pcm) == answer["transmits"] * 480  # every 30 ms frame, as sent
    reference = soundfile.read(SPEECH, dtype="int16")[0]
    _lag, corr = align(pcm, reference[: len(pcm) - 480])
    assert corr > 0.95


def test_a_websocket_talker_is_heard_by_others_but_not_by_itself(tmp_path: Path) -> None:
    """A live page's audio reaches the other listeners (resampled from G.711's 8 kHz),
    while the talking connection, listening too, gets its page's events and no audio."""
    port = free_port()
    config = write_config(tmp_path / "relay")
    talker = add_token(config, "Both", "listen,talk")
    listener = add_token(config, "Ears", "listen")
    relay = start_relay(config, udp_port=port)
    pcm = speech(3.0)

    async def main() -> tuple[Any, Any, dict]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(relay.ws_url, headers={"Authorization": f"Bearer {talker}"}) as ws,
            session.ws_connect(
                relay.ws_url, headers={"Authorization": f"Bearer {listener}"}
            ) as other,
        ):
            for connection in (ws, other):
                await connection.send_json({"type": "listen"})
                assert (await connection.receive_json())["type"] == "hello"
                assert (await connection.receive_json())["type"] == "listening"
            # every sample, to compare with the whole speech (catching up is tested above)
            talk = {"type": "talk", "channel": 28, "codec": "g711u", "keep_pauses": True}
            await ws.send_json(talk)
            own = asyncio.create_task(_follow(ws, 1))
            hearing = asyncio.create_task(_follow(other, 1))
            await stream_realtime(ws, frames(pcm))  # the relay takes them after the talk
            await ws.send_json({"type": "stop"})
            own_events, own_audio = await own
            talking = next(e for e in own_events if e["type"] == "talking")
            return (own_events, own_audio), await hearing, talking

    try:
        (own_events, own_audio), (events, audio), talking = asyncio.run(main())
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    page = talking["page"]
    assert [e["type"] for e in own_events if e.get("id") == page] == ["page_start", "page_end"]
    assert own_audio == {}  # never its own voice back
    assert [(e["type"], e["id"], e["source"]) for e in events] == [
        ("page_start", page, "relay"),
        ("page_end", page, "relay"),
    ]
    heard = np.frombuffer(b"".join(audio[page]), dtype="<i2")
    assert len(heard) == events[-1]["frames"] * 320
    narrowband = soxr.resample(soxr.resample(pcm, 16000, 8000), 8000, 16000)
    _lag, corr = align(heard, narrowband[:-800])
    assert corr > 0.95
