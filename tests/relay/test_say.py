"""``POST /api/v1/pages`` with a JSON body: the relay speaks the text (espeak-ng here).

The relay application served in this process on 127.0.0.1 (in the test network
namespace), its pages captured on the loopback group, decoded and compared with
espeak-ng's own rendering of the text (`tests.support.speech`). A spoken page goes
through the uploads' admission (scopes, target, busy channel) and limits.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from tests.support.listen import expected_audio
from tests.support.relay import (
    add_token,
    app_client,
    audit_events,
    config_refusal,
    settings,
    write_config,
)
from tests.support.relay_audio import CHIME
from tests.support.speech import TEXT, assert_spoken
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.protocol import AlertPacket, EndPacket, parse_packet
from polyptt.relay.config import load_config

pytestmark = pytest.mark.network

PAGES = "/api/v1/pages"
Posted = tuple[int, dict[str, Any]]
Post = Callable[..., Awaitable[Posted]]


def _serve(
    tmp_path: Path, check: Callable[[Post, dict[str, str]], Awaitable[None]], config_text: str = ""
) -> list[bytes]:
    """Serve a relay in this process; `check` gets a function that posts (JSON by
    default) with a token, and the tokens (talker: channels 26-27; listener). Returns
    the datagrams it paged."""
    config = write_config(tmp_path / "relay", config_text)
    tokens = {
        "talker": add_token(config, "Talker", "talk", channels=[26, 27]),
        "listener": add_token(config, "Listener", "listen"),
    }
    port = free_port()

    async def main() -> None:
        async with app_client(settings(config, port)) as client:

            async def post(body: Any, token: str = tokens["talker"], **kwargs: Any) -> Posted:
                path = kwargs.pop("path", PAGES)
                headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
                sent = kwargs or {"json": body}
                async with client.post(path, headers=headers, **sent) as answer:
                    return answer.status, json.loads(await answer.read())

            await check(post, tokens)

    with UdpCapture(port) as capture:
        asyncio.run(main())
        return [datagram for _, datagram in capture.wait_quiet(0.3, timeout=10)]


def _pages(datagrams: list[bytes]) -> list[list[bytes]]:
    """Each page's datagrams (its end packets close one)."""
    pages: list[list[bytes]] = [[]]
    for datagram in datagrams:
        packet = parse_packet(datagram)
        if isinstance(packet, AlertPacket) and pages[-1] and _ended(pages[-1]):
            pages.append([])
        pages[-1].append(datagram)
    return [page for page in pages if page]


def _ended(page: list[bytes]) -> bool:
    return isinstance(parse_packet(page[-1]), EndPacket)


@pytest.mark.parametrize("chime", [False, True], ids=["speech", "chime"])
def test_a_json_body_pages_espeak_ngs_speech(tmp_path: Path, chime: bool) -> None:
    answers: list[Posted] = []

    async def check(post: Post, _tokens: dict[str, str]) -> None:
        answers.append(await post({"channel": 27, "say": TEXT, "chime": chime, "wait": True}))

    datagrams = _serve(tmp_path, check)
    ((status, answer),) = answers
    assert status == 200, answer
    assert (answer["channel"], answer["codec"], answer["outcome"]) == (27, "g722", "completed")
    assert (answer["alerts"], answer["ends"], answer["transmits"]) == (31, 12, answer["frames"])
    codec, audio, frames = expected_audio(datagrams)
    assert (codec, len(frames)) == ("g722", answer["frames"])
    assert parse_packet(datagrams[0]).channel == 27  # type: ignore[union-attr]
    assert_spoken(audio, chime=chime)


def test_the_relay_speaks_with_its_tts_voice_and_a_request_s_own(tmp_path: Path) -> None:
    """``[tts]`` sets the voice and rate; a request's ``voice`` and ``rate`` win."""
    answers: list[Posted] = []

    async def check(post: Post, _tokens: dict[str, str]) -> None:
        answers.append(await post({"channel": 26, "say": TEXT, "wait": True}))
        answers.append(await post({"channel": 26, "say": TEXT, "wait": True, "rate": 220}))
        answers.append(await post({"channel": 26, "say": TEXT, "wait": True, "voice": "en"}))

    datagrams = _serve(tmp_path, check, '[tts]\nvoice = "en-us"\nrate = 140\n')
    assert [status for status, _ in answers] == [200, 200, 200]
    pages = _pages(datagrams)
    assert len(pages) == 3
    assert_spoken(expected_audio(pages[0])[1], TEXT, "-v", "en-us", "-s", "140")
    assert_spoken(expected_audio(pages[1])[1], TEXT, "-v", "en-us", "-s", "220")
    assert_spoken(expected_audio(pages[2])[1], TEXT, "-v", "en", "-s", "140")


def test_a_spoken_page_takes_the_upload_options(tmp_path: Path) -> None:
    """codec, repeat, gap and duration mean what the query's do; 202 without wait."""
    answers: list[Posted] = []
    body = {"channel": "page:2", "say": TEXT, "codec": "g711u", "repeat": 2, "gap": 0.5}

    async def check(post: Post, _tokens: dict[str, str]) -> None:
        answers.append(await post({**body, "wait": True}))
        answers.append(await post({**body, "duration": 1.0}))
        await asyncio.sleep(3)  # its end packets

    datagrams = _serve(tmp_path, check)
    (status, first), (status_2, second) = answers
    assert (status, status_2) == (200, 202)
    assert (first["codec"], first["channel"]) == ("g711u", 27)
    speech_s = (first["duration_s"] - 0.5) / 2
    assert 3.0 < speech_s < 3.6  # twice the text, half a second between
    assert second["duration_s"] == 1.02  # cut at a whole 30 ms frame after 1 s
    whole, cut = _pages(datagrams)
    assert expected_audio(whole)[0] == "g711u"
    assert len(expected_audio(cut)[2]) == 34


def _refused(tmp_path: Path, requests: list[dict[str, Any]], config_text: str = "") -> list[Posted]:
    answers: list[Posted] = []

    async def check(post: Post, tokens: dict[str, str]) -> None:
        for request in requests:
            request = dict(request)
            token = tokens[request.pop("as", "talker")]
            if "raw" in request:
                headers = {"Content-Type": "application/json"}
                kwargs = {"data": request["raw"], "headers": headers}
                answers.append(await post(None, token, path=request.get("path", PAGES), **kwargs))
            else:
                answers.append(await post(request["json"], token))

    datagrams = _serve(tmp_path, check, config_text)
    assert datagrams == []  # not one packet for any of them
    return answers


def test_bad_spoken_pages_are_refused_and_send_nothing(tmp_path: Path) -> None:
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"json": {"channel": 26, "say": "  "}}, 400, "say: nothing to say: the text is empty"),
        (
            {"json": {"channel": 26}},
            400,
            'say must be the text to speak: {"channel": 26, "say": "TEXT"}',
        ),
        ({"json": {"say": TEXT}}, 400, 'channel is required: {"channel": 26, "say": "TEXT"}'),
        (
            {"json": {"channel": 26, "say": TEXT, "speed": 2}},
            400,
            "unknown keys ['speed']; a spoken page takes channel, say, chime, voice, rate, "
            "codec, target, repeat, gap, gain, duration, wait, sites",
        ),
        (
            {"json": {"channel": 26, "say": TEXT, "rate": 20}},
            400,
            "rate must be a whole number from 80 to 500",
        ),
        (
            {"json": {"channel": 26, "say": TEXT, "chime": "yes"}},
            400,
            "chime must be true or false",
        ),
        (
            {"json": {"channel": 26, "say": TEXT, "voice": "xx-nosuch"}},
            400,
            "say: espeak-ng has no voice 'xx-nosuch' (espeak-ng --voices lists them)",
        ),
        (
            {"json": {"channel": 26, "say": TEXT, "codec": "g729"}},
            400,
            "codec 'g729' is not one of g722, g711u, g726qi",
        ),
        (
            {"json": {"channel": 0, "say": TEXT}},
            400,
            "invalid channel '0': channels are 1-50 (1-25 push-to-talk, 26-50 paging groups 1-25)",
        ),
        ({"json": {"channel": 30, "say": TEXT}}, 403, "this token may not talk on channel 30"),
        ({"json": {"channel": 26, "say": TEXT}, "as": "listener"}, 403, "this token may not talk"),
        (
            {"json": {"channel": 26, "say": TEXT, "target": "lobby"}},
            403,
            "this token may not page the target 'lobby'",
        ),
        (
            {"json": [26, TEXT]},
            400,
            'the body must be a JSON object: {"channel": 26, "say": "TEXT"}',
        ),
        ({"raw": b"channel=26"}, 400, 'the body is not JSON: send {"channel": 26, "say": "TEXT"}'),
        (
            {"raw": b'{"channel": 26, "say": "hi"}', "path": PAGES + "?channel=27"},
            400,
            "with a JSON body the page's options go in the JSON, not the query",
        ),
        (
            {"raw": json.dumps({"channel": 26, "say": "a" * 70000}).encode()},
            413,
            "a JSON body is at most 65536 bytes",
        ),
        (
            {"json": {"channel": 26, "say": " ".join(["attention"] * 20)}},
            400,
            "bad audio: the speech: the audio lasts {} s; limit: 2 s",
        ),
    ]
    answers = _refused(tmp_path, [case for case, _, _ in cases], "[limits]\nmax_page_s = 2\n")
    for (case, status, message), (got_status, got) in zip(cases, answers, strict=True):
        assert got_status == status, (case, got)
        if "{}" in message:
            prefix, suffix = message.split("{}")
            assert got["error"].startswith(prefix), got
            assert got["error"].endswith(suffix), got
        else:
            assert got == {"error": message}, case


def test_no_engine_is_a_503_saying_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # the relay runs here: no espeak-ng on it
    answers = _refused(tmp_path, [{"json": {"channel": 26, "say": TEXT}}])
    install = "no text-to-speech engine: espeak-ng is not installed (apt install espeak-ng)"
    assert answers == [(503, {"error": install})]


def test_a_piper_relay_takes_no_voice_from_a_request(tmp_path: Path) -> None:
    voice = tmp_path / "relay" / "voice.onnx"
    voice.parent.mkdir()
    voice.write_bytes(b"")
    answers = _refused(
        tmp_path,
        [{"json": {"channel": 26, "say": TEXT, "voice": "en"}}],
        '[tts]\nengine = "piper"\nvoice = "voice.onnx"\n',
    )
    assert answers == [
        (400, {"error": "voice: this relay speaks with piper (its [tts] voice only)"})
    ]


def test_a_busy_channel_is_refused_before_synthesis(tmp_path: Path) -> None:
    """An upload holds channel 26: the spoken page is a 409 naming it, as an upload's."""
    answers: list[Posted] = []

    async def check(post: Post, _tokens: dict[str, str]) -> None:
        upload = await post(None, data=CHIME.read_bytes(), path=PAGES + "?channel=26")
        answers.append(upload)
        answers.append(await post({"channel": 26, "say": TEXT}))
        await asyncio.sleep(3)

    datagrams = _serve(tmp_path, check)
    assert answers[0][0] == 202
    assert answers[1] == (
        409,
        {"error": "channel 26 is busy (Talker is talking)", "channel": 26, "caller_id": "Talker"},
    )
    assert len(_pages(datagrams)) == 1  # the chime's page alone


def test_a_refused_token_is_audited_as_an_upload_s(tmp_path: Path) -> None:
    _refused(tmp_path, [{"json": {"channel": 30, "say": TEXT}}])
    (event,) = [
        e for e in audit_events(tmp_path / "relay" / "relay.toml") if e["event"] == "page_refused"
    ]
    assert (event["who"], event["channel"]) == ("Talker", 30)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('engine = "festival"', "[tts] engine must be one of espeak-ng, piper"),
        ('engine = "piper"', "[tts] engine 'piper' needs voice = \"FILE.onnx\""),
        ("rate = 20", "[tts] rate must be 80-500 words per minute"),
        ('rate = "fast"', "[tts] rate must be 80-500 words per minute"),
        ("voice = 3", "[tts] voice must be a string"),
        ("speed = 2", "[tts] takes engine, voice and rate"),
    ],
)
def test_tts_config_errors_are_one_line(tmp_path: Path, table: str, message: str) -> None:
    config = tmp_path / "relay.toml"
    config.write_text(f"[tts]\n{table}\n")
    assert config_refusal(config) == message


def test_tts_config_piper_voice_is_beside_the_file(tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    config.write_text('[tts]\nengine = "piper"\nvoice = "voices/en.onnx"\nrate = 150\n')
    tts = load_config(config).tts
    assert (tts.engine, tts.voice, tts.rate_wpm) == ("piper", str(tmp_path / "voices/en.onnx"), 150)
    assert load_config(None).tts.engine == "espeak-ng"


def test_the_example_configuration_speaks_with_espeak_ng() -> None:
    from polyptt.audio.speech import Voice

    example = Path(__file__).resolve().parents[2] / "examples" / "relay" / "relay.toml"
    assert load_config(example).tts == Voice("espeak-ng", "en-us", 175)
