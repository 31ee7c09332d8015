"""Listeners that come and go while pages run, and a process that must not hear itself.

The receiver is fed directly (no sockets) with real G.711 packets and decodes with the
real codec: a listener's audio is compared sample for sample with the page's decoded
frames.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from tests.support.synthetic import build_page

from polyptt import codecs
from polyptt.protocol import CodecId
from polyptt.receive.receiver import Receiver
from polyptt.receive.session import Page

SOURCE = US = ("10.0.0.5", 40000)


class Log:
    """Remembers every call, with the audio per page."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Page]] = []
        self.audio: dict[object, list[np.ndarray]] = {}
        self.joined_at: dict[object, int] = {}  # page.samples when told of the page

    def page_started(self, page: Page) -> None:
        self.events.append(("start", page))
        self.audio[page.key] = []
        self.joined_at[page.key] = page.samples

    def page_audio(self, page: Page, pcm: np.ndarray, now: float) -> None:
        self.events.append(("audio", page))
        self.audio[page.key].append(pcm)

    def page_ended(self, page: Page) -> None:
        self.events.append(("end", page))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events if kind != "audio"]

    def pcm(self, page: Page) -> np.ndarray:
        return np.concatenate(self.audio[page.key] or [np.zeros(0, np.int16)])


def g711_page(count: int = 30, seed: int = 1, **options):
    """A page of random G.711 frames, and the audio they decode to."""
    rng = random.Random(seed)
    frames = [rng.randbytes(160) for _ in range(count)]
    page = build_page(frames, codec=CodecId.G711U, step=160, **options)
    return page, codecs.decode("g711u", b"".join(frames))


def feed(receiver: Receiver, datagrams, *, source=SOURCE, start=0.0) -> float:
    """Feed one datagram every 20 ms, applying the clock after each, as the live loop."""
    now = start
    for data in datagrams:
        receiver.feed(now, source, data)
        receiver.tick(now)
        now += 0.02
    return now


def test_a_listener_added_halfway_hears_exactly_the_rest():
    page, expected = g711_page()
    first, late = Log(), Log()
    receiver = Receiver([first])
    half = len(page.alerts) + len(page.transmits) // 2
    now = feed(receiver, page.datagrams[:half])
    receiver.subscribe(late)
    feed(receiver, page.datagrams[half:], start=now)
    (heard,) = [page for kind, page in first.events if kind == "start"]
    assert late.kinds() == ["start", "end"]
    assert late.events[0][1] is heard
    missed = late.joined_at[heard.key]
    assert 0 < missed < len(expected)
    np.testing.assert_array_equal(late.pcm(heard), expected[missed:])
    np.testing.assert_array_equal(first.pcm(heard), expected)
    assert receiver.listeners == (first, late)


def test_a_listener_removed_halfway_gets_no_more_calls():
    page, expected = g711_page()
    staying, leaving = Log(), Log()
    receiver = Receiver([leaving, staying])
    half = len(page.alerts) + len(page.transmits) // 2
    now = feed(receiver, page.datagrams[:half])
    heard = next(iter(receiver.pages.values()))
    removed_at = heard.samples  # all of it handed on: the clock was applied
    assert receiver.unsubscribe(leaving) is True
    calls = len(leaving.events)
    feed(receiver, page.datagrams[half:], start=now)
    assert len(leaving.events) == calls
    assert leaving.kinds() == ["start"]  # no page_ended: the page had not ended
    assert 0 < removed_at < len(expected)
    np.testing.assert_array_equal(leaving.pcm(heard), expected[:removed_at])
    np.testing.assert_array_equal(staying.pcm(heard), expected)
    assert receiver.unsubscribe(leaving) is False  # once is enough
    assert receiver.listeners == (staying,)


def test_subscribing_twice_is_refused():
    log = Log()
    receiver = Receiver([log])
    with pytest.raises(ValueError, match="already subscribed"):
        receiver.subscribe(log)


class _Leaves(Log):
    """Unsubscribes itself after `chunks` chunks of audio."""

    def __init__(self, receiver_of: list[Receiver], chunks: int) -> None:
        super().__init__()
        self._receiver_of = receiver_of
        self._chunks = chunks

    def page_audio(self, page: Page, pcm: np.ndarray, now: float) -> None:
        super().page_audio(page, pcm, now)
        if len(self.audio[page.key]) == self._chunks:
            self._receiver_of[0].unsubscribe(self)


class _Recruits(Log):
    """Subscribes `newcomer` when the first page starts."""

    def __init__(self, receiver_of: list[Receiver], newcomer: Log) -> None:
        super().__init__()
        self._receiver_of = receiver_of
        self._newcomer = newcomer

    def page_started(self, page: Page) -> None:
        super().page_started(page)
        self._receiver_of[0].subscribe(self._newcomer)


def test_listeners_come_and_go_from_inside_callbacks():
    """Changes made during an emission neither break it nor repeat an event: a listener
    subscribed in another's page_started is told of that page once and hears all of
    it; one that leaves in its own page_audio stops there; the rest hear everything."""
    page, expected = g711_page()
    receiver_of: list[Receiver] = []
    newcomer = Log()
    leaver = _Leaves(receiver_of, chunks=3)
    recruiter = _Recruits(receiver_of, newcomer)
    after = Log()
    receiver = Receiver([recruiter, leaver, after])
    receiver_of.append(receiver)
    feed(receiver, page.datagrams)
    heard = recruiter.events[0][1]
    for log in (recruiter, newcomer, after):
        assert log.kinds() == ["start", "end"]
        np.testing.assert_array_equal(log.pcm(heard), expected)
    assert leaver.kinds() == ["start"]
    assert len(leaver.audio[heard.key]) == 3
    np.testing.assert_array_equal(leaver.pcm(heard), expected[: len(leaver.pcm(heard))])
    assert receiver.listeners == (recruiter, after, newcomer)


def test_a_listener_removed_by_another_during_an_event_misses_only_later_events():
    """Snapshot semantics (as Node's EventEmitter): the event in progress still reaches
    it, nothing after."""
    page, _ = g711_page()
    victim = Log()

    class Remover(Log):
        def page_audio(self, page: Page, pcm: np.ndarray, now: float) -> None:
            super().page_audio(page, pcm, now)
            receiver.unsubscribe(victim)

    remover = Remover()
    receiver = Receiver([remover, victim])
    feed(receiver, page.datagrams)
    assert [kind for kind, _ in victim.events] == ["start", "audio"]
    assert remover.events[-1][0] == "end"


def test_a_listener_that_leaves_inside_its_late_page_started_is_not_told_of_more_pages():
    first, _ = g711_page(seed=1)
    second, _ = g711_page(seed=2, channel=27)
    receiver = Receiver([])
    datagrams = [d for pair in zip(first.datagrams, second.datagrams, strict=True) for d in pair]
    feed(receiver, datagrams[:20])
    assert len(receiver.pages) == 2

    class Once(Log):
        def page_started(self, page: Page) -> None:
            super().page_started(page)
            receiver.unsubscribe(self)

    once = Once()
    receiver.subscribe(once)
    assert once.kinds() == ["start"]
    assert receiver.listeners == ()


# ---------------------------------------------------------------- our own pages


def _sources_heard(log: Log) -> list[tuple[tuple[str, int], int]]:
    return sorted((page.key.source, page.key.serial) for kind, page in log.events if kind == "end")


@pytest.mark.parametrize(
    ("ignored", "heard"),
    [
        # serial, address and port: only that socket's pages are ours
        (
            (0xCAFE, "10.0.0.5", 40000),
            [(US, 0xBEEF), (("10.0.0.5", 40001), 0xCAFE), (("10.0.0.6", 40000), 0xCAFE)],
        ),
        # serial and address (an ephemeral port): any port of that address
        ((0xCAFE, "10.0.0.5", None), [(US, 0xBEEF), (("10.0.0.6", 40000), 0xCAFE)]),
        # the serial alone: another host configured with our serial is not heard either
        ((0xCAFE, None, None), [(US, 0xBEEF)]),
    ],
)
def test_our_own_pages_are_dropped_and_counted(ignored, heard):
    senders = [
        (US, 0xCAFE),  # us
        (("10.0.0.5", 40001), 0xCAFE),  # us, from another socket, or a neighbour process
        (("10.0.0.6", 40000), 0xCAFE),  # another host with the same serial
        (US, 0xBEEF),  # another serial from our socket
    ]
    log = Log()
    receiver = Receiver([log])
    receiver.ignore(*ignored)
    pages = [g711_page(seed=i, serial=serial)[0] for i, (_, serial) in enumerate(senders)]
    for index in range(len(pages[0].datagrams)):
        for page, (source, _) in zip(pages, senders, strict=True):
            receiver.feed(index * 0.02, source, page.datagrams[index])
        receiver.tick(index * 0.02)
    assert _sources_heard(log) == sorted(heard)
    dropped = len(senders) - len(heard)
    assert receiver.stats.own == dropped * len(pages[0].datagrams)
    assert receiver.stats.pages == len(heard)
    assert receiver.stats.predicted > 0  # the pages heard still took the shortcut


def test_ignoring_the_page_in_flight_hears_a_neighbour_with_our_serial_on_other_channels():
    """Another polyptt on this host pages under our serial from our address and port: only
    our own channel is dropped while our page is in flight, and all of it is heard again
    once our page is over."""
    log = Log()
    receiver = Receiver([log])
    receiver.ignore(0xCAFE, *US, 27)  # our page on 27 is going out
    ours, _ = g711_page(seed=1, serial=0xCAFE, channel=27)
    bell, _ = g711_page(seed=2, serial=0xCAFE, channel=26)  # the cron bell beside us
    for index in range(len(ours.datagrams)):
        receiver.feed(index * 0.02, US, ours.datagrams[index])
        receiver.feed(index * 0.02, US, bell.datagrams[index])
        receiver.tick(index * 0.02)
    assert [(kind, page.channel) for kind, page in log.events if kind != "audio"] == [
        ("start", 26),
        ("end", 26),
    ]
    assert receiver.stats.own == len(ours.datagrams)
    receiver.unignore(0xCAFE, *US, 27)  # our ends are out: a page on 27 from here is heard
    later, _ = g711_page(seed=3, serial=0xCAFE, channel=27)
    feed(receiver, later.datagrams, start=10.0)
    assert log.kinds()[2:] == ["start", "end"]
    assert log.events[-1][1].channel == 27


def test_unignore_hears_the_sender_again_and_open_pages_are_not_cut():
    page, expected = g711_page(serial=0xCAFE)
    log = Log()
    receiver = Receiver([log])
    half = len(page.datagrams) // 2
    now = feed(receiver, page.datagrams[:half])
    receiver.ignore(0xCAFE)  # a page already open is followed to its end
    now = feed(receiver, page.datagrams[half:], start=now)
    np.testing.assert_array_equal(log.pcm(log.events[0][1]), expected)
    again, _ = g711_page(seed=9, serial=0xCAFE)
    before = receiver.stats.own  # the first page's stray end packets, from an ignored sender
    now = feed(receiver, again.datagrams, start=now + 5)
    assert receiver.stats.own - before == len(again.datagrams)
    receiver.unignore(0xCAFE)
    feed(receiver, again.datagrams, start=now + 5)
    assert log.kinds() == ["start", "end", "start", "end"]
