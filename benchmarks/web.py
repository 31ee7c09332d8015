"""The latency a user of the web page feels, measured in the same browser the tests drive.

Usage (sends packets: inside the private network namespace)::

    PYTHONPATH=src tools/isolated python benchmarks/web.py [--talks 8] [--json]

A real ``polyptt relay`` on 127.0.0.1, Debian's chromium-headless-shell driven by
Playwright (as tests/relay/web), the wire captured with kernel receive timestamps
(`tests.support.udp_capture.UdpCapture`). The fake microphone plays short 1 kHz bursts four
times a second with digital silence between them, so each burst's first frame can be
found both in the browser (the page's ``probe.sent``: the time each 20 ms frame left
for the relay, with its peak) and on the wire (the transmit packet whose decoded audio
starts the burst). Clocks: the browser's ``performance.timeOrigin + now()`` and the
kernel's stamps are both the system's wall clock.

press-to-alert
    From pressing Talk (the pointer's press, in the page) to the first alert on the
    wire. The first talk also opens the microphone (``cold``); later ones reuse it.
    Goal p50 <= 100 ms.
frame-to-wire
    From a frame leaving the capture worklet to the wire arrival of the packet carrying
    it, once the alerts are over, for a talker who waits for them (half the talks:
    the bursts start 1.3 s after the press). Goal p50 <= 80 ms.
spoke-at-once
    The same for a talker who starts at the press (the other half): what was said
    during the alerts is sent after them (``backlog``), and the page catches up in the
    pauses (`polyptt.audio.catchup`): ``spoke_at_once`` is every burst after the alerts,
    catching up included.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.browser import CHROMIUM, launch, open_page, probe, sign_in  # noqa: E402
from tests.support.relay import add_token, start_relay, write_config  # noqa: E402
from tests.support.udp_capture import UdpCapture, free_port  # noqa: E402

from polyptt import codecs  # noqa: E402
from polyptt.protocol import AlertPacket, TransmitPacket, parse_packet  # noqa: E402

GOALS = {"press_to_alert_p50_ms": 100.0, "frame_to_wire_p50_ms": 80.0}
RATE = 48000
BURST_S = 0.012
PERIOD_S = 0.25
TALK_S = 4.0
EVERY_S = TALK_S + 2.0  # one talk starts every EVERY_S seconds of the microphone's file
CHIRP_S = 1.3  # who waits for the alerts (0.93 s) starts this long after the press
ONSET = 0.1  # a frame whose peak passes this after a silent frame starts a burst
SILENT = 0.01


def burst_file(path: Path, talks: int) -> Path:
    """Bursts of a 1 kHz tone at -6 dBFS every PERIOD_S during each talk, silence between.

    Talk k is pressed k * EVERY_S after the microphone opened (at the first press). In
    even talks the bursts start once the alerts are over (a talker who waits for the
    chirp); in odd ones at the press (a talker who speaks at once).
    """
    pcm = np.zeros(int((talks * EVERY_S + 2) * RATE), dtype=np.float32)
    burst = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(int(BURST_S * RATE)) / RATE)
    index = 0
    for talk in range(talks):
        first = talk * EVERY_S + (CHIRP_S if talk % 2 == 0 else 0.1)
        for start in np.arange(first, talk * EVERY_S + TALK_S - 0.3, PERIOD_S):
            # 7 ms later each time: the bursts fall at every position within a frame
            at = int((start + (index * 0.007) % 0.02) * RATE)
            pcm[at : at + len(burst)] = burst
            index += 1
    soundfile.write(path, pcm, RATE, subtype="PCM_16")
    return path


def onsets(peaks: list[float]) -> list[int]:
    """Indexes of the frames that start a burst."""
    return [
        i
        for i in range(1, len(peaks))
        if peaks[i] >= ONSET and max(peaks[max(0, i - 3) : i]) < SILENT
    ]


def wire_frames(datagrams: list[tuple[float, bytes]]) -> tuple[list[float], list[float], float]:
    """Arrival time and decoded peak of each transmitted frame; the last alert's arrival."""
    times, frames, last_alert = [], [], 0.0
    for when, data in datagrams:
        packet = parse_packet(data)
        if isinstance(packet, AlertPacket):
            last_alert = when
        elif isinstance(packet, TransmitPacket):
            _, frame = packet.split(len(frames[-1]) if frames else 0)
            frames.append(frame)
            times.append(when)
    pcm = codecs.decode("g722", b"".join(frames)).astype(np.float64) / 32768
    size = len(pcm) // len(frames)
    peaks = [float(np.max(np.abs(pcm[i * size : (i + 1) * size]))) for i in range(len(frames))]
    return times, peaks, last_alert


def ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run(talks: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="polyptt-web-bench-"))
    port = free_port()
    config = write_config(tmp / "relay")
    token = add_token(config, "Bench", "talk")
    microphone = burst_file(tmp / "bursts.wav", talks)
    relay = start_relay(config, udp_port=port)
    press: list[float] = []
    waited: list[float] = []  # frame to wire, talker waited for the alerts
    at_once: list[float] = []  # ... talker spoke at once: after the alerts
    backlog: list[float] = []  # ... talker spoke at once: during the alerts
    try:
        with sync_playwright() as playwright, launch(playwright, microphone) as browser:
            page = open_page(browser, relay.url + "/")
            sign_in(page, token)
            page.get_by_label("Echo cancellation, noise suppression and automatic gain").uncheck()
            talk = page.get_by_role("button", name="Talk")
            talk.hover()
            origin = time.monotonic()
            for number in range(talks):
                time.sleep(max(0.0, origin + number * EVERY_S - time.monotonic()))
                with UdpCapture(port) as capture:
                    probe(page, "(p.sent = [])")
                    page.mouse.down()
                    time.sleep(TALK_S)
                    page.mouse.up()
                    page.locator("#talk-state").filter(has_text="Last page").wait_for()
                    datagrams = capture.wait_quiet()
                pressed = probe(page, "p.pressed") / 1000
                sent = probe(page, "p.sent")
                first_alert = next(
                    t for t, d in datagrams if isinstance(parse_packet(d), AlertPacket)
                )
                press.append((first_alert - pressed) * 1000)
                times, peaks, last_alert = wire_frames(datagrams)
                browser_onsets = onsets([peak for _, peak in sent])
                wire_onsets = onsets(peaks)
                if len(browser_onsets) != len(wire_onsets):
                    print(
                        f"  talk {number} left out: {len(browser_onsets)} bursts sent, "
                        f"{len(wire_onsets)} on the wire",
                        file=sys.stderr,
                    )
                    continue
                for b, w in zip(browser_onsets, wire_onsets, strict=True):
                    sent_at = sent[b][0] / 1000
                    delay = (times[w] - sent_at) * 1000
                    if number % 2 == 0:
                        waited.append(delay)
                    else:
                        (at_once if sent_at > last_alert else backlog).append(delay)
    finally:
        relay.stop()
    return {
        "press_to_alert_cold_ms": press[0],
        "press_to_alert_p50_ms": ms(press[1:], 50),
        "press_to_alert_max_ms": max(press[1:]),
        "frame_to_wire_p50_ms": ms(waited, 50),
        "frame_to_wire_p90_ms": ms(waited, 90),
        "frame_to_wire_max_ms": max(waited) if waited else float("nan"),
        "frame_to_wire_bursts": len(waited),
        "spoke_at_once_p50_ms": ms(at_once, 50),
        "spoke_at_once_p90_ms": ms(at_once, 90),
        "spoke_at_once_bursts": len(at_once),
        "backlog_p50_ms": ms(backlog, 50),
        "backlog_max_ms": max(backlog) if backlog else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--talks", type=int, default=8, help="talks (the first is cold)")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args()
    from playwright._repo_version import version as playwright_version

    if not args.json:
        print(f"python {platform.python_version()}, playwright {playwright_version}, {CHROMIUM}")
        print(f"{args.talks} talks of {TALK_S:g} s; bursts every {PERIOD_S * 1000:g} ms")
        print("even talks start the bursts after the alerts, odd ones at the press")
    result = run(args.talks)
    if args.json:
        print(json.dumps({**result, "goals": GOALS}))
        return
    for name, value in result.items():
        goal = GOALS.get(name)
        verdict = "" if goal is None else (" ok" if value <= goal else f" MISSES {goal:g}")
        print(f"{name:28s} {value:8.1f}{verdict}")


if __name__ == "__main__":
    main()
