"""A real Chromium for the web page's tests, driven by Playwright for Python.

The browser is Debian's ``chromium-headless-shell`` (apt), started from its path: never
``playwright install``, which downloads one. A missing browser fails the tests that
need it with the command that installs it (CI installs it; nothing is skipped).
The fake microphone is Chromium's own: a WAV file played as the capture device.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

#: Where apt puts the browser; POLYPTT_CHROMIUM may name another Chromium.
CHROMIUM = Path(os.environ.get("POLYPTT_CHROMIUM", "/usr/bin/chromium-headless-shell"))
DOCS = Path(__file__).resolve().parents[2] / "docs"
DESKTOP = {"width": 1280, "height": 800}
#: The relay's channel names in the web page's tests.
CHANNELS = '[channels]\n26 = "All staff"\n27 = "Kitchen"\n50 = "Emergency"\n'

PHONE = {"width": 390, "height": 844}


def chromium() -> Path:
    """The browser's path, or the test fails saying how to install it."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"no Chromium at {CHROMIUM}: apt-get install chromium-headless-shell "
            "(or set POLYPTT_CHROMIUM); the web page's tests need a real browser",
            pytrace=False,
        )
    return CHROMIUM


@contextlib.contextmanager
def launch(
    playwright: Playwright,
    microphone: Path | None = None,
    *,
    grant: bool = True,
    autoplay: bool = True,
    args: Sequence[str] = (),
) -> Iterator[Browser]:
    """Chromium with `microphone` (a WAV played once) as its microphone, started by
    `playwright` (one sync Playwright at a time per thread: the module's, see
    tests/relay/web/conftest.py).

    The permission question (no prompt can be shown here) is answered yes if `grant`,
    else no, as a user refusing it would. Without `autoplay`, audio waits for a user
    gesture, as in a browser people use.
    """
    flags = [*args]
    if autoplay:
        flags.append("--autoplay-policy=no-user-gesture-required")
    else:
        flags.append("--autoplay-policy=document-user-activation-required")
    if microphone is not None:
        flags += [
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone}%noloop",
        ]
    flags.append("--use-fake-ui-for-media-stream" + ("" if grant else "=deny"))
    browser = playwright.chromium.launch(executable_path=str(chromium()), args=flags)
    try:
        yield browser
    finally:
        browser.close()


def open_page(
    browser: Browser, url: str, *, viewport: dict[str, int] = DESKTOP, **options: Any
) -> Page:
    """A new page at `url` (microphone allowed); page errors fail the test at `check`."""
    context = browser.new_context(permissions=["microphone"], viewport=viewport, **options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(url)
    return page


def sign_in(page: Page, token: str) -> None:
    """Sign in by the form, as a person does, and wait for the WebSocket."""
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#connection")).to_contain_text("Connected", timeout=10_000)


def no_page_errors(page: Page) -> None:
    assert page.errors == []  # type: ignore[attr-defined]


def probe(page: Page, expression: str) -> Any:
    """Evaluate `expression` with the page's `probe` (app.js) bound to ``p``."""
    return page.evaluate(
        f"import('/app.js').then((m) => {{ const p = m.probe; return {expression}; }})"
    )


def tapped_audio(page: Page) -> tuple[np.ndarray, int]:
    """What the playback worklet played since ``probe.startTap()``, and its rate."""
    encoded = page.evaluate(
        """import('/app.js').then((m) => {
            const blocks = m.probe.tapped;
            const all = new Float32Array(blocks.reduce((n, b) => n + b.length, 0));
            let at = 0;
            for (const b of blocks) { all.set(b, at); at += b.length; }
            const bytes = new Uint8Array(all.buffer);
            let text = '';
            for (let i = 0; i < bytes.length; i += 0x8000) {
                text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
            }
            return [btoa(text), m.probe.sampleRate()];
        })"""
    )
    return np.frombuffer(base64.b64decode(encoded[0]), dtype="<f4"), int(encoded[1])


def screenshot(page: Page, folder: Path, name: str) -> Path:
    """Save a screenshot of `page` as `name`.png in `folder`.

    With POLYPTT_UPDATE_SCREENSHOTS=1 it is also copied to docs/ (the README's).
    """
    path = folder / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    assert width == page.viewport_size["width"]  # type: ignore[index]
    if os.environ.get("POLYPTT_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(path, DOCS / path.name)
    return path
