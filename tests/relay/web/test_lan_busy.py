"""The web page against a real relay while a page heard on the LAN holds the channel.

Talk on that channel is refused before anything goes on air, and the page says who has
the channel, as it does for another of the relay's talkers. Driven by role and label in
a real Chromium (see tests/support/browser.py); the microphone is a WAV file.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import Playwright, expect
from tests.support.browser import launch, no_page_errors, open_page, sign_in
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.relay import RELAY_SERIAL, add_token, start_relay, write_config
from tests.support.relay_audio import SPEECH
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.protocol import DEFAULT_GROUP, parse_packet

pytestmark = pytest.mark.network


def test_talk_over_a_lan_page_says_busy_with_the_caller(
    tmp_path: Path, playwright: Playwright
) -> None:
    port = free_port()
    config = write_config(tmp_path / "relay", '[channels]\n27 = "Kitchen"\n')
    token = add_token(config, "Reception", "listen,talk", channels=[26, 27])
    relay = start_relay(config, udp_port=port)
    try:
        with launch(playwright, SPEECH) as browser, UdpCapture(port) as capture:
            page = open_page(browser, relay.url + "/")
            sign_in(page, token)
            page.get_by_label("Channel").select_option(label="Kitchen (27)")
            sender = subprocess.Popen(
                polyptt_command(
                    "send", "--to", f"{DEFAULT_GROUP}:{port}", "-c", "27", "--serial", "0x100",
                    "--caller-id", "Holder", str(SPEECH),
                ),
                env=polyptt_env(),
            )  # fmt: skip
            deadline = time.monotonic() + 10
            while not any(
                p["direction"] == "heard" and "end" not in p
                for p in relay.request("GET", "/api/v1/pages", token)[1]["pages"]
            ):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            page.locator("body").focus()
            page.keyboard.down("Space")
            expect(page.locator("#talk-state")).to_have_text(
                "Busy: channel 27 is busy (Holder is talking)"
            )
            page.keyboard.up("Space")
            assert sender.poll() is None  # refused while the LAN page went on
            assert sender.wait(timeout=30) == 0
            packets = capture.wait_quiet()
            no_page_errors(page)
    finally:
        relay.stop()
    serials = {parse_packet(d).serial for _, d in packets}
    assert serials == {0x100}  # nothing of the relay's (RELAY_SERIAL) went out
    assert RELAY_SERIAL not in serials
