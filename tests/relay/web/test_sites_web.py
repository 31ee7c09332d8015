"""The web page with sites (issue 23): a site picker for talk and uploads, and a Hear
filter for the pages shared by other sites, against two real relays joined over a real
``nats-server`` (their LANs on two multicast ports of the loopback, as in
``tests/relay/test_sites.py``)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from playwright.sync_api import Browser, expect
from tests.support.browser import CHANNELS, no_page_errors, open_page, sign_in
from tests.support.nats import NatsServer, nats_server  # noqa: F401 (the fixture)
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.relay_audio import SPEECH
from tests.support.sites import Site, joined, lan_packets, site_config, token
from tests.support.udp_capture import WireSniffer, free_port

from polyptt.protocol import DEFAULT_GROUP

pytestmark = pytest.mark.network


@pytest.fixture
def two_sites(tmp_path: Path, nats_server: NatsServer) -> Iterator[dict[str, Site]]:  # noqa: F811
    """North and south; south shares channel 27."""
    sites = {}
    for name, extra in (("north", CHANNELS), ("south", "share = [27]\n" + CHANNELS)):
        config = site_config(tmp_path, name, nats_server.url, extra)
        sites[name] = Site(name, free_port(), config)
    with joined(sites):
        yield sites


def test_the_page_picks_sites_and_filters_what_it_hears(
    tmp_path: Path, two_sites: dict[str, Site], browser: Browser
) -> None:
    north, south = two_sites["north"], two_sites["south"]
    assert north.relay is not None
    secret = token(north, "Office", "south")
    tone = tmp_path / "tone.wav"
    t = np.arange(16000) / 16000
    soundfile.write(tone, (0.3 * np.sin(2 * np.pi * 600 * t) * 32767).astype("int16"), 16000)
    page = open_page(browser, north.relay.url + "/")
    sign_in(page, secret)
    picker = page.get_by_label("Sites")
    expect(picker.locator("option")).to_have_text(["This site (north)", "south"])
    with WireSniffer() as sniffer:
        picker.select_option("south")
        page.get_by_text("Page with an audio file").click()
        page.get_by_label("Audio file").set_input_files(tone)
        page.get_by_role("button", name="Page with file").click()
        expect(page.locator("#upload-state")).to_have_text(
            "Sent tone.wav on All staff (26): 1.0 s.", timeout=20_000
        )
        page.wait_for_timeout(500)  # south's end packets
    counts = lan_packets(sniffer, south.port)
    assert (counts["AlertPacket"], counts["EndPacket"]) == (31, 12), counts
    assert lan_packets(sniffer, north.port) == {}
    # a phone's page on south's LAN, shared: listed at north with its site
    hear = page.get_by_label("Hear")
    expect(hear.locator("option")).to_have_text(["Every site", "This site (north)", "south"])
    lan = ["-c", "27", "--caller-id", "Gym", "--serial", "0x300", str(SPEECH)]
    send = polyptt_command("send", "-q", "--to", f"{DEFAULT_GROUP}:{south.port}", *lan)
    phone = subprocess.Popen(send, env=polyptt_env())
    live = page.locator("#live-pages")
    expect(live).to_contain_text("Gym · heard · at south", timeout=10_000)
    assert phone.wait(timeout=30) == 0
    expect(live).to_be_empty(timeout=10_000)
    # heard only from north: south's next page is not in Now (nor played)
    hear.select_option("north")
    phone = subprocess.Popen(send, env=polyptt_env())
    page.wait_for_timeout(2500)
    expect(live).to_be_empty()
    assert phone.wait(timeout=30) == 0
    expect(page.locator("#recent-pages")).to_contain_text("at south")
    no_page_errors(page)
