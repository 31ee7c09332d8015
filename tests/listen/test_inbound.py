"""The live receive loop on real sockets: pauses between wake-ups, never behind a flood."""

from __future__ import annotations

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
    """Collects the PCM of every page."""

    def __init__(self) -> None:
        self.samples = 0

    def page_started(self, page) -> None:
        pass

    def page_audio(self, page, pcm, now: float) -> None:
        self.samples += len(pcm)

    def page_ended(self, page) -> None:
        pass


def _queued(datagrams: list[bytes]) -> tuple[list, int]:
    """Listening sockets with `datagrams` already waiting in them, and their port."""
    port = free_port()
    sockets = open_sockets([Endpoint(GROUP, port)], "127.0.0.1")
    sender = sender_socket()
    try:
        for data in datagrams:
            sender.sendto(data, (GROUP, port))
    finally:
        sender.close()
    time.sleep(0.05)
    return sockets, port


def test_a_backlog_is_read_without_pausing():
    """More than one read batch (256) waiting: no pause until the socket is empty, so a
    flood cannot pile up in the socket buffer behind the pauses and push out good pages."""
    sockets, _ = _queued([bytes([0x42]) * 30] * 700)
    receiver = Receiver([])
    started = time.monotonic()
    try:
        serve(
            sockets,
            receiver,
            should_stop=lambda: receiver.stats.datagrams >= 700,
            until=time.time() + 5,
            coalesce_s=2.0,  # one pause would outlast the whole bound below
        )
    finally:
        for sock in sockets:
            sock.close()
    assert receiver.stats.datagrams == 700
    assert time.monotonic() - started < 1.5


def test_a_page_is_decoded_whole_through_the_loop():
    # all queued at once: at most the 1 s a page may run ahead of the clock (see jitter)
    frames = [bytes([index]) * 160 for index in range(40)]
    page = build_page(frames, codec=CodecId.G711U, step=160)
    sockets, _ = _queued(page.datagrams)
    audio = _Audio()
    receiver = Receiver([audio])
    try:
        serve(sockets, receiver, should_stop=lambda: receiver.stats.pages and not receiver.pages)
    finally:
        for sock in sockets:
            sock.close()
    assert audio.samples == 40 * 160
    assert receiver.stats.predicted >= 37  # the steady state took the shortcut
