"""The web page's Say box in a real Chromium against a real ``polyptt relay``.

A person types a text, picks a channel and presses Say: the relay speaks it (espeak-ng)
and pages it; what went out on the loopback group is decoded and compared with
espeak-ng's own rendering (`tests.support.speech`), after the chime.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect
from tests.support.browser import no_page_errors, open_page, sign_in
from tests.support.listen import expected_audio
from tests.support.relay import SharedRelay
from tests.support.speech import TEXT, assert_spoken
from tests.support.udp_capture import UdpCapture

from polyptt.protocol import AlertPacket, EndPacket, parse_packet

pytestmark = pytest.mark.network


def test_say_box_pages_the_text_spoken_on_the_picked_channel(
    shared_relay: SharedRelay, browser: Browser
) -> None:
    port, relay = shared_relay.port, shared_relay.process
    token = shared_relay.token("Office", "talk")
    try:
        with UdpCapture(port) as capture:
            page = open_page(browser, relay.url + "/")
            sign_in(page, token)
            page.get_by_label("Channel").select_option("27")
            page.get_by_label("Text to say").fill(TEXT)
            expect(page.get_by_label("Chime first")).to_be_checked()
            page.get_by_role("button", name="Say", exact=True).click()
            state = page.locator("#say-state")
            expect(state).to_have_text("Saying it on Kitchen (27)…")
            capture.wait_for(31 + 12, timeout=20)
            datagrams = [d for _, d in capture.wait_quiet()]
            expect(state).to_have_text(re.compile(r"^Sent the text on Kitchen \(27\): \d\.\d s\.$"))
            no_page_errors(page)
    finally:
        shared_relay.check()
    packets = [parse_packet(d) for d in datagrams]
    assert {p.channel for p in packets} == {27}  # type: ignore[attr-defined]
    assert sum(isinstance(p, AlertPacket) for p in packets) == 31
    assert sum(isinstance(p, EndPacket) for p in packets) == 12
    _codec, audio, _frames = expected_audio(datagrams)
    assert_spoken(audio, chime=True)


def test_say_box_without_the_chime_and_for_a_token_that_may_not_talk(
    shared_relay: SharedRelay, browser: Browser
) -> None:
    port, relay = shared_relay.port, shared_relay.process
    talker = shared_relay.token("Desk", "talk")
    listener = shared_relay.token("Ward", "listen")
    try:
        with UdpCapture(port) as capture:
            page = open_page(browser, relay.url + "/")
            sign_in(page, talker)
            page.get_by_label("Text to say").fill(TEXT)
            page.get_by_label("Chime first").uncheck()
            page.get_by_role("button", name="Say", exact=True).click()
            expect(page.locator("#say-state")).to_have_text(
                re.compile(r"^Sent the text on All staff \(26\): \d\.\d s\.$"), timeout=20_000
            )
            datagrams = [d for _, d in capture.wait_quiet()]
            no_page_errors(page)
            other = open_page(browser, relay.url + "/")
            sign_in(other, listener)
            expect(other.get_by_role("button", name="Say", exact=True)).to_be_disabled()
    finally:
        shared_relay.check()
    _codec, audio, _frames = expected_audio(datagrams)
    assert_spoken(audio)
