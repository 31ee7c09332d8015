"""The web page's "Next bells" panel in a real Chromium against a real ``polyptt relay``
with bell schedules: every signed-in token sees the next bells (name, time on the
schedule's clock, channel); a token with the ``schedule`` scope rings one (its page goes
out on the loopback group, captured here), pauses and resumes it."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from tests.support.browser import CHANNELS, no_page_errors, open_page
from tests.support.relay import RelayProcess, add_token, start_relay, write_config
from tests.support.relay_audio import CHIME
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.protocol import AlertPacket, EndPacket, parse_packet

pytestmark = pytest.mark.network

#: 29 February only: the same next bells until 2028.
SCHEDULES = f"""
[[schedule]]
name = "leap-bell"
cron = "0 8 29 2 *"
timezone = "Europe/Berlin"
channel = 26
audio = "{CHIME}"

[[schedule]]
name = "leap-lunch"
cron = "30 12 29 2 *"
timezone = "Europe/Berlin"
channel = 27
audio = "{CHIME}"
"""


@pytest.fixture
def bells_relay(tmp_path: Path) -> Iterator[tuple[RelayProcess, int]]:
    config = write_config(tmp_path / "relay", CHANNELS + SCHEDULES)
    port = free_port()
    relay = start_relay(config, udp_port=port, args=["--data", str(tmp_path / "data")])
    yield relay, port
    assert relay.stop() == 128 + signal.SIGTERM


def sign_in(page: object, token: str) -> None:
    page.get_by_label("Token").fill(token)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]


NEXT = [
    "leap-bell 2028-02-29 08:00 All staff (26)",
    "leap-lunch 2028-02-29 12:30 Kitchen (27)",
    "leap-bell 2032-02-29 08:00 All staff (26)",
    "leap-lunch 2032-02-29 12:30 Kitchen (27)",
    "leap-bell 2036-02-29 08:00 All staff (26)",
]


def test_the_next_bells_are_listed_without_buttons_for_a_listener(
    bells_relay: tuple[RelayProcess, int], browser: Browser
) -> None:
    relay, _port = bells_relay
    token = add_token(relay.config, "Listener", "listen")
    page = open_page(browser, relay.url + "/")
    sign_in(page, token)
    expect(page.locator("#next-bells li")).to_have_text(NEXT)
    expect(page.get_by_role("list", name="Bell schedules")).to_be_hidden()
    expect(page.get_by_role("button", name="Ring leap-bell now")).to_have_count(0)
    no_page_errors(page)


def test_a_schedule_token_rings_pauses_and_resumes_a_bell(
    bells_relay: tuple[RelayProcess, int], browser: Browser
) -> None:
    relay, port = bells_relay
    token = add_token(relay.config, "Office", "schedule")
    with UdpCapture(port) as capture:
        page = open_page(browser, relay.url + "/")
        sign_in(page, token)
        expect(page.locator("#next-bells li")).to_have_text(NEXT)
        page.get_by_role("button", name="Ring leap-lunch now").click()
        expect(page.locator("#bells-state")).to_have_text("Rang leap-lunch (page 1).")
        capture.wait_for(31 + 12, timeout=20)
        datagrams = [d for _, d in capture.wait_quiet()]
    packets = [parse_packet(d) for d in datagrams]
    assert {(p.channel, p.caller_id) for p in packets} == {(27, "leap-lunch")}  # type: ignore[attr-defined]
    assert sum(isinstance(p, AlertPacket) for p in packets) == 31
    assert sum(isinstance(p, EndPacket) for p in packets) == 12
    page.get_by_role("button", name="Pause leap-bell").click()
    expect(page.locator("#bells-state")).to_have_text("leap-bell paused.")
    expect(page.locator("#next-bells li")).to_have_text(
        [
            "leap-lunch 2028-02-29 12:30 Kitchen (27)",
            "leap-lunch 2032-02-29 12:30 Kitchen (27)",
            "leap-lunch 2036-02-29 12:30 Kitchen (27)",
            "leap-lunch 2040-02-29 12:30 Kitchen (27)",
            "leap-lunch 2044-02-29 12:30 Kitchen (27)",
        ]
    )
    expect(page.get_by_text("leap-bell (paused)")).to_be_visible()
    page.get_by_role("button", name="Resume leap-bell").click()
    expect(page.locator("#bells-state")).to_have_text("leap-bell resumed.")
    expect(page.locator("#next-bells li")).to_have_text(NEXT)
    no_page_errors(page)
