"""``listen -v``'s closing summary: a clean page is all accounted for (its 12 end packets
are the page's, not stray) and counted in good English."""

from __future__ import annotations

import random

import pytest
from tests.support.listen import CHIME, GROUP, polyptt, start_listen
from tests.support.synthetic import build_page
from tests.support.udp_capture import free_port

from polyptt.protocol import CodecId
from polyptt.receive.receiver import Receiver, ReceiverStats

SOURCE = ("10.0.0.5", 40000)


def page_datagrams(seed: int = 1, serial: int = 0x1234) -> list[bytes]:
    rng = random.Random(seed)
    frames = [rng.randbytes(160) for _ in range(10)]
    page = build_page(frames, codec=CodecId.G711U, step=160, alerts=31, ends=12, serial=serial)
    return page.datagrams


def feed(receiver: Receiver, datagrams: list[bytes], start: float = 0.0) -> float:
    now = start
    for data in datagrams:
        receiver.feed(now, SOURCE, data)
        receiver.tick(now)
        now += 0.02
    return now


def test_a_late_transmit_and_an_end_of_no_page_are_still_stray() -> None:
    receiver = Receiver([])
    datagrams = page_datagrams()
    transmit = datagrams[31]
    now = feed(receiver, datagrams)
    feed(receiver, [transmit], start=now)  # late: its page has ended
    feed(receiver, page_datagrams(serial=0x9999)[-1:], start=now)  # an end, no page heard
    stats = receiver.stats
    assert (stats.datagrams, stats.packets, stats.stray, stats.pages) == (55, 53, 2, 1)


@pytest.mark.parametrize(
    ("datagrams", "pages", "line"),
    [
        (1, 1, "1 datagram: 1 in 1 page,"),
        (2, 2, "2 datagrams: 2 in 2 pages,"),
        (0, 0, "0 datagrams: 0 in 0 pages,"),
    ],
)
def test_the_summary_counts_in_english(datagrams: int, pages: int, line: str) -> None:
    stats = ReceiverStats(datagrams=datagrams, packets=datagrams, pages=pages)
    assert stats.describe() == (
        f"{line} 0 invalid, 0 on other channels, 0 stray, 0 refused, 0 discarded by their page"
    )


@pytest.mark.network
def test_a_clean_page_has_no_stray_packets(tmp_path) -> None:
    """A real page from ``polyptt send``: 31 alerts, 57 frames, 12 ends, every one of
    them the page's."""
    port = free_port()
    listening = start_listen(tmp_path / "rec", "-v", "--timeout", "8", port=port)
    polyptt("send", "--to", f"{GROUP}:{port}", str(CHIME))
    assert listening.wait() == 0, listening.stderr
    assert listening.stderr.splitlines()[-1] == (
        "100 datagrams: 100 in 1 page, 0 invalid, 0 on other channels, 0 stray, 0 refused, "
        "0 discarded by their page"
    )
