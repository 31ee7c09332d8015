"""The receiving core: datagrams in, pages with their audio out, no I/O of its own.

`Receiver` is fed ``(arrival time, source address, datagram)`` and tells its listeners
when a page starts, when it has audio and when it ends. It never touches a socket or a
clock, so the live listener (`polyptt.receive.inbound`), ``--pcap`` replay (`polyptt.pcap`),
the tests (with a lossy relay in between) and later ``loop`` and the relay drive the same
code, and a capture replays exactly as it was heard.

Robustness rules
----------------
The paging port is open to anything on the LAN, so every datagram is hostile until
parsed. A datagram that is not a valid packet is dropped and counted by cause
(`ReceiverStats.rejected`), logged at debug level, never raised. Memory is bounded: at
most `max_pages` pages are tracked at once (packets opening more are refused and
counted), each page buffers a bounded number of frames (see `polyptt.receive.jitter`), and the
memory of recently ended pages is a bounded LRU.

Header prediction
-----------------
Almost every datagram a busy listener gets is the next transmit packet of a page it is
already following, and its first bytes (header, codec, flags: the layout is
`polyptt.protocol`'s, ``TRANSMIT_PREFIX_SIZE``) are those of that page's previous
packet. As TCP stacks do with header prediction, the receiver looks such a
datagram up by its source and those bytes, and if the page's frame buffer confirms that it
carries exactly the frame due next, releases that frame without parsing the datagram into
a packet object. Anything else (the first packets, alerts and ends, a loss, a reordered or
duplicated packet, a forged one) takes the general path, whose rules alone decide; the
shortcut only ever does what the general path would, which the tests check by feeding the
same traffic with and without it. With 50 pages, parsing was a third of the listener's
work.

The frames taken this way are kept coded until `Receiver.flush` (the live loop calls it
after each read of the sockets; `tick` calls it too), then decoded in one call per page:
a batch holds two or three frames of each page, and a call per frame cost more than the
decoding. Any other audio of that page is released after them, in order.

Listeners come and go
---------------------
`Receiver.subscribe` and `Receiver.unsubscribe` change the listeners at any time, from
any listener callback too (the relay adds a browser per connection). A listener that
joins is told of the pages already open (`PageListener.page_started`; ``page.samples``
is the audio it missed) and gets all their audio after that, so it can follow them to
their end like any other. One that leaves gets no further event, and no
`PageListener.page_ended` for the pages still open: they have not ended. Each event (a
page's start, its end, the audio one datagram or batch released) goes to the listeners
subscribed when it was emitted, as Node's EventEmitter does: one added or removed by an
earlier listener during that event takes effect from the next event (a listener removed
that way still gets the event in progress). That keeps the per-frame path exactly as
cheap as with fixed listeners.

Our own pages
-------------
A process that sends and listens (``polyptt loop``, the relay) hears its own pages back
(multicast loopback). `Receiver.ignore` names a sender by host serial and, where known,
source address, port and channel; its packets are counted (`ReceiverStats.own`) and
never open a page. Only packets that would open a page are checked, so the filter costs
nothing per packet of the pages that are heard.

Every polyptt on a host pages under the same serial (this host's, `polyptt.host`) from
the same address and port, so a filter on those alone would also hide a neighbour
process (a cron bell beside the relay). Senders therefore ignore only the page they have
in flight: `ignore` with its channel when it starts, `unignore` once its end packets
are out.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from polyptt.protocol import (
    TRANSMIT_AUDIO,
    TRANSMIT_COUNT,
    TRANSMIT_PREFIX_SIZE,
    AlertPacket,
    EndPacket,
    ProtocolError,
    TransmitPacket,
    parse_packet,
)
from polyptt.receive.session import Page, PageKey, Pcm

__all__ = ["AudioListener", "PageListener", "Receiver", "ReceiverStats"]

_log = logging.getLogger(__name__)

#: Seconds after a page's end packets during which its stragglers (the remaining end
#: packets, late transmit packets) are ignored instead of opening a new page.
LINGER_S = 2.0
_ENDED_MEMORY = 1024


class PageListener(Protocol):
    """What the receiver reports to (recorder, reporter, player, tests)."""

    def page_started(self, page: Page) -> None:
        """`page` has just begun (its first alert or transmit packet arrived)."""

    def page_ended(self, page: Page) -> None:
        """`page` is over (``page.end_reason`` says why); no more calls for it."""


class AudioListener(PageListener, Protocol):
    """A listener that also takes the audio (recorder, player).

    Only these are called per chunk of audio: a listener that needs none (a reporter, a
    counter) costs nothing per frame of every page.
    """

    def page_audio(self, page: Page, pcm: Pcm, now: float) -> None:
        """`pcm` (int16 at ``page.codec.sample_rate``) follows the page's earlier audio.

        `now` is the arrival time of the datagram that released it.
        """


@dataclass
class ReceiverStats:
    """What the receiver did with the datagrams it was fed.

    Attributes
    ----------
    datagrams : int
        Everything fed.
    packets : int
        Valid packets of pages: those that reached a page, and the end packets a page
        repeats after the first (which ended it).
    rejected : Counter
        Invalid datagrams by `ProtocolError` reason text.
    filtered : int
        Valid packets on channels not listened to.
    own : int
        Valid packets of our own pages (see `Receiver.ignore`), dropped.
    refused : int
        Packets that would have opened a page beyond `max_pages`.
    stray : int
        Packets of no page: transmit packets of a page that had already ended (late), end
        packets of a page never heard.
    discarded : int
        Packets of ended pages that their page dropped (wrong codec, a size that does
        not fit the frames, a count too far ahead); see `Page.dropped`.
    pages : int
        Pages started.
    predicted : int
        Of `packets`, transmit packets taken by header prediction (see the module
        docstring).
    """

    datagrams: int = 0
    packets: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    filtered: int = 0
    own: int = 0
    refused: int = 0
    stray: int = 0
    discarded: int = 0
    pages: int = 0
    predicted: int = 0

    def describe(self) -> str:
        """All of it in one line, for people (``listen -v``); invalid datagrams are
        counted here and listed by reason in `rejected`."""
        return (
            f"{_counted(self.datagrams, 'datagram')}: {self.packets} in "
            f"{_counted(self.pages, 'page')}, "
            f"{sum(self.rejected.values())} invalid, {self.filtered} on other channels, "
            f"{self.stray} stray, {self.refused} refused, {self.discarded} discarded by "
            "their page"
        )


def _counted(number: int, noun: str) -> str:
    """``1 page``, ``2 pages``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


class Receiver:
    """Track concurrent pages and report them to `listeners`.

    Parameters
    ----------
    listeners : iterable of PageListener or AudioListener
        Told of every page, in order; see `subscribe` and `unsubscribe` for later
        changes.
    channels : container of int, optional
        Channels to listen to; all by default.
    page_timeout : float
        Seconds of silence after which a page without end packets is over.
    max_pages : int
        Pages tracked at once.
    decoder_factory, reorder_frames, reorder_s : optional
        Passed to every `Page`.
    header_prediction : bool
        Take the shortcut for the next packet of a page (see the module docstring); off
        only to compare against the general path.

    Attributes
    ----------
    listeners : tuple
        The listeners subscribed now, in the order they are called.
    pages : dict
        The pages open now, by `PageKey`, in the order they started.
    stats : ReceiverStats
        What was done with the datagrams fed.
    """

    def __init__(
        self,
        listeners: Iterable[PageListener],
        *,
        channels: Container[int] | None = None,
        page_timeout: float = 1.0,
        max_pages: int = 128,
        decoder_factory: Callable[[str], Any] | None = None,
        reorder_frames: int = 2,
        reorder_s: float = 0.06,
        header_prediction: bool = True,
    ) -> None:
        self.listeners: tuple[PageListener, ...] = ()
        self._audio_sinks: tuple[Callable[[Page, Pcm, float], None], ...] = ()
        self._listen(tuple(listeners))
        self._ignored: set[tuple[int, str | None, int | None, int | None]] = set()
        self.channels = channels
        self.page_timeout = page_timeout
        self.max_pages = max_pages
        self.stats = ReceiverStats()
        self.pages: dict[PageKey, Page] = {}
        self._ended: OrderedDict[PageKey, float] = OrderedDict()
        self._predicting = header_prediction
        # (source, first bytes of its next transmit packet) -> page, at most one per page
        self._predicted: dict[tuple[Any, bytes], Page] = {}
        self._prediction_of: dict[PageKey, tuple[Any, bytes]] = {}
        self._holding: dict[Page, None] = {}  # pages with frames for `flush`, in order
        self._page_options: dict[str, Any] = {
            "decoder_factory": decoder_factory,
            "reorder_frames": reorder_frames,
            "reorder_s": reorder_s,
        }

    def feed(self, now: float, source: tuple[str, int], data: bytes) -> None:
        """Take one datagram that arrived at `now` from `source` (address, port)."""
        self.stats.datagrams += 1
        if type(data) is not bytes:  # a bytearray or memoryview would not hash
            data = bytes(data)
        page = self._predicted.get((source, data[:TRANSMIT_PREFIX_SIZE]))
        if page is not None and page.take_next(
            now, int.from_bytes(data[TRANSMIT_COUNT], "big"), data[TRANSMIT_AUDIO]
        ):
            self.stats.packets += 1
            self.stats.predicted += 1
            self._holding[page] = None
            return
        try:
            packet = parse_packet(data)
        except ProtocolError as error:
            self.stats.rejected[error.reason.value] += 1
            _log.debug("dropped datagram from %s:%s: %s", *source[:2], error)
            return
        if self.channels is not None and packet.channel not in self.channels:
            self.stats.filtered += 1
            return
        # a plain tuple finds the page (a PageKey is one): building the named tuple is
        # left to the rare packet that opens a page
        sender = (source[0], source[1])
        page = self.pages.get((sender, packet.serial, packet.channel))  # type: ignore[call-overload]
        if page is None:
            page = self._open(now, PageKey(sender, packet.serial, packet.channel), packet)
            if page is None:
                return
        self.stats.packets += 1
        self._emit(page, page.handle(now, packet), now)
        if isinstance(packet, EndPacket):
            self._close(page, now, "end_packets")
        elif self._predicting and isinstance(packet, TransmitPacket):
            self._predict(page, (source, data[:TRANSMIT_PREFIX_SIZE]), packet)

    def flush(self) -> None:
        """Hand the listeners the audio of the packets taken by header prediction.

        Call it after each batch of datagrams (`tick` calls it too): those frames are
        decoded per page and batch, in one call, rather than per packet.
        """
        holding, self._holding = self._holding, {}
        for page in holding:
            taken = page.take_audio()
            if taken is not None:
                pcm, first_arrival = taken
                for sink in self._audio_sinks:
                    sink(page, pcm, first_arrival)

    def tick(self, now: float) -> None:
        """Apply the clock: release audio held for lost frames, time out silent pages."""
        self.flush()
        for page in list(self.pages.values()):
            if now - page.last >= self.page_timeout:
                self._close(page, page.last, "timeout")
            elif (deadline := page.next_deadline) is not None and deadline <= now:
                self._emit(page, page.expire(now), now)

    def next_deadline(self) -> float | None:
        """The earliest time `tick` has something to do, or None with no page open."""
        times = [page.last + self.page_timeout for page in self.pages.values()]
        times += [d for page in self.pages.values() if (d := page.next_deadline) is not None]
        return min(times, default=None)

    def close(self, now: float, reason: str = "interrupted") -> None:
        """End every open page (the listener is stopping)."""
        for page in list(self.pages.values()):
            self._close(page, now, reason)

    def subscribe(self, listener: PageListener) -> None:
        """Tell `listener` of pages from now on, after the listeners already there.

        It is told at once of every page open now (``page_started``, in the order they
        started) and gets all their audio after ``page.samples``. Safe from inside a
        listener's callback: a page being started then is among the open pages, and no
        event reaches it twice.

        Raises
        ------
        ValueError
            If `listener` is already subscribed.
        """
        if any(listener is present for present in self.listeners):
            raise ValueError(f"{listener!r} is already subscribed")
        self._listen((*self.listeners, listener))
        for page in list(self.pages.values()):
            if not any(listener is present for present in self.listeners):
                break  # it left again from inside page_started
            listener.page_started(page)

    def unsubscribe(self, listener: PageListener) -> bool:
        """Stop telling `listener` of pages; whether it was subscribed.

        No ``page_ended`` for the pages still open: the caller knows what it tracked.
        Safe from inside a listener's callback (its own, or another's).
        """
        remaining = tuple(present for present in self.listeners if present is not listener)
        if len(remaining) == len(self.listeners):
            return False
        self._listen(remaining)
        return True

    def ignore(
        self,
        serial: int,
        address: str | None = None,
        port: int | None = None,
        channel: int | None = None,
    ) -> None:
        """Drop the pages of a sender: our own, heard back.

        A packet matches if it carries host serial `serial` and, unless None, comes from
        `address` and from `port` and is on `channel`. Pass what the sender knows: its
        serial and the address it sends from (the interface's, for multicast), its port
        only if it is fixed (an ephemeral port changes with each socket), and the channel
        of the page it is sending (other processes on this host share the serial, the
        address and the port: see the module docstring). Another host that uses the same
        serial is still heard if `address` is given; with the serial alone, it is not.
        Pages already open are not affected.
        """
        self._ignored.add((serial, address, port, channel))

    def unignore(
        self,
        serial: int,
        address: str | None = None,
        port: int | None = None,
        channel: int | None = None,
    ) -> None:
        """Hear again the sender `ignore` was given with the same arguments, if any."""
        self._ignored.discard((serial, address, port, channel))

    # ------------------------------------------------------------------ internals

    def _listen(self, listeners: tuple[PageListener, ...]) -> None:
        """Make `listeners` the listeners; emissions in progress keep their own."""
        self.listeners = listeners
        self._audio_sinks = tuple(
            sink for listener in listeners if (sink := getattr(listener, "page_audio", None))
        )

    def _is_own(self, key: PageKey) -> bool:
        (address, port), serial, channel = key.source, key.serial, key.channel
        return any(
            serial == s
            and (a is None or a == address)
            and (p is None or p == port)
            and (c is None or c == channel)
            for s, a, p, c in self._ignored
        )

    def _open(self, now: float, key: PageKey, packet: Any) -> Page | None:
        if self._ignored and self._is_own(key):
            self.stats.own += 1
            return None
        ended = self._ended.get(key)
        if ended is not None:
            if now - ended < LINGER_S and not isinstance(packet, AlertPacket):
                if isinstance(packet, EndPacket):  # the page's end, repeated as it should be
                    self.stats.packets += 1
                else:
                    self.stats.stray += 1
                return None
            del self._ended[key]
        if isinstance(packet, EndPacket):  # an end with no page: nothing to report
            self.stats.stray += 1
            return None
        if len(self.pages) >= self.max_pages:
            self.stats.refused += 1
            return None
        assert isinstance(packet, (AlertPacket, TransmitPacket))
        page = Page(key, packet.caller_id, now, **self._page_options)
        self.pages[key] = page
        self.stats.pages += 1
        for listener in self.listeners:
            listener.page_started(page)
        return page

    def _predict(self, page: Page, prediction: tuple[Any, bytes], packet: TransmitPacket) -> None:
        """Expect `page`'s next packet to start as `packet` did, if in the page's codec.

        Whether the page used the packet does not matter: a wrong guess only sends the
        next packet down the general path.
        """
        if page.codec is None or packet.codec != page.codec.wire_id:
            return
        previous = self._prediction_of.get(page.key)
        if previous != prediction:
            if previous is not None:
                del self._predicted[previous]
            self._predicted[prediction] = page
            self._prediction_of[page.key] = prediction

    def _emit(self, page: Page, chunks: list[Pcm], now: float) -> None:
        sinks = self._audio_sinks  # one emission: `page.samples` already counts it all
        for pcm in chunks:
            for sink in sinks:
                sink(page, pcm, now)

    def _close(self, page: Page, now: float, reason: str) -> None:
        self._emit(page, page.finish(now, reason), now)
        del self.pages[page.key]
        self._holding.pop(page, None)
        prediction = self._prediction_of.pop(page.key, None)
        if prediction is not None:
            del self._predicted[prediction]
        self.stats.discarded += page.dropped
        if reason == "end_packets":
            self._ended[page.key] = now
            self._ended.move_to_end(page.key)
            while len(self._ended) > _ENDED_MEMORY:
                self._ended.popitem(last=False)
        for listener in self.listeners:
            listener.page_ended(page)
