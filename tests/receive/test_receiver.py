"""The receiving core fed datagrams directly: pages, ends, timeouts, filters, garbage."""

from __future__ import annotations

import random

import numpy as np
import pytest
from tests.support.synthetic import build_page

from polyptt.protocol import CodecId, EndPacket
from polyptt.receive.receiver import Receiver
from polyptt.receive.session import Page

SOURCE = ("10.0.0.5", 40000)


class ByteDecoder:
    """Stands in for G.711: one byte -> one sample, so audio can be checked by value."""

    def __init__(self, name: str) -> None:
        self.name = name

    @staticmethod
    def decode(data: bytes) -> np.ndarray:
        return np.frombuffer(data, dtype=np.uint8).astype(np.int16)


class Log:
    """A listener that remembers everything."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Page]] = []
        self.audio: dict[object, list[np.ndarray]] = {}

    def page_started(self, page: Page) -> None:
        self.events.append(("start", page))
        self.audio[page.key] = []

    def page_audio(self, page: Page, pcm: np.ndarray, now: float) -> None:
        self.audio[page.key].append(pcm)

    def page_ended(self, page: Page) -> None:
        self.events.append(("end", page))

    def pcm(self, page: Page) -> bytes:
        return np.concatenate(self.audio[page.key]).astype(np.uint8).tobytes()


def make_receiver(**options) -> tuple[Receiver, Log]:
    log = Log()
    return Receiver([log], decoder_factory=ByteDecoder, **options), log


def g711_page(count: int = 10, seed: int = 1, **options):
    rng = random.Random(seed)
    frames = [rng.randbytes(160) for _ in range(count)]
    return build_page(frames, codec=CodecId.G711U, step=160, **options)


def play(receiver: Receiver, datagrams, *, source=SOURCE, start=0.0, interval=0.02) -> float:
    now = start
    for data in datagrams:
        receiver.feed(now, source, data)
        receiver.tick(now)
        now += interval
    return now


def test_a_page_from_alert_to_end_packets():
    page = g711_page(alerts=31, ends=12, caller_id="Front desk")
    receiver, log = make_receiver()
    play(receiver, page.datagrams)
    assert [kind for kind, _ in log.events] == ["start", "end"]
    heard = log.events[0][1]
    assert log.pcm(heard) == b"".join(page.frames)
    assert heard.start == 0.0
    assert heard.end == pytest.approx(0.02 * (31 + 10))  # the first end packet
    assert heard.summary() == {
        "channel": 26,
        "priority": "normal",
        "caller_id": "Front desk",
        "serial": 0x12345678,
        "source": "10.0.0.5:40000",
        "codec": "g711u",
        "frame_ms": 20,
        "duration_s": 0.2,
        "packets": 31 + 10 + 1,
        "frames": 10,
        "frames_repaired": 0,
        "frames_concealed": 0,
        "duplicates": 0,
        "late": 0,
        "end_reason": "end_packets",
    }
    # the other 11 end packets are the page's, as a sender repeats them: not stray
    assert (receiver.stats.stray, receiver.stats.packets) == (0, 31 + 10 + 12)
    assert receiver.pages == {}


def test_silence_ends_a_page_after_the_timeout():
    page = g711_page(ends=0)
    receiver, log = make_receiver(page_timeout=1.0)
    now = play(receiver, page.datagrams)
    last = now - 0.02
    assert receiver.next_deadline() == pytest.approx(last + 1.0)
    receiver.tick(last + 0.999)
    assert len(log.events) == 1
    receiver.tick(last + 1.0)
    ended = log.events[-1][1]
    assert ended.end_reason == "timeout"
    assert ended.end == last
    assert log.pcm(ended) == b"".join(page.frames)


def test_interrupted_pages_are_flushed():
    page = g711_page(ends=0)
    receiver, log = make_receiver()
    play(receiver, page.datagrams[:-1])
    receiver.close(5.0)
    ended = log.events[-1][1]
    assert (ended.end_reason, ended.end) == ("interrupted", 5.0)
    assert log.pcm(ended) == b"".join(page.frames[:-1])


def test_a_new_alert_after_the_end_starts_a_new_page_but_stragglers_do_not():
    page = g711_page()
    receiver, log = make_receiver()
    now = play(receiver, page.datagrams)
    now = play(receiver, page.transmits[-2:] + page.ends, start=now)
    assert len(log.events) == 2
    play(receiver, page.datagrams, start=now)
    assert [kind for kind, _ in log.events] == ["start", "end", "start", "end"]


def test_concurrent_pages_are_told_apart_by_source_serial_and_channel():
    pages = [
        (g711_page(seed=1), SOURCE),
        (g711_page(seed=2, serial=0xABCDEF01), SOURCE),
        (g711_page(seed=3, channel=27), SOURCE),
        (g711_page(seed=4), ("10.0.0.6", 40000)),
        (g711_page(seed=5), ("10.0.0.5", 40001)),
    ]
    receiver, log = make_receiver()
    for index in range(len(pages[0][0].datagrams)):
        for page, source in pages:
            receiver.feed(index * 0.02, source, page.datagrams[index])
    started = [page for kind, page in log.events if kind == "start"]
    ended = [page for kind, page in log.events if kind == "end"]
    assert len(started) == len(ended) == 5
    for (page, _), heard in zip(pages, started, strict=True):
        assert log.pcm(heard) == b"".join(page.frames)
        assert heard.end_reason == "end_packets"


def test_channel_filter():
    receiver, log = make_receiver(channels={1, 24, *range(26, 30)})
    play(receiver, g711_page(channel=30).datagrams)
    play(receiver, g711_page(channel=29).datagrams, start=10)
    assert [page.channel for kind, page in log.events] == [29, 29]
    assert receiver.stats.filtered == len(g711_page().datagrams)


def test_garbage_is_counted_by_cause_and_never_raises():
    receiver, log = make_receiver()
    good = g711_page().transmits[0]
    for data in [b"", b"\x0f", b"\x42" * 20, good[:23], b"\x10\x33" + good[2:], good[:20]]:
        receiver.feed(0.0, SOURCE, data)
    assert dict(receiver.stats.rejected) == {
        "short header": 2,
        "unknown op code": 1,
        "short audio header": 2,
        "channel out of range": 1,
    }
    assert log.events == []


def test_page_table_is_bounded():
    receiver, _ = make_receiver(max_pages=4)
    for serial in range(10):
        receiver.feed(0.0, SOURCE, bytes(EndPacket(26, serial)).replace(b"\xff", b"\x0f", 1))
    assert len(receiver.pages) == 4
    assert receiver.stats.refused == 6


def test_header_prediction_takes_the_steady_state_of_a_clean_page():
    page = g711_page(count=50)
    receiver, log = make_receiver()
    play(receiver, page.datagrams)
    # the first packets teach the frame size and open the prediction; the rest are taken
    assert receiver.stats.predicted >= 47
    assert log.pcm(log.events[0][1]) == b"".join(page.frames)


def _hostile_network(seed: int) -> list[tuple[float, tuple[str, int], bytes]]:
    """Two pages from one source and one from another, lossy, disordered and forged."""
    rng = random.Random(seed)
    pages = [
        (g711_page(count=40, seed=seed, start_count=0xFFFFF000), SOURCE),
        (g711_page(count=40, seed=seed + 1, channel=27), SOURCE),
        (g711_page(count=40, seed=seed + 2, serial=7), ("10.0.0.9", 5001)),
    ]
    traffic = []
    for page, source in pages:
        for index, data in enumerate(page.datagrams):
            late = rng.uniform(0.02, 0.06) if rng.random() < 0.05 else 0.0  # reordered
            traffic.append((index * 0.02 + rng.uniform(0, 0.005) + late, source, data))
    forged = []
    for _ in range(60):  # same identity as a real packet; count, length, codec or bytes off
        when, source, data = rng.choice(traffic)
        if data[0] != 0x10:
            continue
        body = bytearray(data)
        change = rng.randrange(5)
        if change == 0:  # a count nearby: next, previous, or off the grid
            count = int.from_bytes(body[22:26], "big") + rng.choice((160, -160, 80, 320))
            body[22:26] = (count % (1 << 32)).to_bytes(4, "big")
        elif change == 1:
            body = body[: rng.randrange(26, len(body))]
        elif change == 2:
            body[20] = int(CodecId.G722)
        elif change == 3:
            body[rng.randrange(26, len(body))] ^= 0xFF
        else:
            body += bytes(rng.randrange(1, 200))
        forged.append((when + rng.uniform(-0.03, 0.03), source, bytes(body)))
    traffic += forged
    traffic.sort(key=lambda item: item[0])
    lossy = []
    for item in traffic:
        roll = rng.random()
        if roll < 0.05:
            continue  # lost
        lossy.append(item)
        if roll > 0.95:
            lossy.append(item)  # duplicated
    return lossy


@pytest.mark.parametrize("seed", range(40))
def test_header_prediction_changes_nothing_but_the_work(seed):
    """The shortcut must give exactly what the general path gives, whatever arrives."""
    traffic = _hostile_network(seed)
    results = []
    for predicting in (True, False):
        log = Log()
        receiver = Receiver([log], decoder_factory=ByteDecoder, header_prediction=predicting)
        for now, source, data in traffic:
            receiver.feed(now, source, data)
            receiver.tick(now)
        receiver.close(traffic[-1][0] + 5)
        stats = receiver.stats
        results.append(
            (
                [(kind, page.key, page.summary(), page.dropped) for kind, page in log.events],
                {key: np.concatenate(chunks).tobytes() for key, chunks in log.audio.items()},
                (stats.packets, stats.rejected, stats.stray, stats.discarded, stats.pages),
                stats.predicted,
            )
        )
    (events, audio, counts, predicted), (events_off, audio_off, counts_off, none) = results
    assert (events, audio, counts) == (events_off, audio_off, counts_off)
    assert none == 0
    assert predicted >= 10  # the shortcut was really taken (15-85 of ~110 transmits)


def test_frames_taken_by_the_shortcut_wait_for_flush_in_order_and_bounded():
    page = g711_page(count=100, ends=0)
    receiver, log = make_receiver()
    for index, data in enumerate(page.alerts + page.transmits):
        receiver.feed(index * 0.02, SOURCE, data)
    heard = log.events[0][1]
    so_far = b"".join(chunk.astype(np.uint8).tobytes() for chunk in log.audio[heard.key])
    waiting = len(page.frames) * 160 - len(so_far)
    assert 0 < waiting <= 32 * 160  # never more than a bounded number of frames held
    assert so_far == b"".join(page.frames)[: len(so_far)]
    receiver.flush()
    assert log.pcm(heard) == b"".join(page.frames)
    receiver.flush()  # nothing twice
    assert log.pcm(heard) == b"".join(page.frames)
