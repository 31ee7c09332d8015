"""How the relay serves its web page, and what the page's session needs from the API.

Against the real application, served in-process (`aiohttp.test_utils`): the page and
its modules come from the package with strict headers and no inline script; the
session cookie may post a page (the file upload) only from the relay's own Origin.
"""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from tests.support.relay import add_token, app_client, settings, write_config
from tests.support.relay_audio import CHIME
from tests.support.udp_capture import free_port

from polyptt.relay.state import RELAY
from polyptt.relay.webpage import CONTENT_SECURITY_POLICY, GENERATED

WEB = resources.files("polyptt.relay").joinpath("web")
MODULES = ["app.js", "audio.js", "bells.js", "connection.js", "pages.js", "talk.js", "resample.js"]
WORKLETS = ["capture-worklet.js", "playback-worklet.js"]


def serve(tmp_path: Path, check: Any, config_text: str = "") -> None:
    config = write_config(tmp_path / "relay", config_text)
    tokens = {
        "talk": add_token(
            config, "Reception", "listen,talk", channels=[26, 27, 50], targets=["reception"]
        ),
        "all": add_token(config, "Security", "listen,talk,emergency"),
    }

    async def main() -> None:
        async with app_client(settings(config, free_port())) as client:
            await check(client, tokens)

    asyncio.run(main())


def test_page_and_modules_are_served_with_strict_headers(tmp_path: Path) -> None:
    async def check(client: Any, _tokens: dict[str, str]) -> None:
        for path, kind in [
            ("/", "text/html"),
            ("/style.css", "text/css"),
            ("/icon.svg", "image/svg+xml"),
            *((f"/{name}", "text/javascript") for name in MODULES + WORKLETS),
        ]:
            async with client.get(path) as answer:
                assert answer.status == 200, path
                assert answer.content_type == kind, path
                headers = answer.headers
                assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
                assert headers["X-Content-Type-Options"] == "nosniff"
                assert headers["X-Frame-Options"] == "DENY"
                assert headers["Referrer-Policy"] == "no-referrer"
                body = await answer.read()
                name = "index.html" if path == "/" else path[1:]
                assert body == WEB.joinpath(name).read_bytes()
            async with client.get(path, headers={"If-None-Match": headers["ETag"]}) as again:
                assert again.status == 304
        for path in ("/nothing.js", "/../pyproject.toml", "/web/app.js", "/app.py"):
            async with client.get(path) as answer:
                assert answer.status == 404, path
        async with client.get("/healthz") as answer:  # every answer: no sniffing
            assert answer.headers["X-Content-Type-Options"] == "nosniff"

    serve(tmp_path, check)


def test_policy_allows_nothing_but_the_relay() -> None:
    directives = dict(
        part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";") if part.strip()
    )
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    for name in ("script-src", "style-src", "connect-src", "media-src"):
        assert directives[name] == "'self'", name
    assert "unsafe" not in CONTENT_SECURITY_POLICY


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.scripts: list[str] = []
        self.ids: set[str] = set()
        self.labelled: set[str] = set()
        self.controls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.inline += [name for name in values if name.startswith("on") or name == "style"]
        if tag == "script":
            assert values.get("src"), "inline <script>"
            self.scripts.append(values["src"] or "")
        if tag == "style":
            self.inline.append("<style>")
        if "id" in values:
            self.ids.add(values["id"] or "")
        if tag == "label" and values.get("for"):
            self.labelled.add(values["for"] or "")
        if tag in ("input", "select", "meter") and values.get("type") != "checkbox":
            self.controls.append(values.get("id") or "")


def test_page_has_no_inline_code_and_every_field_has_a_label() -> None:
    markup = _Markup()
    markup.feed(WEB.joinpath("index.html").read_text())
    assert markup.inline == []
    assert markup.scripts == ["/app.js"]
    assert set(markup.controls) <= markup.labelled  # checkboxes sit inside their labels


def test_every_module_imported_is_shipped() -> None:
    shipped = {entry.name for entry in WEB.iterdir()} | {GENERATED}  # wire.js: made
    for name in MODULES + WORKLETS:
        text = WEB.joinpath(name).read_text()
        for imported in re.findall(r"from '\./([\w-]+\.js)'", text):
            assert imported in shipped, (name, imported)
        assert not re.search(r"https?://", text)  # nothing fetched from elsewhere
    for worklet in re.findall(
        r"addModule\('/([\w-]+\.js)'\)", WEB.joinpath("audio.js").read_text()
    ):
        assert worklet in WORKLETS


def test_session_says_who_and_what_the_page_offers(tmp_path: Path) -> None:
    config = (
        '[channels]\n26 = "All staff"\n\n[targets]\nreception = "127.0.0.1"\nlobby = "127.0.0.2"\n'
    )

    async def check(client: Any, tokens: dict[str, str]) -> None:
        async with client.get("/api/v1/session") as answer:
            assert answer.status == 401
        headers = {"Authorization": f"Bearer {tokens['talk']}"}
        async with client.post("/api/v1/session", headers=headers) as answer:
            assert answer.status == 200
        async with client.get("/api/v1/session") as answer:  # the cookie alone
            info = await answer.json()
        assert info == {
            "name": "Reception",
            "scopes": ["listen", "talk"],
            "channels": {"26": "All staff"},
            "talk_channels": [26, 27],  # 50 needs the emergency scope
            "urgent": {},
            "targets": ["reception"],  # the token's, not every one of [targets]
            "recording": False,
            "max_page_s": 60.0,
        }
        own = {"Origin": f"http://127.0.0.1:{client.port}"}  # the page's fetch sends it
        async with client.post("/signout", headers=own) as answer:
            assert answer.status == 204
            assert answer.cookies["polyptt_session"].value == ""
        async with client.get("/api/v1/session") as answer:
            assert answer.status == 401
        headers = {"Authorization": f"Bearer {tokens['all']}"}
        async with client.get("/api/v1/session", headers=headers) as answer:
            info = await answer.json()
        assert len(info["talk_channels"]) == 50
        assert info["targets"] == []  # granted none
        assert info["urgent"] == {
            "24": "priority",
            "25": "emergency",
            "49": "priority",
            "50": "emergency",
        }

    serve(tmp_path, check, config)


@pytest.mark.network
def test_session_cookie_posts_a_page_only_from_the_relays_own_origin(tmp_path: Path) -> None:
    async def check(client: Any, tokens: dict[str, str]) -> None:
        headers = {"Authorization": f"Bearer {tokens['talk']}"}
        async with client.post("/api/v1/session", headers=headers) as answer:
            assert answer.status == 200
        url = "/api/v1/pages?channel=26&wait=1"
        own = f"http://{client.host}:{client.port}"
        for origin in (None, "https://evil.example", "null"):
            extra = {} if origin is None else {"Origin": origin}
            async with client.post(url, data=CHIME.read_bytes(), headers=extra) as answer:
                assert answer.status == 401, origin
        async with client.post(url, data=CHIME.read_bytes(), headers={"Origin": own}) as answer:
            assert answer.status == 200
            report = await answer.json()
        assert (report["alerts"], report["ends"], report["outcome"]) == (31, 12, "completed")

    serve(tmp_path, check)


def test_asking_whether_signed_in_is_not_a_failed_login(tmp_path: Path) -> None:
    """The page asks at every load; a dozen visits must not ban the address."""

    async def check(client: Any, tokens: dict[str, str]) -> None:
        for _ in range(12):
            async with client.get("/api/v1/session") as answer:
                assert answer.status == 401
        headers = {"Authorization": f"Bearer {tokens['talk']}"}
        async with client.get("/api/v1/session", headers=headers) as answer:
            assert answer.status == 200
        events = client.server.app[RELAY].audit.events
        assert [e for e in events if e["event"] == "login_refused"] == []
        async with client.get("/api/v1/session", headers={"Authorization": "Bearer x"}) as answer:
            assert answer.status == 401  # a wrong token still counts
        assert client.server.app[RELAY].audit.events[-1]["event"] == "login_refused"

    serve(tmp_path, check)


@pytest.mark.network
def test_recordings_are_served_with_their_length_and_in_ranges(tmp_path: Path) -> None:
    """The page's players need Content-Length and ranges to know a recording's length
    before it plays (and to seek); an upload's answer says how long the page was."""
    config = write_config(tmp_path / "relay")
    token = add_token(config, "Reception", "listen,talk")
    auth = {"Authorization": f"Bearer {token}"}

    async def main() -> None:
        async with app_client(settings(config, free_port(), record=tmp_path / "rec")) as client:
            url = "/api/v1/pages?channel=26&wait=1"
            async with client.post(url, data=CHIME.read_bytes(), headers=auth) as answer:
                report = await answer.json()
            assert report["outcome"] == "completed"
            assert report["duration_s"] == round(report["transmits"] * 0.03, 3)
            async with client.get("/api/v1/pages", headers=auth) as answer:
                (record,) = (await answer.json())["pages"]
            (saved,) = (tmp_path / "rec").glob("*.wav")
            size = saved.stat().st_size
            async with client.get(record["wav"], headers=auth) as whole:
                assert whole.status == 200
                assert whole.headers["Content-Type"] == "audio/wav"
                assert whole.headers["Content-Length"] == str(size)
                assert whole.headers["Accept-Ranges"] == "bytes"
                body = await whole.read()
            assert body == saved.read_bytes()
            for asked, first, last in (("0-43", 0, 43), ("-100", size - 100, size - 1)):
                headers = {**auth, "Range": f"bytes={asked}"}
                async with client.get(record["wav"], headers=headers) as part:
                    assert part.status == 206
                    assert part.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
                    assert part.headers["Content-Length"] == str(last - first + 1)
                    assert await part.read() == body[first : last + 1]
            headers = {**auth, "Range": f"bytes={size}-"}
            async with client.get(record["wav"], headers=headers) as beyond:
                assert beyond.status == 416

    asyncio.run(main())
