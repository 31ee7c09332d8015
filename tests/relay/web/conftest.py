"""The web page's tests share a relay and a browser where they do not need their own.

`shared_relay` is one ``polyptt relay`` process per test session (per xdist worker),
recording what it hears; a test makes its own tokens on it
(`tests.support.relay.SharedRelay.token`) and leaves it running. Tests that restart the
relay or configure it specially (an idle timeout) still start their own with
`tests.support.relay.start_relay`.

`browser` is one Chromium with the default flags (no microphone, autoplay allowed) per
test module, started by the module's `playwright`; each test opens its own context in
it (`tests.support.browser.open_page`), so no cookie or storage crosses tests. It cannot be
per session: Playwright's sync API keeps its event loop marked as running in this
thread, and the other modules' tests call ``asyncio.run``; pytest ends a module's
fixtures before the next module's tests. Tests that need a microphone file, another
autoplay policy or other flags launch their own with that `playwright`.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright
from tests.support.browser import CHANNELS, launch
from tests.support.relay import SharedRelay, start_relay, write_config
from tests.support.udp_capture import free_port


@pytest.fixture(scope="session")
def shared_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedRelay]:
    folder = tmp_path_factory.mktemp("shared-relay")
    config = write_config(folder / "relay", CHANNELS)
    port = free_port()
    record = folder / "rec"
    process = start_relay(config, udp_port=port, args=["--record", str(record)])
    yield SharedRelay(process, port, config, record)
    assert process.stop() == 128 + signal.SIGTERM


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """The module's Playwright (its sync API allows one at a time in a thread): tests
    that launch a browser of their own launch it with this one."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    with launch(playwright) as chromium:
        yield chromium
