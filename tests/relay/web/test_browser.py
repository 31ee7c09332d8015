"""The web page in a real Chromium against a real ``polyptt relay``, as a person uses it.

Everything runs inside the test network namespace: the relay on 127.0.0.1, ``polyptt
listen --record`` beside it (what the phones would hear), ``polyptt send`` for pages
from the LAN. The page is driven by role and label, so these tests double as a check
that every control has an accessible name. The only fake is the microphone: Chromium
plays a WAV file as its capture device (no sound card can be spoken into here).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from playwright.sync_api import Browser, Page, Playwright, expect
from tests.support.audio_devices import align, one_clean_run
from tests.support.browser import (
    CHANNELS,
    DESKTOP,
    PHONE,
    launch,
    no_page_errors,
    open_page,
    probe,
    screenshot,
    sign_in,
    tapped_audio,
)
from tests.support.listen import start_listen
from tests.support.processes import polyptt_command, polyptt_env
from tests.support.relay import (
    RelayProcess,
    SharedRelay,
    add_token,
    revoke_token,
    start_relay,
    write_config,
)
from tests.support.relay_audio import SPEECH
from tests.support.udp_capture import UdpCapture, free_port

from polyptt.protocol import DEFAULT_GROUP, AlertPacket, EndPacket, TransmitPacket, parse_packet

pytestmark = pytest.mark.network


def _config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "relay", CHANNELS)


def _loud_stretches(pcm: np.ndarray, rate: int = 16000) -> list[tuple[int, int]]:
    """(start, stop) of the stretches of `pcm` above -30 dBFS (20 ms at a time) that last
    0.15 s or more, less 20 ms at each end.

    A live page may skip quiet audio to catch up after its alerts
    (`polyptt.audio.catchup`), never audio above -30 dBFS: these stretches arrive whole.
    """
    window = rate // 50
    levels = np.array(
        [
            np.sqrt(np.mean((pcm[i : i + window].astype(float) / 32768) ** 2))
            for i in range(0, len(pcm) - window + 1, window)
        ]
    )
    loud = [*(levels > 10 ** (-30 / 20)), False]
    stretches, begin = [], None
    for index, flag in enumerate(loud):
        if flag and begin is None:
            begin = index
        elif not flag and begin is not None:
            if index - begin >= 0.15 * rate / window:
                stretches.append(((begin + 1) * window, (index - 1) * window))
            begin = None
    return stretches


@pytest.mark.exclusive  # Chromium's capture starved by parallel tests garbles the speech
def test_talk_from_the_browser_is_paged_with_its_first_word(
    tmp_path: Path, shared_relay: SharedRelay, playwright: Playwright
) -> None:
    """Hold Talk for the length of the speech: the LAN records it from its first word."""
    port, relay = shared_relay.port, shared_relay.process
    token = shared_relay.token("Reception", "listen,talk")
    listening = start_listen(tmp_path / "rec", "--count", "1", "--timeout", "40", port=port)
    reference = soundfile.read(SPEECH, dtype="int16")[0]
    # The person starts speaking 0.3 s after pressing Talk, while the alerts (0.93 s)
    # still go out: a page that opened the microphone only after them would miss it.
    microphone = tmp_path / "speaker.wav"
    soundfile.write(microphone, np.concatenate([np.zeros(4800, "int16"), reference]), 16000)
    try:
        with launch(playwright, microphone) as browser:
            page = open_page(browser, relay.url + "/")
            sign_in(page, token)
            screenshot(page, tmp_path, "web-desktop-idle")
            # the raw microphone: echo cancellation and noise suppression would change
            # the speech this test compares (they stay on by default for people)
            page.get_by_label("Echo cancellation, noise suppression and automatic gain").uncheck()
            page.get_by_label("Channel").select_option(label="Kitchen (27)")
            page.get_by_role("button", name="Talk").hover()
            pressed = time.monotonic()
            page.mouse.down()
            expect(page.locator("#talk-state")).to_have_text("Talking", timeout=5000)
            expect(page.locator("#talk-timer")).to_have_text("0:01", timeout=3000)
            # the level meter moves with the voice
            page.wait_for_function("() => document.getElementById('level').value > 0.05")
            screenshot(page, tmp_path, "web-desktop-talking")
            # let go half a second after the speech ended (the microphone opened at the
            # press; it plays 0.3 s of quiet, then the speech)
            time.sleep(max(0.0, pressed + 0.3 + len(reference) / 16000 + 0.5 - time.monotonic()))
            page.mouse.up()
            expect(page.locator("#talk-state")).to_contain_text("Last page", timeout=10_000)
            no_page_errors(page)
        assert listening.wait() == 0
    finally:
        shared_relay.check()
    ((meta, audio),) = listening.recordings().values()
    assert (meta["caller_id"], meta["channel"], meta["end_reason"]) == (
        "Reception",
        27,
        "end_packets",
    )
    assert meta["frames_concealed"] == 0
    # The relay may shorten pauses to catch up after the alerts, so the speech is
    # compared stretch by stretch, in order, from its first word (at 0.12 s) on.
    stretches = _loud_stretches(reference)
    assert len(stretches) >= 8
    assert stretches[0][0] < 0.2 * 16000
    lags = []
    for start, stop in stretches:
        lag, corr = align(audio, reference[start:stop])
        assert corr > 0.9, (start, stop, corr)
        lags.append(lag)
    assert lags == sorted(lags)


def _tone(path: Path, frequency: float, amplitude: float, seconds: float) -> Path:
    t = np.arange(int(seconds * 16000)) / 16000
    soundfile.write(path, amplitude * np.sin(2 * np.pi * frequency * t), 16000, subtype="PCM_16")
    return path


def _send(
    port: int, wav: Path, channel: int, caller_id: str, serial: str = "0x3000"
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        polyptt_command(
            "send",
            "--channel",
            str(channel),
            "--caller-id",
            caller_id,
            "--serial",
            serial,
            "--to",
            f"{DEFAULT_GROUP}:{port}",
            str(wav),
        ),
        env=polyptt_env(),
    )


def test_heard_page_is_listed_and_played_whole(
    tmp_path: Path, shared_relay: SharedRelay, browser: Browser
) -> None:
    """A LAN page shows with caller id and channel; the worklet plays it gap-free."""
    port, relay = shared_relay.port, shared_relay.process
    token = shared_relay.token("Monitor", "listen")
    tone = _tone(tmp_path / "tone.wav", 1000, 0.3, 3.0)
    try:
        page = open_page(browser, relay.url + "/")
        sign_in(page, token)
        expect(page.get_by_role("button", name="Talk")).to_be_disabled()
        expect(page.locator("#talk-error")).to_have_text("Not allowed: this token may not talk.")
        probe(page, "p.startTap()")
        sender = _send(port, tone, 27, "Lobby")
        live = page.locator("#live-pages li")
        expect(live).to_have_count(1, timeout=5000)
        expect(live).to_contain_text("Kitchen · Lobby · heard")
        expect(live.get_by_role("button", name="Mute Kitchen")).to_have_attribute(
            "aria-pressed", "false"
        )
        assert sender.wait(timeout=30) == 0
        expect(live).to_have_count(0, timeout=5000)
        recent = page.locator("#recent-pages li").first
        expect(recent).to_contain_text("Kitchen · Lobby · heard · 0:03")
        time.sleep(0.5)  # the jitter buffer's last 80 ms played out
        played, rate = tapped_audio(page)
        wav_url = recent.get_by_label("Recording of the page from Lobby").get_attribute("src")
        assert wav_url is not None
        answer = page.request.get(relay.url + wav_url)  # with the session cookie
        assert answer.status == 200
        assert answer.headers["content-type"] == "audio/wav"
        assert answer.body()[:4] == b"RIFF"
        no_page_errors(page)
    finally:
        shared_relay.check()
    loud = np.flatnonzero(np.abs(played) > 0.05)
    tone_part = played[loud[0] : loud[-1] + 1]
    assert abs(len(tone_part) / rate - 3.0) < 0.05  # all of it, nothing dropped or doubled
    middle = tone_part[int(0.1 * rate) : -int(0.1 * rate)]
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
    peak = np.argmax(spectrum) * rate / len(middle)
    assert abs(peak - 1000) < 2
    level_db = 20 * np.log10(np.sqrt(np.mean(middle**2)) / (0.3 / np.sqrt(2)))
    assert abs(level_db) < 1.0
    # no gap and no click at any frame join: every 5 ms of the tone at the same level
    window = rate // 200
    levels = [
        np.sqrt(np.mean(middle[i : i + window] ** 2))
        for i in range(0, len(middle) - window, window)
    ]
    spread_db = 20 * np.log10(max(levels) / min(levels))
    assert spread_db < 1.0
    # ... and nothing but the tone (a click spreads over the whole spectrum)
    bins = np.fft.rfftfreq(len(middle), 1 / rate)
    near = np.abs(bins - 1000) < 50
    noise_db = 10 * np.log10(np.sum(spectrum[~near] ** 2) / np.sum(spectrum[near] ** 2))
    assert noise_db < -30


def test_wrong_token_is_refused_and_sound_waits_for_a_gesture(
    shared_relay: SharedRelay, playwright: Playwright
) -> None:
    relay = shared_relay.process
    token = shared_relay.token("Monitor", "listen")
    try:
        with launch(playwright, autoplay=False) as browser:
            page = open_page(browser, relay.url + "/")
            page.get_by_label("Token").fill("not-a-token")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("alert")).to_have_text(
                "This token was refused. Check it and try again."
            )
            expect(page.get_by_role("button", name="Talk")).to_be_hidden()
            expect(page.get_by_role("button", name="Sign in")).to_be_visible()
            sign_in(page, token)
            # back later (a new tab: no gesture yet): the session cookie signs in, and the
            # page says that sound waits for a click, until there is one
            page = open_page(browser, relay.url + "/", storage_state=page.context.storage_state())
            expect(page.locator("#connection")).to_have_text("Connected.")
            expect(page.get_by_text("Signed in as Monitor")).to_be_visible()
            locked = page.get_by_text("Sound is off until you click, tap or press a key.")
            expect(locked).to_be_visible()
            page.get_by_role("heading", name="Listen").click()
            expect(locked).to_be_hidden()
            no_page_errors(page)
    finally:
        shared_relay.check()


def test_busy_channel_and_refusal_are_said_keyboard_only(
    shared_relay: SharedRelay, playwright: Playwright
) -> None:
    """Signed in and talking with the keyboard alone; a busy channel says who has it,
    a refused talk says why."""
    relay = shared_relay.process
    token = shared_relay.token("Reception", "talk", channels=[26, 27])
    blocker = shared_relay.token("Gatehouse", "talk")
    try:
        with launch(playwright, SPEECH) as browser:
            page = open_page(browser, relay.url + "/")
            expect(page.get_by_label("Token")).to_be_focused()  # the page puts it there
            page.keyboard.type(token)
            page.keyboard.press("Enter")
            expect(page.locator("#connection")).to_have_text("Connected.")
            sending = subprocess.Popen(
                polyptt_command(
                    "send", "--relay", relay.url, "--token", blocker, "--channel", "26", str(SPEECH)
                ),
                env=polyptt_env(),
                stdout=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 10
            while relay.request("GET", "/healthz")[1]["talkers"] < 1:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            page.locator("body").focus()
            page.keyboard.down("Space")
            expect(page.locator("#talk-state")).to_have_text(
                "Busy: channel 26 is busy (Gatehouse is talking)"
            )
            page.keyboard.up("Space")
            assert sending.wait(timeout=30) == 0
            # free again: Space held talks
            page.keyboard.down("Space")
            expect(page.locator("#talk-state")).to_have_text("Talking", timeout=5000)
            page.keyboard.up("Space")
            expect(page.locator("#talk-state")).to_contain_text("Last page", timeout=10_000)
            # a picker gone stale (the token's channels changed since sign-in): the
            # relay refuses, and the page says why
            page.evaluate(
                "document.getElementById('channel').add(new Option('Gate (40)', '40', true, true))"
            )
            page.locator("body").focus()
            page.keyboard.down("Space")
            expect(page.locator("#talk-error")).to_have_text(
                "Not allowed: this token may not talk on channel 40"
            )
            page.keyboard.up("Space")
            expect(page.locator("#talk-state")).to_have_text("Idle")
            no_page_errors(page)
    finally:
        shared_relay.check()


def _packets(datagrams: list[tuple[float, bytes]]) -> list[object]:
    return [parse_packet(d) for _, d in datagrams]


def test_emergency_channel_asks_first_on_a_phone(
    tmp_path: Path, shared_relay: SharedRelay, playwright: Playwright
) -> None:
    """An emergency page needs the scope, then a yes in the page's own dialog."""
    port, relay = shared_relay.port, shared_relay.process
    token = shared_relay.token("Security", "talk,emergency")
    plain = shared_relay.token("Reception", "talk")
    try:
        with launch(playwright, SPEECH) as browser, UdpCapture(port) as capture:
            page = open_page(
                browser, relay.url + "/", viewport=PHONE, is_mobile=True, has_touch=True
            )
            sign_in(page, plain)
            options = page.get_by_label("Channel").locator("option").all_text_contents()
            assert "Emergency (50) (emergency)" not in options
            assert len(options) == 46  # every channel but 24, 25, 49, 50
            page.get_by_role("button", name="Sign out").click()
            sign_in(page, token)
            screenshot(page, tmp_path, "web-phone-idle")
            page.get_by_label("Channel").select_option(label="Emergency (50) (emergency)")
            talk = page.get_by_role("button", name="Talk")
            talk.tap()
            dialog = page.get_by_role("dialog", name="Emergency page")
            expect(dialog).to_be_visible()
            dialog.get_by_role("button", name="Cancel").click()
            expect(dialog).to_be_hidden()
            time.sleep(0.5)
            assert capture.packets == []  # nothing was sent
            talk.tap()
            dialog.get_by_role("button", name="Page now").click()
            expect(page.locator("#talk-state")).to_have_text("Talking", timeout=5000)
            screenshot(page, tmp_path, "web-phone-talking")
            talk.tap()  # latched: the next press ends it
            expect(page.locator("#talk-state")).to_contain_text("Last page", timeout=10_000)
            datagrams = capture.wait_quiet()
            no_page_errors(page)
    finally:
        shared_relay.check()
    packets = _packets(datagrams)
    assert {p.channel for p in packets} == {50}  # type: ignore[attr-defined]
    assert sum(isinstance(p, AlertPacket) for p in packets) == 31
    assert sum(isinstance(p, EndPacket) for p in packets) == 12
    assert sum(isinstance(p, TransmitPacket) for p in packets) > 25


#: Collects every text of the connection line with its time (epoch ms), from now on.
_WATCH_CONNECTION = """() => {
    const text = (id) => document.getElementById(id)?.textContent ?? '';
    window.connectionTexts = [];
    const note = () => window.connectionTexts.push(
        [Date.now(), text('connection'), text('reconnect')]);
    new MutationObserver(note).observe(document.querySelector('main'),
        { childList: true, characterData: true, subtree: true });
}"""


def _countdown(page: Page) -> list[int]:
    """The seconds of each "Reconnecting in N s…" shown so far, in order."""
    texts = page.evaluate("window.connectionTexts")
    shown = [int(t[2].split()[2]) for t in texts if t[2].startswith("Reconnecting in ")]
    return [n for i, n in enumerate(shown) if i == 0 or shown[i - 1] != n]


def _counts_down_and_retries_now(page: Page, attempts: list[float]) -> None:
    """The relay is away: the waits grow, one of 2 s or more counts down a second at a
    time, and Retry now makes an attempt at once (which fails: the relay is away)."""
    page.wait_for_function(
        "() => /^Reconnecting in [2-9] s…$/.test(document.getElementById('reconnect').textContent)",
        timeout=10_000,
    )
    first = _countdown(page)[-1]
    page.wait_for_function(
        "(text) => document.getElementById('reconnect').textContent === text",
        arg=f"Reconnecting in {first - 1} s…",
        timeout=1500,
    )
    tried = len(attempts)
    page.get_by_role("button", name="Retry now").click()
    clicked = time.monotonic()
    while len(attempts) == tried:
        assert time.monotonic() - clicked < 0.5, "Retry now made no attempt"
        page.wait_for_timeout(20)
    expect(page.locator("#reconnect")).to_contain_text("Reconnecting in ")


def test_page_reconnects_within_2_s_of_the_relay_answering(
    tmp_path: Path, browser: Browser
) -> None:
    """The relay is away for 7 s: the page backs off (the wait counts down each second,
    Retry now tries at once), and is back within 2 s of the relay answering again, in
    the same session (a restart signs nobody out)."""
    port = free_port()
    config = _config(tmp_path)
    token = add_token(config, "Monitor", "listen")
    relay = start_relay(config, udp_port=port)
    tone = _tone(tmp_path / "tone.wav", 800, 0.3, 1.0)
    try:
        page = open_page(browser, relay.url + "/")
        sign_in(page, token)
        attempts: list[float] = []
        page.on("websocket", lambda _socket: attempts.append(time.monotonic()))
        page.evaluate(_WATCH_CONNECTION)
        retry = page.get_by_role("button", name="Retry now")
        expect(retry).to_be_hidden()
        assert relay.stop() == 128 + signal.SIGTERM
        away = time.monotonic()
        status = page.locator("#connection")
        expect(status).to_have_text("Disconnected from the relay.")
        _counts_down_and_retries_now(page, attempts)
        time.sleep(max(0.0, away + 7 - time.monotonic()))
        relay = start_relay(config, udp_port=port, port=int(relay.url.rsplit(":", 1)[1]))
        answered = time.time()  # start_relay returns once /healthz answers
        # the session outlives the restart (kept in the relay's database, docs/security.md):
        # the page is connected again within 2 s of the relay answering, signed in
        expect(status).to_have_text("Connected.", timeout=10_000)
        assert time.time() - answered <= 2.0
        expect(page.locator("#reconnect")).to_have_text("")
        expect(retry).to_be_hidden()
        expect(page.get_by_label("Token")).to_be_hidden()
        assert _send(port, tone, 27, "Lobby").wait(timeout=30) == 0
        expect(page.locator("#recent-pages li").first).to_contain_text("Kitchen · Lobby")
        # a revoked token: the relay closes the connection, the page signs out
        revoke_token(config, "Monitor")
        expect(page.get_by_role("alert")).to_have_text(
            "Your session has ended: sign in again.", timeout=10_000
        )
        expect(page.get_by_label("Token")).to_be_visible()
        no_page_errors(page)
    finally:
        relay.stop()


def test_a_tab_kept_open_to_talk_outlives_the_idle_timeout_quietly(
    tmp_path: Path, playwright: Playwright
) -> None:
    """The relay closes a connection that neither listens nor talks for idle_s (here
    0.5 s); a page left open to talk comes back at once, shows no drop, and talks."""
    port = free_port()
    config = write_config(tmp_path / "relay", CHANNELS + "[limits]\nidle_s = 0.5\n")
    token = add_token(config, "Desk", "talk", channels=[26])
    relay = start_relay(config, udp_port=port)
    try:
        with launch(playwright, SPEECH) as browser, UdpCapture(port) as capture:
            page = open_page(browser, relay.url + "/")
            sockets: list[object] = []
            page.on("websocket", lambda socket: sockets.append(socket))
            page.evaluate(
                """() => {
                    const status = document.getElementById('connection');
                    window.statusTexts = [];
                    new MutationObserver(() => window.statusTexts.push(status.textContent))
                        .observe(status, { childList: true, characterData: true, subtree: true });
                }"""
            )
            sign_in(page, token)
            page.wait_for_timeout(2500)
            assert len(sockets) >= 3  # closed for idleness, back at once, and again
            texts = page.evaluate("window.statusTexts")
            assert not [t for t in texts if "Disconnected" in t], texts
            expect(page.locator("#connection")).to_have_text("Connected.")
            talk = page.get_by_role("button", name="Talk")
            talk.hover()
            page.mouse.down()
            expect(page.locator("#talk-state")).to_have_text("Talking", timeout=5000)
            page.wait_for_timeout(1000)
            page.mouse.up()
            expect(page.locator("#talk-state")).to_contain_text("Last page", timeout=10_000)
            packets = _packets(capture.wait_quiet())
            no_page_errors(page)
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
    assert sum(isinstance(p, AlertPacket) for p in packets) == 31
    assert sum(isinstance(p, EndPacket) for p in packets) == 12


def test_insecure_origin_and_missing_or_refused_microphone_are_explained(
    shared_relay: SharedRelay, playwright: Playwright
) -> None:
    port, relay = shared_relay.port, shared_relay.process
    token = shared_relay.token("Reception", "listen,talk")
    http_port = relay.url.rsplit(":", 1)[1]
    try:
        with UdpCapture(port) as capture:
            with launch(
                playwright, grant=False, args=["--host-resolver-rules=MAP relay.test 127.0.0.1"]
            ) as bare:
                # plain HTTP away from localhost: no microphone and no worklets; say so,
                # and still list the pages
                page = open_page(bare, f"http://relay.test:{http_port}/")
                expect(page.get_by_role("alert").first).to_contain_text("Open it over HTTPS")
                sign_in(page, token)
                expect(page.get_by_role("button", name="Talk")).to_be_disabled()
                expect(page.get_by_role("heading", name="Listen")).to_be_visible()
                no_page_errors(page)
                # localhost is a secure context, but this browser has no microphone
                page = open_page(bare, relay.url + "/")
                sign_in(page, token)
                expect(page.locator("#insecure")).to_be_hidden()
                page.get_by_role("button", name="Talk").click()
                expect(page.locator("#talk-error")).to_have_text(
                    "No microphone was found. Connect one, or pick another under Microphone."
                )
                expect(page.locator("#talk-state")).to_have_text("Idle")
                no_page_errors(page)
            with launch(playwright, SPEECH, grant=False) as browser:
                # a microphone, but the user says no to it
                page = browser.new_context(viewport=DESKTOP).new_page()
                page.goto(relay.url + "/")
                sign_in(page, token)
                page.get_by_role("button", name="Talk").click()
                expect(page.locator("#talk-error")).to_contain_text("Microphone access was denied")
                expect(page.locator("#talk-state")).to_have_text("Idle")
            time.sleep(0.3)
            assert capture.packets == []  # no alert without a microphone
    finally:
        shared_relay.check()


def test_upload_pages_the_file(tmp_path: Path, shared_relay: SharedRelay, browser: Browser) -> None:
    port, relay = shared_relay.port, shared_relay.process
    token = shared_relay.token("Reception", "talk")
    tone = _tone(tmp_path / "tone.wav", 600, 0.3, 1.0)
    try:
        with UdpCapture(port) as capture:
            page = open_page(browser, relay.url + "/")
            sign_in(page, token)
            page.get_by_text("Page with an audio file").click()
            page.get_by_label("Audio file").set_input_files(tone)
            page.get_by_role("button", name="Page with file").click()
            state = page.locator("#upload-state")
            expect(state).to_have_text("Paging tone.wav on All staff (26)…")
            capture.wait_for(31 + 12, timeout=15)
            datagrams = capture.wait_quiet()
            # once the page has ended, the page says so, and how long it was
            expect(state).to_have_text("Sent tone.wav on All staff (26): 1.0 s.")
            no_page_errors(page)
    finally:
        shared_relay.check()
    packets = _packets(datagrams)
    assert {p.channel for p in packets} == {26}  # type: ignore[attr-defined]
    assert sum(isinstance(p, EndPacket) for p in packets) == 12
    assert sum(isinstance(p, TransmitPacket) for p in packets) == 34  # 1 s in 30 ms frames


def _longest_run(flags: np.ndarray) -> tuple[int, int]:
    """(start, stop) of the longest stretch of True in `flags`."""
    best, start = (0, 0), None
    for index, flag in enumerate([*flags.tolist(), False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            best = max(best, (start, index), key=lambda run: run[1] - run[0])
            start = None
    return best


def test_volume_and_channel_mute_change_what_is_played(
    tmp_path: Path, shared_relay: SharedRelay, browser: Browser
) -> None:
    """The volume slider and a channel's Mute change what the page plays.

    What Chromium played is measured from its audio thread, which a loaded 2-core VM now
    and then starves (silence in a few full parallel runs, never alone): one clean run in
    three must pass (`tests.support.audio_devices.one_clean_run`), as for the other
    real-device scenarios.
    """
    one_clean_run(
        lambda folder: _volume_and_channel_mute_change_what_is_played(
            folder, shared_relay, browser
        ),
        tmp_path,
    )


def _volume_and_channel_mute_change_what_is_played(
    tmp_path: Path, shared_relay: SharedRelay, browser: Browser
) -> None:
    port, relay = shared_relay.port, shared_relay.process
    token = shared_relay.token("Monitor", "listen")
    tone = _tone(tmp_path / "tone.wav", 1000, 0.3, 4.0)
    try:
        page = open_page(browser, relay.url + "/")
        sign_in(page, token)
        probe(page, "p.startTap()")
        sender = _send(port, tone, 27, "Lobby")
        live = page.locator("#live-pages li")
        expect(live).to_have_count(1, timeout=5000)
        time.sleep(0.93 + 1.2)  # listed from its alerts; the tone follows them
        page.get_by_label("Volume").fill("0.5")
        time.sleep(1.2)
        mute = live.get_by_role("button", name="Mute Kitchen")
        mute.click()
        expect(mute).to_have_attribute("aria-pressed", "true")
        assert sender.wait(timeout=30) == 0
        expect(live).to_have_count(0, timeout=5000)
        played, rate = tapped_audio(page)
        no_page_errors(page)
    finally:
        shared_relay.check()
    window = rate // 50
    levels_db = np.array(
        [
            20 * np.log10(np.sqrt(np.mean(played[i : i + window] ** 2)) / (0.3 / np.sqrt(2)) + 1e-9)
            for i in range(0, len(played) - window, window)
        ]
    )
    full = _longest_run(np.abs(levels_db) < 0.5)
    half = _longest_run(np.abs(levels_db + 6.02) < 0.5)
    assert full[1] - full[0] > 40  # > 0.8 s at full volume, then
    assert half[1] - half[0] > 40  # > 0.8 s at half volume (-6 dB), then
    assert full[1] <= half[0] + 2
    after = levels_db[half[1] + 2 :]  # muted: nothing until the page ended
    assert len(after) > 50
    assert np.all(after < -60)


@pytest.mark.exclusive  # measures what Chromium played: needs an idle CPU
def test_what_is_heard_is_muted_while_talking(
    tmp_path: Path, shared_relay: SharedRelay, playwright: Playwright
) -> None:
    """What is heard is muted while the page talks (no echo into its own page); one
    clean run in three, for the reason the volume test gives."""
    one_clean_run(
        lambda folder: _what_is_heard_is_muted_while_talking(folder, shared_relay, playwright),
        tmp_path,
    )


def _what_is_heard_is_muted_while_talking(
    tmp_path: Path, shared_relay: SharedRelay, playwright: Playwright
) -> None:
    port, relay = shared_relay.port, shared_relay.process
    token = shared_relay.token("Reception", "listen,talk")
    tone = _tone(tmp_path / "tone.wav", 1000, 0.3, 5.0)
    try:
        with launch(playwright, SPEECH) as browser:
            page = open_page(browser, relay.url + "/")
            sign_in(page, token)
            probe(page, "p.startTap()")
            sender = _send(port, tone, 27, "Lobby")
            expect(page.locator("#live-pages li")).to_have_count(1, timeout=5000)
            time.sleep(0.93 + 1.0)
            page.get_by_role("button", name="Talk").hover()  # on 26, while 27 is heard
            page.mouse.down()
            expect(page.locator("#talk-state")).to_have_text("Talking", timeout=5000)
            page.mouse.up()
            expect(page.locator("#talk-state")).to_contain_text("Last page", timeout=10_000)
            assert sender.wait(timeout=30) == 0
            expect(page.locator("#live-pages li")).to_have_count(0, timeout=5000)
            played, rate = tapped_audio(page)
            no_page_errors(page)
    finally:
        shared_relay.check()
    window = rate // 50
    loud = np.array(
        [
            np.sqrt(np.mean(played[i : i + window] ** 2)) > 0.1
            for i in range(0, len(played) - window, window)
        ]
    )
    edges = np.flatnonzero(np.diff(loud.astype(int)))
    # tone, silence while talking (the alerts and the talk: > 0.9 s), tone again
    assert len(edges) == 4, edges
    assert edges[2] - edges[1] > 45
    assert edges[1] - edges[0] > 40
    assert edges[3] - edges[2] > 20


def test_two_pages_on_one_channel_share_one_mute_button(tmp_path: Path, browser: Browser) -> None:
    port = free_port()
    config = _config(tmp_path)
    token = add_token(config, "Monitor", "listen")
    relay = start_relay(config, udp_port=port)
    tone = _tone(tmp_path / "tone.wav", 1000, 0.3, 3.0)
    try:
        page = open_page(browser, relay.url + "/")
        sign_in(page, token)
        now = page.get_by_role("list", name="Now")
        # two senders on Kitchen at once (a phone plays one): one Mute for Kitchen
        senders = [_send(port, tone, 27, "Lobby"), _send(port, tone, 27, "Gate", "0x3001")]
        expect(now.get_by_role("listitem")).to_have_count(2, timeout=5000)
        mute = now.get_by_role("button", name="Mute Kitchen")
        expect(mute).to_have_count(1)
        mute.click()
        expect(mute).to_have_attribute("aria-pressed", "true")
        assert [sender.wait(timeout=30) for sender in senders] == [0, 0]
        expect(now.get_by_role("listitem")).to_have_count(0, timeout=5000)
        no_page_errors(page)
    finally:
        assert relay.stop() == 128 + signal.SIGTERM


def test_your_own_talk_is_listed_without_a_mute_button(
    tmp_path: Path, playwright: Playwright
) -> None:
    """You never hear yourself, so there is nothing to mute; and who is signed in is
    said once."""
    config = _config(tmp_path)
    token = add_token(config, "Reception", "listen,talk")
    relay = start_relay(config, udp_port=free_port())
    try:
        with launch(playwright, SPEECH) as browser:
            page = open_page(browser, relay.url + "/")
            sign_in(page, token)
            now = page.get_by_role("list", name="Now")
            page.get_by_label("Latch: press once to start talking, again to stop").check()
            page.get_by_role("button", name="Talk").click()
            expect(page.locator("#talk-state")).to_have_text("Talking", timeout=5000)
            expect(now.get_by_role("listitem")).to_have_text(
                re.compile(r"^All staff · Reception · sent by you")
            )
            expect(now.get_by_role("button")).to_have_count(0)
            page.get_by_role("button", name="Talk").click()
            expect(page.locator("#talk-state")).to_contain_text("Last page", timeout=10_000)
            expect(now.get_by_role("listitem")).to_have_count(0, timeout=5000)
            expect(page.get_by_text("Signed in as Reception")).to_be_visible()
            expect(page.get_by_text("Connected as")).to_have_count(0)
            no_page_errors(page)
    finally:
        assert relay.stop() == 128 + signal.SIGTERM


def _wait_listed(relay: RelayProcess, token: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(relay.request("GET", "/api/v1/pages", token)[1]["pages"]) < count:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_recent_pages_are_listed_once_each_newest_first(tmp_path: Path, browser: Browser) -> None:
    """A long page already going when the page opens, then a short one that starts
    later and ends first: listed once each, the later start first."""
    port = free_port()
    config = _config(tmp_path)
    token = add_token(config, "Monitor", "listen")
    relay = start_relay(config, udp_port=port, args=["--record", str(tmp_path / "rec")])
    long_tone = _tone(tmp_path / "long.wav", 1000, 0.3, 3.0)
    short_tone = _tone(tmp_path / "short.wav", 600, 0.3, 0.5)
    try:
        long_page = _send(port, long_tone, 27, "Lobby")
        _wait_listed(relay, token, 1)
        page = open_page(browser, relay.url + "/")
        sign_in(page, token)
        short_page = _send(port, short_tone, 28, "Gate", "0x3001")
        assert [long_page.wait(timeout=30), short_page.wait(timeout=30)] == [0, 0]
        recent = page.get_by_role("list", name="Recent pages").get_by_role("listitem")
        expect(recent.nth(1)).to_contain_text("Kitchen · Lobby · heard · 0:03", timeout=5000)
        expect(recent).to_have_count(2)
        expect(recent.nth(0)).to_contain_text("Paging group 3 · Gate · heard · 0:00")
        no_page_errors(page)
    finally:
        assert relay.stop() == 128 + signal.SIGTERM


def test_recordings_show_their_length_before_they_play(tmp_path: Path, browser: Browser) -> None:
    port = free_port()
    config = _config(tmp_path)
    token = add_token(config, "Monitor", "listen")
    relay = start_relay(config, udp_port=port, args=["--record", str(tmp_path / "rec")])
    tone = _tone(tmp_path / "tone.wav", 1000, 0.3, 1.5)
    try:
        page = open_page(browser, relay.url + "/")
        sign_in(page, token)
        assert _send(port, tone, 27, "Lobby").wait(timeout=30) == 0
        player = page.get_by_label("Recording of the page from Lobby")
        expect(player).to_have_count(1, timeout=5000)
        page.wait_for_function(
            "(a) => a.readyState >= 1", arg=player.element_handle(), timeout=5000
        )
        assert abs(player.evaluate("(a) => a.duration") - 1.5) < 0.05
        # signed out and in again: the page is listed once, not once per session
        with page.expect_response(lambda r: r.url.endswith("/signout")) as signed_out:
            page.get_by_role("button", name="Sign out").click()
        assert signed_out.value.status == 204  # the page's own Origin is accepted
        sign_in(page, token)
        recent = page.get_by_role("list", name="Recent pages").get_by_role("listitem")
        expect(recent).to_have_count(1)
        page.wait_for_timeout(300)  # the list fetched at the connection is in
        expect(recent).to_have_count(1)
        no_page_errors(page)
    finally:
        assert relay.stop() == 128 + signal.SIGTERM


def test_on_a_phone_now_shows_without_scrolling_while_a_page_plays(
    tmp_path: Path, browser: Browser
) -> None:
    port = free_port()
    config = _config(tmp_path)
    token = add_token(config, "Reception", "listen,talk")
    relay = start_relay(config, udp_port=port)
    tone = _tone(tmp_path / "tone.wav", 1000, 0.3, 3.0)
    try:
        page = open_page(browser, relay.url + "/", viewport=PHONE, is_mobile=True, has_touch=True)
        sign_in(page, token)
        heading = page.get_by_role("heading", name="Now")
        talk = page.get_by_role("button", name="Talk")
        before = talk.bounding_box()
        sender = _send(port, tone, 27, "Lobby")
        item = page.get_by_role("list", name="Now").get_by_role("listitem")
        expect(item).to_have_count(1, timeout=5000)
        expect(heading).to_be_in_viewport(ratio=1)
        expect(item).to_be_in_viewport(ratio=1)
        expect(item.get_by_role("button", name="Mute Kitchen")).to_be_in_viewport(ratio=1)
        assert page.evaluate("window.scrollY") == 0
        # the Talk button stays where it was, clear of the bar
        assert talk.bounding_box() == before
        bar = page.locator("#now-section").bounding_box()
        assert before is not None
        assert bar is not None
        assert before["y"] + before["height"] <= bar["y"]
        screenshot(page, tmp_path, "web-phone-listening")
        assert sender.wait(timeout=30) == 0
        expect(item).to_have_count(0, timeout=5000)
        expect(heading).to_be_hidden()  # nothing paged: no bar
        no_page_errors(page)
    finally:
        assert relay.stop() == 128 + signal.SIGTERM
