"""The worklets' resampler (web/resample.js), run in the browser on pure tones.

The module is loaded from the package into a page of a made-up origin that Playwright
answers itself (no server, no network); the tones are made and measured in the page.
Down from the usual device rates to 16 kHz: a 1 kHz tone keeps its level, tones at
7.9 kHz and above (which would fold back into the voice band) are gone. Up from
16 kHz: the level holds and no image appears above 8 kHz.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources

import pytest
from playwright.sync_api import Browser, Page, Route

WEB = resources.files("polyptt.relay").joinpath("web")
ORIGIN = "http://polyptt.test"

MEASURE = """async ([inRate, outRate, frequency, chunk]) => {
    const { Resampler } = await import('/resample.js');
    const resampler = new Resampler(inRate, outRate);
    const input = new Float32Array(inRate);  // one second, amplitude 0.5
    for (let i = 0; i < input.length; i++) {
        input[i] = 0.5 * Math.sin(2 * Math.PI * frequency * i / inRate);
    }
    const parts = [];
    for (let i = 0; i < input.length; i += chunk) {
        parts.push(resampler.process(input.subarray(i, i + chunk)));
    }
    const output = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { output.set(p, at); at += p.length; }
    const middle = output.subarray(outRate / 10, output.length - outRate / 10);
    let power = 0;
    for (const v of middle) power += v * v;
    const db = 10 * Math.log10(power / middle.length / 0.125);  // against the input's 0.5 peak
    return { db, length: output.length, sum: output.reduce((a, b) => a + b, 0) };
}"""


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    def answer(route: Route) -> None:
        name = route.request.url.removeprefix(ORIGIN + "/") or "blank"
        if name == "blank":
            route.fulfill(body="<!doctype html><title>resampler</title>", content_type="text/html")
        else:
            route.fulfill(body=WEB.joinpath(name).read_bytes(), content_type="text/javascript")

    tab = browser.new_page()
    tab.route(ORIGIN + "/**", answer)
    tab.goto(ORIGIN + "/")
    yield tab
    tab.close()


@pytest.mark.parametrize("rate", [48000, 44100, 32000, 96000])
def test_down_to_16k_keeps_the_voice_band_and_stops_above_it(page: Page, rate: int) -> None:
    kept = page.evaluate(MEASURE, [rate, 16000, 1000, 128])
    assert abs(kept["db"]) < 0.05
    assert abs(kept["length"] - 16000) < 64  # one second in, one second out (less the delay)
    edge = page.evaluate(MEASURE, [rate, 16000, 6500, 128])
    assert abs(edge["db"]) < 0.1  # G.722's band is 7 kHz
    for frequency in (7900, 9000, 12000, 15000):
        if frequency < rate / 2:
            gone = page.evaluate(MEASURE, [rate, 16000, frequency, 128])
            assert gone["db"] < -60, frequency


def test_up_from_16k_keeps_the_level_without_images(page: Page) -> None:
    for rate in (48000, 44100):
        kept = page.evaluate(MEASURE, [16000, rate, 1000, 320])
        assert abs(kept["db"]) < 0.05
        # 7.9 kHz is past the band edge: gone, and with it its image at 8.1 kHz
        near = page.evaluate(MEASURE, [16000, rate, 7900, 320])
        assert near["db"] < -60


def test_streaming_is_the_same_in_any_chunks(page: Page) -> None:
    results = {
        chunk: page.evaluate(MEASURE, [48000, 16000, 440, chunk]) for chunk in (1, 7, 128, 48000)
    }
    assert len({r["length"] for r in results.values()}) == 1
    assert len({r["sum"] for r in results.values()}) == 1  # bit for bit
