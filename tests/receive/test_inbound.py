"""The live receive loops on real sockets: the blocking `serve` and the asyncio
`serve_async` share one policy (pauses between wake-ups, never behind a flood, the clock
after reading), so every policy test runs with both."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
from tests.support.listen import GROUP, replay, sender_socket
from tests.support.signals import speech
from tests.support.synthetic import build_page
from tests.support.udp_capture import free_port

from polyptt import codecs
from polyptt.protocol import CodecId
from polyptt.receive.inbound import Endpoint, open_sockets, serve, serve_async
from polyptt.receive.receiver import Receiver

pytestmark = pytest.mark.network


class _Audio:
    """Keeps the PCM of every page, the pages that ended and when audio came (loop time)."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.times: list[float] = []
        self.ended: list = []

    @property
    def samples(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)

    def page_started(self, page) -> None:
        pass

    def page_audio(self, page, pcm, now: float) -> None:
        self.chunks.append(pcm)
        self.times.append(time.monotonic())

    def page_ended(self, page) -> None:
        self.ended.append(page)


def _serve_async(sockets: list, receiver: Receiver, *, should_stop, **options) -> None:
    """`serve_async` in a fresh event loop, stopped once `should_stop()` (polled)."""

    async def main() -> None:
        stop = asyncio.Event()

        async def watch() -> None:
            while not should_stop():
                await asyncio.sleep(0.005)
            stop.set()

        watcher = asyncio.create_task(watch())
        try:
            await serve_async(sockets, receiver, stop=stop, **options)
        finally:
            watcher.cancel()

    asyncio.run(main())


RUNNERS = {"selectors": serve, "asyncio": _serve_async}


@pytest.fixture(params=list(RUNNERS))
def run(request) -> Callable[..., None]:
    """``run(sockets, receiver, **options)``: serve with one runner until the pages have
    ended (at most 10 s), then close `sockets`."""
    runner = RUNNERS[request.param]

    def run(sockets: list, receiver: Receiver, **options) -> None:
        options.setdefault("should_stop", lambda: receiver.stats.pages and not receiver.pages)
        try:
            runner(sockets, receiver, until=time.time() + 10, **options)
        finally:
            for sock in sockets:
                sock.close()

    return run


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


def test_a_backlog_is_read_without_pausing(run):
    """More than one read batch (256) waiting: no pause until the socket is empty, so a
    flood cannot pile up in the socket buffer behind the pauses and push out good pages."""
    sockets = _queued([bytes([0x42]) * 30] * 700)
    receiver = Receiver([])
    started = time.monotonic()
    run(
        sockets,
        receiver,
        should_stop=lambda: receiver.stats.datagrams >= 700,
        coalesce_s=2.0,  # one pause would outlast the whole bound below
    )
    assert receiver.stats.datagrams == 700
    assert time.monotonic() - started < 1.5


def test_a_page_is_decoded_whole_through_the_loop(run):
    # all queued at once: at most the 1 s a page may run ahead of the clock (see jitter)
    frames = [bytes([index]) * 160 for index in range(40)]
    page = build_page(frames, codec=CodecId.G711U, step=160)
    audio = _Audio()
    receiver = Receiver([audio])
    run(_queued(page.datagrams), receiver)
    assert audio.samples == 40 * 160
    assert receiver.stats.predicted >= 37  # the steady state took the shortcut


def test_a_packet_read_after_a_pause_still_beats_the_deadline_it_beat(run):
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
        run(sockets, receiver, coalesce_s=0.6)
    finally:
        later.join()
        sender.close()
    (heard,) = audio.ended
    summary = heard.summary()
    assert (summary["frames"], summary["frames_repaired"], summary["late"]) == (12, 0, 0)
    assert summary["end_reason"] == "end_packets"


# ---------------------------------------------------------------- the asyncio runner


def _speech_page(seconds: float = 1.2, serial: int = 0x12345678):
    """A G.722 page of 20 ms frames carrying real speech, and the audio it decodes to."""
    pcm = speech(16000)[: int(16000 * seconds)]
    coded = codecs.encode("g722", pcm)
    frames = [coded[i : i + 160] for i in range(0, len(coded) - 159, 160)]
    page = build_page(frames, codec=CodecId.G722, step=160, serial=serial)
    return page, codecs.decode("g722", b"".join(frames))


def _paced(page, start: float = 0.0) -> list[tuple[float, bytes]]:
    """`page` timed as a sender paces it: alerts 10 ms apart, a frame every 20 ms."""
    times = [start + 0.01 * i for i in range(len(page.alerts))]
    first = times[-1] + 0.02
    times += [first + 0.02 * i for i in range(len(page.transmits) + len(page.ends))]
    return list(zip(times, page.datagrams, strict=True))


def test_serve_async_hears_a_paced_page_sample_for_sample_without_blocking_the_loop():
    """A page sent in real time by a plain UDP socket is heard whole through asyncio's
    readers, while another task of the same loop keeps its 5 ms ticks on time: the long
    pauses (0.5 s, so a blocking one could not hide) defer the readers instead of
    sleeping."""
    page, expected = _speech_page()
    port = free_port()
    sockets = open_sockets([Endpoint(GROUP, port)], "127.0.0.1")
    audio = _Audio()
    receiver = Receiver([audio])
    lateness: list[float] = []

    async def ticker(stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            due = loop.time() + 0.005
            await asyncio.sleep(0.005)
            lateness.append(loop.time() - due)

    async def main() -> None:
        stop = asyncio.Event()
        ticks = asyncio.create_task(ticker(stop))
        serving = asyncio.create_task(
            serve_async(sockets, receiver, stop=stop, until=time.time() + 10, coalesce_s=0.5)
        )
        await asyncio.to_thread(replay, _paced(page), port)
        while receiver.pages or not audio.ended:  # the end packets close the page
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.gather(serving, ticks)

    try:
        asyncio.run(main())
    finally:
        for sock in sockets:
            sock.close()
    (heard,) = audio.ended
    assert heard.end_reason == "end_packets"
    np.testing.assert_array_equal(np.concatenate(audio.chunks), expected)
    assert heard.stats.frames_repaired == heard.stats.frames_concealed == 0
    # the pauses were in force: audio came in bursts about 0.5 s apart ...
    assert max(np.diff(audio.times)) > 0.3
    # ... while the loop ran other tasks (hundreds of ticks, none held up by a pause)
    assert len(lateness) > 100
    assert max(lateness) < 0.25


def test_serve_async_stops_on_its_event_and_leaves_no_reader_behind():
    port = free_port()
    sockets = open_sockets([Endpoint(GROUP, port)], "127.0.0.1")
    receiver = Receiver([])

    async def main() -> tuple[float, list[bool]]:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        serving = asyncio.create_task(serve_async(sockets, receiver, stop=stop))
        await asyncio.sleep(0.2)
        assert not serving.done()
        started = time.monotonic()
        stop.set()
        await serving
        took = time.monotonic() - started
        return took, [loop.remove_reader(sock) for sock in sockets]

    try:
        took, removed = asyncio.run(main())
        assert all(sock.fileno() >= 0 for sock in sockets)  # still open: the caller's
    finally:
        for sock in sockets:
            sock.close()
    assert took < 0.1
    assert removed == [False]  # serve_async had removed its reader already


def test_serve_async_returns_at_until_and_when_cancelled():
    port = free_port()
    sockets = open_sockets([Endpoint(GROUP, port)], "127.0.0.1")
    receiver = Receiver([])

    async def main() -> float:
        started = time.monotonic()
        await serve_async(sockets, receiver, until=time.time() + 0.3)
        took = time.monotonic() - started
        serving = asyncio.create_task(serve_async(sockets, receiver))
        await asyncio.sleep(0.05)
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
        return took

    try:
        took = asyncio.run(main())
    finally:
        for sock in sockets:
            sock.close()
    assert 0.25 < took < 1.0


def test_a_listener_error_stops_serve_async_and_is_raised_from_it():
    class Broken:
        def page_started(self, page) -> None:
            raise RuntimeError("listener failed")

        def page_ended(self, page) -> None:
            pass

    page = build_page([bytes(160)] * 3, codec=CodecId.G711U, step=160)
    sockets = _queued(page.datagrams)
    receiver = Receiver([Broken()])

    async def main() -> None:
        await serve_async(sockets, receiver, until=time.time() + 10)

    try:
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="listener failed"):
            asyncio.run(main())
    finally:
        for sock in sockets:
            sock.close()
    assert time.monotonic() - started < 5  # raised at once, not at `until`


def test_a_process_that_sends_and_listens_does_not_hear_itself():
    """`Receiver.ignore` with our serial and the address and port we send from: our page
    is dropped and counted, another sender using the same serial from another port (and
    a page with another serial from our own socket) are heard."""
    port = free_port()
    sockets = open_sockets([Endpoint(GROUP, port)], "127.0.0.1")
    ours, theirs = sender_socket(), sender_socket()
    our_page, _ = _speech_page(0.2, serial=0xCAFE)
    other_serial, _ = _speech_page(0.2, serial=0xBEEF)
    audio = _Audio()
    receiver = Receiver([audio])
    address, our_port = ours.getsockname()
    their_port = theirs.getsockname()[1]
    receiver.ignore(0xCAFE, address, our_port)

    def send(sock: socket.socket, page) -> None:
        for data in page.datagrams:
            sock.sendto(data, (GROUP, port))
            time.sleep(0.005)

    async def main() -> None:
        stop = asyncio.Event()
        serving = asyncio.create_task(serve_async(sockets, receiver, stop=stop))
        await asyncio.to_thread(send, ours, our_page)
        await asyncio.to_thread(send, theirs, our_page)  # same serial, another port
        await asyncio.to_thread(send, ours, other_serial)
        deadline = time.monotonic() + 5
        while len(audio.ended) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        stop.set()
        await serving

    try:
        asyncio.run(main())
    finally:
        for sock in [*sockets, ours, theirs]:
            sock.close()
    heard = sorted((page.key.serial, page.key.source) for page in audio.ended)
    assert heard == [(0xBEEF, (address, our_port)), (0xCAFE, (address, their_port))]
    assert receiver.stats.own == len(our_page.datagrams)
    assert receiver.stats.pages == 2
