"""``POST /api/v1/pages`` takes the audio as the body or as the one file of a multipart
form (``curl -F file=@tone.wav``), and says how to send it when a body is not audio.

Real multipart bodies (aiohttp's FormData, and curl's own when curl is installed)
against the relay served in this process or as a process, on 127.0.0.1 in the test
network namespace; what the relay pages is captured on the group.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.support.relay import add_token, app_client, settings, start_relay, write_config
from tests.support.relay_audio import CHIME
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.protocol import EndPacket, TransmitPacket, parse_packet

pytestmark = pytest.mark.network

#: A short page: 0.5 s of the chime, its answer once its end packets are out.
PAGES = "/api/v1/pages?channel=26&duration=0.5&wait=1"
HOW_TO_SEND = (
    "send the audio file itself as the body (curl --data-binary @FILE) or a multipart "
    "form with one file (curl -F file=@FILE)"
)
NOT_AUDIO = (
    "bad audio: the uploaded audio: not an audio file libsndfile can read (Format not "
    f"recognised); {HOW_TO_SEND}"
)

Posted = tuple[int, dict[str, Any]]


def _serve(
    tmp_path: Path, check: Callable[[Callable[[Any], Awaitable[Posted]]], Awaitable[None]]
) -> list[bytes]:
    """Serve a relay (uploads up to 64 kB) in this process; `check` gets a function that
    posts a body to `PAGES` with a talker's token. Returns the datagrams it paged."""
    config = write_config(tmp_path / "relay", "[limits]\nmax_upload_bytes = 65536\n")
    token = add_token(config, "Talker", "talk")
    port = free_port()

    async def main() -> None:
        async with app_client(settings(config, port)) as client:

            async def post(data: Any) -> Posted:
                headers = {"Authorization": f"Bearer {token}"}
                async with client.post(PAGES, data=data, headers=headers) as answer:
                    return answer.status, json.loads(await answer.read())

            await check(post)

    with UdpCapture(port) as capture:
        asyncio.run(main())
        return [datagram for _, datagram in capture.wait_quiet(0.3, timeout=10)]


def _form(*fields: tuple[str, bytes, str | None]) -> aiohttp.FormData:
    """A multipart form of (name, value, file name: None for a plain field)."""
    form = aiohttp.FormData(default_to_multipart=True)  # as curl -F, even without a file
    for name, value, filename in fields:
        if filename is None:
            form.add_field(name, value.decode())
        else:
            form.add_field(name, value, filename=filename, content_type="audio/wav")
    return form


def _pages(datagrams: list[bytes]) -> list[list[bytes]]:
    """The audio of each page's transmit packets, page by page (its ends close one)."""
    pages: list[list[bytes]] = []
    ended = True
    for datagram in datagrams:
        packet = parse_packet(datagram)
        if isinstance(packet, TransmitPacket):
            if ended:
                pages.append([])
            pages[-1].append(packet.audio)
            ended = False
        elif isinstance(packet, EndPacket):
            ended = True
    return pages


def test_a_form_s_file_is_paged_as_the_same_file_sent_as_the_body(tmp_path: Path) -> None:
    chime = CHIME.read_bytes()
    answers: list[Posted] = []

    async def check(post: Callable[[Any], Awaitable[Posted]]) -> None:
        answers.append(await post(_form(("file", chime, "chime.wav"))))
        answers.append(await post(chime))

    datagrams = _serve(tmp_path, check)
    (form_status, form), (body_status, body) = answers
    assert (form_status, body_status) == (200, 200)
    assert (form["ends"], form["outcome"]) == (12, "completed")
    assert form["transmits"] == body["transmits"] > 0
    form_page, body_page = _pages(datagrams)
    assert len(form_page) == form["transmits"]
    assert form_page == body_page  # the same audio, frame for frame


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        (
            [("file", None, "chime.wav"), ("channel", b"27", None)],
            400,
            "the form's field 'channel' is not a file: the form holds the audio file only, "
            "and options go in the query (?channel=26&codec=g722)",
        ),
        (
            [("one", None, "a.wav"), ("two", None, "b.wav")],
            400,
            "the form holds more than one file: send one",
        ),
        ([("note", b"hello", None)], 400, "the form's field 'note' is not a file: " + "the form"),
        ([("file", b"", "empty.wav")], 400, "the form's file is empty"),
        ([("file", b"RIFF" + bytes(70000), "big.wav")], 413, "the file is larger than the "),
        ([("file", b"hello, world\n", "notes.txt")], 400, NOT_AUDIO),
    ],
)
def test_a_form_that_is_not_one_audio_file_is_refused_and_nothing_is_paged(
    tmp_path: Path, fields: list[tuple[str, bytes | None, str | None]], status: int, error: str
) -> None:
    """(A value None is the chime's bytes.)"""
    chime = CHIME.read_bytes()
    form = _form(*[(name, chime if v is None else v, filename) for name, v, filename in fields])
    answers: list[Posted] = []

    async def check(post: Callable[[Any], Awaitable[Posted]]) -> None:
        answers.append(await post(form))

    assert _serve(tmp_path, check) == []
    ((answered, answer),) = answers
    assert answered == status
    assert answer["error"].startswith(error)
    if status == 413:
        assert answer["error"] == "the file is larger than the relay takes (65536 bytes)"


@pytest.mark.parametrize(
    ("body", "error"),
    [(b"hello, world\n", NOT_AUDIO), (b"", f"the request has no body: {HOW_TO_SEND}")],
)
def test_a_body_that_is_not_audio_says_how_to_send_audio(
    tmp_path: Path, body: bytes, error: str
) -> None:
    answers: list[Posted] = []

    async def check(post: Callable[[Any], Awaitable[Posted]]) -> None:
        answers.append(await post(body))

    assert _serve(tmp_path, check) == []
    assert answers == [(400, {"error": error})]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_as_a_user_would_type_it(tmp_path: Path) -> None:
    """``curl -F file=@chime.wav`` pages it; ``curl -d @chime.wav`` (which drops the
    file's line breaks) and a text are refused, saying how to send audio."""
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Talker", "talk")
    port = free_port()
    relay = start_relay(config, udp_port=port)

    def curl(*args: str) -> dict[str, Any]:
        command = ["curl", "-sS", "-H", f"Authorization: Bearer {token}", *args]
        done = subprocess.run(
            [*command, relay.url + PAGES], capture_output=True, text=True, timeout=60, check=True
        )
        return dict(json.loads(done.stdout))

    text = tmp_path / "notes.txt"
    text.write_text("hello, world\n")
    try:
        with UdpCapture(port) as capture:
            paged = curl("-F", f"file=@{CHIME}")
            refused = [curl("-d", f"@{CHIME}"), curl("--data-binary", f"@{text}")]
            datagrams = [d for _, d in capture.wait_quiet(0.3, timeout=10)]
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    assert (paged["ends"], paged["outcome"]) == (12, "completed")
    assert [len(page) for page in _pages(datagrams)] == [paged["transmits"]]
    assert refused == [{"error": NOT_AUDIO}] * 2
