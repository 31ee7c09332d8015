"""The live receive loop on real sockets: pauses between wake-ups, never behind a flood."""

from __future__ import annotations

import threading
import time

import pytest
from tests.listen.harness import GROUP, sender_socket
from tests.listen.synthetic import build_page
from tests.udp_capture import free_port

from polyptt.inbound import Endpoint, open_sockets, serve
from polyptt.protocol import CodecId
from polyptt.receiver import Receiver

pytestmark = pytest.mark.network


class _Audio:
    """Counts the PCM of every page and keeps the pages that ended."""

    def __init__(self) -> None:
        self.samples = 0
        self.ended: list = []

    def page_started(self, page) -> None:
        pass

    def page_audio(self, page, pcm, now: float) -> None:
        self.samples += len(pcm)

    def page_ended(self, page) -> None:
        self.ended.append(page)


def _queued(datagrams: list[bytes]) -> list:
    """Listening sockets with `datagrams` already waiting in them."""
    port = free_port()
    sockets = open_sockets([Endpoint(GROUP, port)], "127.0.0.1")
    sender = sender_socket()
    try:
        for data in datagrams:
            sender.sendto(data, (GROUP, port))
    finally:
        sender.close()
    time.sleep(0.05)
    return sockets


def _serve(sockets: list, receiver: Receiver, **options) -> None:
    """`serve` until the pages have ended (at most 10 s), then close `sockets`."""
    options.setdefault("should_stop", lambda: receiver.stats.pages and not receiver.pages)
    try:
        serve(sockets, receiver, until=time.time() + 10, **options)
    finally:
        for sock in sockets:
            sock.close()


def test_a_backlog_is_read_without_pausing():
    """More than one read batch (256) waiting: no pause until the socket is empty, so a
    flood cannot pile up in the socket buffer behind the pauses and push out good pages."""
    sockets = _queued([bytes([0x42]) * 30] * 700)
    receiver = Receiver([])
    started = time.monotonic()
    _serve(
        sockets,
        receiver,
        should_stop=lambda: receiver.stats.datagrams >= 700,
        coalesce_s=2.0,  # one pause would outlast the whole bound below
    )
    assert receiver.stats.datagrams == 700
    assert time.monotonic() - started < 1.5


def test_a_page_is_decoded_whole_through_the_loop():
    # all queued at once: at most the 1 s a page may run ahead of the clock (see jitter)
    frames = [bytes([index]) * 160 for index in range(40)]
    page = build_page(frames, codec=CodecId.G711U, step=160)
    audio = _Audio()
    receiver = Receiver([audio])
    _serve(_queued(page.datagrams), receiver)
    assert audio.samples == 40 * 160
    assert receiver.stats.predicted >= 37  # the steady state took the shortcut


def test_a_packet_read_after_a_pause_still_beats_the_deadline_it_beat():
    """The clock is applied after reading: a packet that arrived inside the reorder
    window, but while the loop paused, is received, not repaired from the redundant copy
    (and then counted late) because its deadline passed before it was read."""
    page = build_page([bytes([i]) * 160 for i in range(12)], codec=CodecId.G711U, step=160)
    sent = page.transmits
    port = free_port()
    sockets = open_sockets([Endpoint(GROUP, port)], "127.0.0.1")
    sender = sender_socket()
    for data in [*page.alerts, sent[0], sent[1], sent[3]]:  # frame 2's own packet is late
        sender.sendto(data, (GROUP, port))

    def the_rest() -> None:
        time.sleep(0.1)  # well inside the 0.3 s window, during the loop's 0.6 s pause
        sender.sendto(sent[2], (GROUP, port))
        time.sleep(0.4)
        for data in sent[4:] + page.ends:
            sender.sendto(data, (GROUP, port))

    audio = _Audio()
    receiver = Receiver([audio], reorder_s=0.3)
    later = threading.Thread(target=the_rest)
    later.start()
    try:
        _serve(sockets, receiver, coalesce_s=0.6)
    finally:
        later.join()
        sender.close()
    (heard,) = audio.ended
    summary = heard.summary()
    assert (summary["frames"], summary["frames_repaired"], summary["late"]) == (12, 0, 0)
    assert summary["end_reason"] == "end_packets"
