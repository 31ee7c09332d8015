"""A live page catches up with its talker in the pauses only (polyptt.audio.catchup).

The talk is simulated on the pacer's own terms: 10 ms chunks fed as a microphone feeds
them, 0.93 s of them while the alerts go out, then one `next_frame` per 30 ms frame with
the chunks captured meanwhile. The audio is G.711 at its own rate, so the framer passes
samples to the encoder untouched and every claim can be checked exactly: the page is the
talk with the skipped spans cut out, byte for byte.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from tests.support.audio_devices import sounddevice_or_skip

from polyptt import protocol
from polyptt.audio.catchup import CatchUp, for_capture
from polyptt.audio.framer import Framer
from polyptt.audio.live import LiveFrames, Microphone

RATE = 8000
CHUNK = 80  # 10 ms
FRAME_MS = 30
FRAME = RATE * FRAME_MS // 1000
ALERT_CHUNKS = round(protocol.ALERT_COUNT * protocol.ALERT_INTERVAL_S * 100)  # 93


def talk(pattern: list[tuple[float, float]], *, noise_db: float = -70.0, seed: int = 1):
    """Talkspurts and pauses: (seconds, dBFS of a 440 Hz tone or None-like -inf) pieces,
    over a noise floor; returns int16 audio and a mask of the loud samples."""
    rng = np.random.default_rng(seed)
    pieces, loud = [], []
    for seconds, level_db in pattern:
        n = round(seconds * RATE)
        noise = rng.normal(0, 32768 * 10 ** (noise_db / 20), n)
        t = np.arange(n) / RATE
        tone = 0.0 if level_db == -np.inf else 32768 * 10 ** (level_db / 20) * np.sqrt(2)
        pieces.append(noise + tone * np.sin(2 * np.pi * 440 * t))
        loud.append(np.full(n, level_db != -np.inf))
    audio = np.clip(np.round(np.concatenate(pieces)), -32768, 32767).astype(np.int16)
    return audio, np.concatenate(loud)


def run_talk(audio: np.ndarray, **kwargs) -> tuple[LiveFrames, list[bytes], list[int]]:
    """Feed `audio` as a microphone would while a pacer takes its frames; the frames and,
    for each, how many input samples were captured but not yet sent (the page's lag)."""
    live = LiveFrames(Framer("g711u", FRAME_MS), **kwargs)
    chunks = [audio[i : i + CHUNK] for i in range(0, len(audio), CHUNK)]
    fed = 0
    for chunk in chunks[:ALERT_CHUNKS]:  # captured while the alerts go out
        live.feed(chunk)
        fed += len(chunk)
    frames, lags = [], []
    rest = chunks[ALERT_CHUNKS:]
    while True:
        talking = bool(rest)
        for chunk in rest[:3]:
            live.feed(chunk)
            fed += len(chunk)
        rest = rest[3:]
        if not rest:
            live.close()
        frame = live.next_frame()
        if frame == b"":
            return live, frames, lags
        if frame is not None:
            frames.append(frame)
            sent = len(frames) * FRAME + sum(length for _at, length in live.skipped)
            if talking:  # not the backlog's last frames, after the talk
                lags.append(fed - sent)


def cut(audio: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    keep = np.ones(len(audio), dtype=bool)
    for start, length in spans:
        keep[start : start + length] = False
    return audio[keep]


def encoded(audio: np.ndarray) -> list[bytes]:
    framer = Framer("g711u", FRAME_MS)
    return framer.push(audio) + framer.flush()


SPEECH = [(0.3, -15.0), (0.4, -np.inf)] * 8 + [(0.3, -15.0), (0.2, -np.inf)]


def test_speaking_at_once_catches_up_in_the_pauses_and_keeps_every_loud_sample() -> None:
    audio, loud = talk(SPEECH)
    live, frames, lags = run_talk(audio, catch_up=True)
    # the page is the talk with the skipped spans cut out, bit for bit: nothing else changed
    assert frames == encoded(cut(audio, live.skipped))
    skipped = np.zeros(len(audio), dtype=bool)
    for start, length in live.skipped:
        skipped[start : start + length] = True
        # inside a pause: after its first 70 ms (hangover), before the next word's 30 ms
        assert not loud[max(0, start - 560) : start + length + 240].any()
    assert not (skipped & loud).any()
    # caught up within the first four pauses (each can give 0.4 - 0.07 - 0.03 s) ...
    caught_up = next(i for i, lag in enumerate(lags) if lag <= FRAME + 240 + CHUNK)
    assert caught_up * FRAME_MS / 1000 < 4 * 0.7
    # ... and it stays caught up: at most a frame, the kept 30 ms and a chunk behind
    assert max(lags[caught_up:]) <= FRAME + 240 + CHUNK
    # what was skipped is the alerts' backlog less what is kept
    assert sum(length for _at, length in live.skipped) >= ALERT_CHUNKS * CHUNK - FRAME - 320


def test_a_talker_who_waits_for_the_chirp_is_caught_up_from_the_first_frame() -> None:
    audio, _loud = talk([(1.2, -np.inf), *SPEECH])
    live, frames, lags = run_talk(audio, catch_up=True)
    assert frames == encoded(cut(audio, live.skipped))
    assert max(lags) <= FRAME + 240 + CHUNK
    # the quiet captured during the alerts is skipped from its very start, down to what a
    # frame and the kept 30 ms need
    (start, length), *_ = live.skipped
    assert start == 0
    assert length >= ALERT_CHUNKS * CHUNK - FRAME - 240


def test_a_noisy_room_counts_as_quiet_and_speech_over_it_does_not() -> None:
    audio, loud = talk(SPEECH, noise_db=-45.0)
    live, frames, lags = run_talk(audio, catch_up=True)
    assert frames == encoded(cut(audio, live.skipped))
    assert live.skipped
    for start, length in live.skipped:
        assert not loud[start : start + length].any()
    assert lags[-1] <= FRAME + 240 + CHUNK


def test_speech_without_pauses_is_never_cut_and_stays_behind() -> None:
    audio, _loud = talk([(4.0, -20.0)])
    live, frames, lags = run_talk(audio, catch_up=True)
    assert live.skipped == []
    assert frames == encoded(audio)
    assert min(lags) >= ALERT_CHUNKS * CHUNK - FRAME


def test_without_catch_up_every_sample_is_sent() -> None:
    audio, _loud = talk(SPEECH)
    live, frames, lags = run_talk(audio, catch_up=False)
    assert live.skipped == []
    assert frames == encoded(audio)
    assert min(lags) >= ALERT_CHUNKS * CHUNK - FRAME


@pytest.mark.parametrize("keep_s", [0.02, 0.06])
def test_the_kept_lag_is_the_talks_own_setting(keep_s: float) -> None:
    audio, _loud = talk([(1.5, -np.inf), *SPEECH])
    live, frames, lags = run_talk(audio, catch_up=CatchUp(RATE, keep_s=keep_s))
    assert frames == encoded(cut(audio, live.skipped))
    keep = round(keep_s * RATE)
    assert max(lags) <= FRAME + keep + CHUNK
    assert max(lags) >= keep  # it does not skip below what it keeps


# ---------------------------------------------------------------- a talker across a network


class NetworkTalk:
    """The real blocking pacer on a simulated clock, fed 20 ms messages as a WebSocket
    talker's arrive: on time, except a stall of `stall_s` every second once the talker
    has been caught up, after which the held messages arrive at once. The talker starts
    `start_s` after the key press (after the alerts: the page has no audio waiting)."""

    def __init__(
        self, live: LiveFrames, audio: np.ndarray, stall_s: float, start_s: float = 0.0
    ) -> None:
        self.live, self.time, self.sent = live, 0.0, []
        message = RATE // 50
        self.arrivals = []
        for index, start in enumerate(range(0, len(audio), message)):
            due = index * 0.02
            stalled = due >= 2.0 and (due % 1.0) < stall_s
            arrival = due - (due % 1.0) + stall_s if stalled else due
            self.arrivals.append((start_s + arrival, audio[start : start + message]))
        self.fed = 0

    @property
    def paced(self) -> bool:
        return True

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.time += max(seconds, 1e-4)
        while self.fed < len(self.arrivals) and self.arrivals[self.fed][0] <= self.time:
            self.live.feed(self.arrivals[self.fed][1])
            self.fed += 1
        if self.fed == len(self.arrivals):
            self.live.close()

    def send(self, datagram: bytes, offset: float) -> None:
        self.sent.append((self.time, datagram[0]))

    def gaps(self) -> int:
        """Transmit packets that left later than a frame after the one before."""
        times = [t for t, op in self.sent if op == protocol.OpCode.TRANSMIT]
        return sum(b - a > 0.02 + 0.005 for a, b in itertools.pairwise(times))


def network_talk(
    catch_up: CatchUp, stall_s: float = 0.12, start_s: float = 0.0
) -> tuple[NetworkTalk, CatchUp]:
    from polyptt.send import PageParams, send_page

    audio, _loud = talk([(1.2, -np.inf)] + [(0.6, -15.0), (0.4, -np.inf)] * 8)
    talk_ = None
    live = LiveFrames(Framer("g711u", 20), catch_up=catch_up, clock=lambda: talk_.time)
    talk_ = NetworkTalk(live, audio, stall_s, start_s)
    params = PageParams(26, 1, "net", protocol.CodecId.G711U, 20)
    send_page(live, params, sink=talk_, clock=talk_, realtime=False)
    return talk_, catch_up


def test_a_talker_who_stalls_now_and_then_is_given_a_cushion_after_the_first_stall() -> None:
    """Caught up to 30 ms, each 120 ms stall leaves the page without a frame (a gap the
    phones hear), unless the page learns: after a stall it keeps 1.5 times what it went
    without, and the next stalls find audio waiting."""
    fixed, fixed_catch_up = network_talk(CatchUp(RATE))
    assert fixed.gaps() == fixed_catch_up.dry_spells == 8  # every stall, 2 s to 9 s
    learning, learning_catch_up = network_talk(CatchUp(RATE, max_keep_s=0.3))
    assert learning.gaps() == learning_catch_up.dry_spells <= 2
    assert 0.03 * RATE < learning_catch_up.kept <= 0.3 * RATE


def test_a_few_milliseconds_late_is_not_a_dry_spell() -> None:
    """A WebSocket's ordinary timing (4 ms late now and then, under a quarter of a
    frame) is no gap the phones hear: the page neither grows its cushion nor refills,
    which would put it 30 ms and more behind the talker for nothing."""

    def lag(talk_: NetworkTalk) -> float:
        """How long the last transmit left after its audio arrived."""
        transmits = [t for t, op in talk_.sent if op == protocol.OpCode.TRANSMIT]
        return transmits[-1] - talk_.arrivals[-1][0]

    # the talker starts after the alerts: frames go out as they come, none waiting
    on_time, _ = network_talk(CatchUp(RATE, max_keep_s=0.3), stall_s=0.0, start_s=1.0)
    assert lag(on_time) < 0.002
    jittery, catch_up = network_talk(CatchUp(RATE, max_keep_s=0.3), stall_s=0.004, start_s=1.0)
    assert (jittery.gaps(), catch_up.dry_spells, catch_up.kept) == (0, 0, round(0.03 * RATE))
    assert lag(jittery) < 0.01  # the schedule slipped by the stall; a refill costs 30 ms
    late, catch_up = network_talk(CatchUp(RATE, max_keep_s=0.3), stall_s=0.008, start_s=1.0)
    assert catch_up.dry_spells >= 1  # 8 ms: the page learns, and refills
    assert lag(late) >= 0.03


def test_a_microphone_keeps_20_ms_and_learns_from_a_device_that_delivers_in_fits() -> None:
    sounddevice_or_skip()
    microphone = Microphone("g722", 30)  # the virtual microphone
    try:
        catch_up = microphone.frames.catch_up
        assert catch_up is not None
        assert catch_up.adaptive
        assert catch_up.kept == round(0.02 * microphone.samplerate)
    finally:
        microphone.close()
    # a capture that stalls 60 ms every second: a gap each time with a fixed 20 ms; the
    # capture's page learns (and, easing back, is caught out again now and then)
    fixed, _ = network_talk(CatchUp(RATE, keep_s=0.02), stall_s=0.06)
    assert fixed.gaps() == 8
    learning, catch_up = network_talk(for_capture(RATE), stall_s=0.06)
    assert learning.gaps() == catch_up.dry_spells <= 3


def test_what_is_kept_eases_back_once_the_audio_comes_on_time() -> None:
    catch_up = CatchUp(RATE, max_keep_s=0.3)
    catch_up.ran_dry(0.1)
    assert catch_up.kept == round(0.18 * RATE)
    catch_up.framed(RATE * 10)  # 10 s on time: 0.1 s less
    assert catch_up.kept == round(0.08 * RATE)
    catch_up.framed(RATE * 60)
    assert catch_up.kept == round(0.03 * RATE)
    catch_up.ran_dry(1.0)
    assert catch_up.kept == round(0.3 * RATE)  # never more than max_keep_s
