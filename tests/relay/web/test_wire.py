"""The web page takes the relay's wire facts from the relay: ``/wire.js``, never a copy.

The relay makes ``/wire.js`` from `polyptt.relay.wire` and the codec table. Served by
the real application (in-process), it is imported by a real Chromium and its exports
compared with what Python says; and no module of the page writes those facts itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Route
from tests.support.relay import app_client, settings, write_config
from tests.support.udp_capture import free_port

from polyptt import codecs, protocol
from polyptt.relay import wire
from polyptt.relay.webpage import CONTENT_SECURITY_POLICY, GENERATED, wire_constants

WEB = resources.files("polyptt.relay").joinpath("web")
ORIGIN = "http://polyptt.test"


def _served(tmp_path: Path) -> tuple[int, str, str, str]:
    """GET /wire.js from the relay: status, content type, policy, body."""
    config = write_config(tmp_path / "relay")

    async def main() -> tuple[int, str, str, str]:
        async with (
            app_client(settings(config, free_port())) as client,
            client.get("/wire.js") as answer,
        ):
            policy = answer.headers.get("Content-Security-Policy", "")
            return answer.status, answer.content_type, policy, await answer.text()

    # in a thread of its own: the module's sync Playwright runs an event loop in this one
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, main()).result()


def _exports_in_chromium(module: str, browser: Browser) -> dict[str, Any]:
    """Every export of `module` (JavaScript text), as imported by Chromium, as JSON."""

    def answer(route: Route) -> None:
        if route.request.url.endswith("/wire.js"):
            route.fulfill(body=module, content_type="text/javascript")
        else:
            route.fulfill(body="<!doctype html><title>wire</title>", content_type="text/html")

    tab = browser.new_page()
    tab.route(ORIGIN + "/**", answer)
    tab.goto(ORIGIN + "/")
    text = tab.evaluate(
        "import('/wire.js').then((m) => JSON.stringify(Object.fromEntries("
        "Object.entries(m).map(([k, v]) => [k, [v, Object.isFrozen(v)]]))))"
    )
    return dict(json.loads(text))


@pytest.mark.network  # the relay's sockets: inside the namespace only
def test_the_relay_serves_its_wire_facts_and_chromium_reads_them_as_python_has_them(
    tmp_path: Path, browser: Browser
) -> None:
    status, content_type, policy, module = _served(tmp_path)
    assert (status, content_type, policy) == (200, "text/javascript", CONTENT_SECURITY_POLICY)
    exports = _exports_in_chromium(module, browser)
    assert {name: value for name, (value, _frozen) in exports.items()} == wire_constants()
    assert all(frozen for _value, frozen in exports.values())  # (primitives count as frozen)
    # and what they are, from the Python side's one copy of each
    values = {name: value for name, (value, _frozen) in exports.items()}
    assert (values["RATE"], values["FRAME_SAMPLES"]) == (wire.RATE, wire.FRAME_SAMPLES)
    assert values["FRAME_MS"] * wire.RATE == wire.FRAME_SAMPLES * 1000
    assert values["AUDIO_HEADER_BYTES"] == wire.AUDIO_HEADER.size == 8
    assert values["AUDIO_HEADER_FIELDS"] == ["page", "frame"]
    assert values["WS_PATH"] == wire.WS_PATH
    assert values["MESSAGE"]["PAGE_START"] == wire.MessageType.PAGE_START.value
    assert values["ERROR"]["FORBIDDEN"] == wire.ErrorCode.FORBIDDEN.value
    assert [c["name"] for c in values["CODECS"]] == list(codecs.WIRE_NAMES)
    assert [c["name"] for c in values["CODECS"] if c["live"]] == list(codecs.LIVE_NAMES)
    assert values["LIVE_CODEC"] == codecs.DEFAULT
    assert values["ALERTS_MS"] == protocol.ALERT_COUNT * 30


#: What only wire.js may say: its numbers as whole words, its paths, and the quoted
#: names no module uses for anything else (scopes and the talk button's states reuse
#: 'listen', 'talk', 'talking', 'busy' and 'idle', so those are left to the browser test).
_COPIES = [
    r"\b" + str(wire.RATE) + r"\b",
    r"\b" + str(wire.FRAME_SAMPLES) + r"\b",
    r"\b" + str(wire.IDLE_CLOSE_CODE) + r"\b",
    r"\b930\b",
    r"getUint32\(\d+\)",
    re.escape("/api/v1/"),
    *(f"['\"]{name}['\"]" for name in codecs.WIRE_NAMES),
    *(
        f"['\"]{kind.value}['\"]"
        for kind in (
            wire.MessageType.HELLO,
            wire.MessageType.LISTENING,
            wire.MessageType.PAGE_START,
            wire.MessageType.PAGE_END,
            wire.MessageType.STOPPED,
        )
    ),
    *(f"['\"]{code.value}['\"]" for code in wire.ErrorCode),
]


def _code(text: str) -> str:
    """`text` without its comments (they may explain the facts)."""
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def test_no_module_of_the_page_copies_the_wire_facts() -> None:
    modules = sorted(e.name for e in WEB.iterdir() if e.name.endswith(".js"))
    assert GENERATED not in modules  # made by the relay, never shipped as a file
    found = {
        (name, pattern)
        for name in modules
        for pattern in _COPIES
        if re.search(pattern, _code(WEB.joinpath(name).read_text()))
    }
    assert found == set()
    users = {name for name in modules if f"from './{GENERATED}'" in WEB.joinpath(name).read_text()}
    assert users >= {"app.js", "connection.js", "talk.js", "capture-worklet.js"}
    assert "playback-worklet.js" in users
