"""The web page's "Recent pages" read the relay's page store: they survive a restart of
the relay, each player shows its recording's length (WAVs served with their length and
range requests), "Load more" lists the older ones, and a channel filter lists one
channel's pages: picked before "Load more", so that the store filters them (the first
answer has the channel's 20 newest, which the 20 newest of all do not hold; "Load
more" then brings the channel's older ones). A real relay process, a real Chromium."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from playwright.sync_api import Browser, Page, expect
from tests.support.browser import CHANNELS, no_page_errors, open_page, sign_in
from tests.support.relay import add_token, free_tcp_port, start_relay, write_config
from tests.support.relay_audio import CHIME
from tests.support.store import open_store
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.receive.recorder import iso_utc
from polyptt.relay.store.database import DATABASE_NAME

pytestmark = pytest.mark.network

STORED = 30  # pages in the store before the relay starts (20 of them on channel 27)
CHIME_S = soundfile.info(str(CHIME)).duration


def _seconds(page_id: int) -> float:
    """The length of stored page `page_id`'s recording: 1 to 3 s, telling pages apart."""
    return 1.0 + (page_id % 5) * 0.5


def _fill_store(data: Path) -> None:
    """Pages a relay heard earlier, in its store, with their recordings."""
    store = open_store(data / DATABASE_NAME)
    recordings = data / "recordings"
    recordings.mkdir(parents=True)
    first = time.time() - 3600
    for number in range(STORED):
        page_id = store.new_id()
        channel = 26 if page_id % 3 == 0 else 27
        wav = recordings / f"stored{page_id}.wav"
        rate, seconds = 8000, _seconds(page_id)
        tone = np.sin(np.arange(int(rate * seconds)) / 3) * 9000
        soundfile.write(wav, tone.astype(np.int16), rate, subtype="PCM_16")
        start = first + number * 60
        record = {
            "id": page_id,
            "direction": "heard",
            "channel": channel,
            "caller_id": f"Desk {page_id}",
            "start": iso_utc(start),
            "end": iso_utc(start + seconds),
            "duration_s": seconds,
            "end_reason": "end_packets",
            "wav": f"/api/v1/pages/{page_id}.wav",
        }
        store.started(record, wav)
        store.ended(record, wav)
    store.close()
    store.db.close()


def _listed(page: Page) -> list[int]:
    """The ids of the pages listed, in order (from their players' URLs)."""
    sources = page.locator("#recent-pages audio").evaluate_all("(a) => a.map((p) => p.src)")
    return [int(src.rsplit("/", 1)[1].removesuffix(".wav")) for src in sources]


def _durations(page: Page, count: int) -> list[float]:
    """The lengths the first `count` players show, once they read their headers."""
    players = page.locator("#recent-pages audio")
    for index in range(count):
        page.wait_for_function(
            "(a) => a.readyState >= 1", arg=players.nth(index).element_handle(), timeout=5000
        )
    return [float(players.nth(i).evaluate("(a) => a.duration")) for i in range(count)]


def test_recent_pages_survive_a_restart_show_durations_load_more_and_filter(
    tmp_path: Path, browser: Browser
) -> None:
    config = write_config(tmp_path / "relay", CHANNELS)
    talker = add_token(config, "Reception", "listen,talk")
    data = tmp_path / "data"
    _fill_store(data)
    port, http_port = free_port(), free_tcp_port()
    args = ["--data", str(data)]
    relay = start_relay(config, udp_port=port, args=args, port=http_port)
    try:
        with UdpCapture(port):
            status, answer = relay.request(
                "POST", "/api/v1/pages?channel=27&wait=1", talker, CHIME.read_bytes()
            )
        assert status == 200, answer
        sent = answer["page"]
        assert sent == STORED + 1
        page = open_page(browser, relay.url + "/")
        sign_in(page, talker)
        newest = [sent, *range(STORED, STORED - 19, -1)]
        expect(page.locator("#recent-pages audio")).to_have_count(20, timeout=5000)
        assert _listed(page) == newest
        shown = _durations(page, 4)
        expected = [CHIME_S, *(_seconds(i) for i in newest[1:4])]
        assert shown == pytest.approx(expected, abs=0.02)
        more = page.get_by_role("button", name="Load more")
        # the filter first: of the 20 listed, 13 are the kitchen's; the store has 21
        page.get_by_label("Show").select_option(label="Kitchen (27)")
        kitchen = [sent, *(i for i in range(STORED, 0, -1) if i % 3 != 0)]
        assert len(kitchen) == 21
        expect(page.locator("#recent-pages audio")).to_have_count(20)
        assert _listed(page) == kitchen[:20]
        expect(more).to_be_visible()
        more.click()
        expect(page.locator("#recent-pages audio")).to_have_count(len(kitchen))
        assert _listed(page) == kitchen
        expect(more).to_be_hidden()
        for item in page.locator("#recent-pages li").all():
            expect(item).to_contain_text("Kitchen")
        page.get_by_label("Show").select_option(label="All channels")
        expect(page.locator("#recent-pages audio")).to_have_count(20)
        assert _listed(page) == newest
        more.click()
        expect(page.locator("#recent-pages audio")).to_have_count(STORED + 1)
        assert _listed(page) == [sent, *range(STORED, 0, -1)]
        expect(more).to_be_hidden()
        no_page_errors(page)
        page.context.close()

        assert relay.stop() == 128 + signal.SIGTERM
        relay = start_relay(config, udp_port=port, args=args, port=http_port)
        page = open_page(browser, relay.url + "/")
        sign_in(page, talker)
        expect(page.locator("#recent-pages audio")).to_have_count(20, timeout=5000)
        assert _listed(page) == newest  # the same pages, the same ids
        assert _durations(page, 4) == pytest.approx(expected, abs=0.02)
        no_page_errors(page)
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
