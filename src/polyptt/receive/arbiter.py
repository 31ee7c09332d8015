"""Which page the loudspeaker plays: the phones' rules, kept apart from audio and sockets.

Phones play one page at a time. An emergency page (channels 25 and 50 by default)
interrupts everything, a priority page (24 and 49) interrupts normal ones, and among
normal pages the first to start keeps the speaker: later ones are ignored, not queued.

Decision: a page is chosen only when it starts (or preempts). A page that was passed over,
or that lost the speaker to a more urgent one, is not resumed when the speaker frees up,
because starting mid-sentence is worse than not playing, and a phone in the same situation
stays silent too. Pairs of equal urgency other than normal follow first come, first served
as well: a second emergency page does not cut off the first.

The end of a page is not the end of its sound. A sender faster than real time (the
original PolyPtt sender sends a 4 s page in 2.7 s) leaves audio queued when its packets
stop, and that audio is part of the page: a page that ends while its audio is still
`audible` keeps its claim on the speaker at its urgency (`sounding`) until the player
says it has been `played_out`. Only a page more urgent than it cuts that audio short,
as it would cut the page itself. A page of no greater urgency that starts meanwhile is
not passed over, because the page before it is over: it takes the speaker and is heard
after that audio, as a phone (which cannot fall behind) would have heard both.
"""

from __future__ import annotations

from collections.abc import Hashable

from polyptt.protocol import Priority

__all__ = ["Arbiter"]


class Arbiter:
    """Decide, page by page, whether it owns the speaker.

    Keys are any hashable page identities (the receiver uses its page keys).

    Attributes
    ----------
    playing : hashable or None
        The page in progress that owns the speaker.
    sounding : Priority or None
        The urgency of a page that has ended but whose audio is still being played, until
        `played_out` (or a more urgent page cuts it).

    Examples
    --------
    >>> a = Arbiter()
    >>> a.start("first", Priority.NORMAL), a.start("second", Priority.NORMAL)
    (True, False)
    >>> a.start("alarm", Priority.EMERGENCY), a.playing
    (True, 'alarm')
    >>> a.end("alarm", audible=True)
    >>> a.start("next", Priority.PRIORITY), a.sounding  # after the alarm's last words
    (True, <Priority.EMERGENCY: 2>)
    """

    def __init__(self) -> None:
        self.playing: Hashable | None = None
        self._priority = Priority.NORMAL
        self.sounding: Priority | None = None

    def start(self, key: Hashable, priority: Priority) -> bool:
        """A page starts; True if it takes the speaker (preempting any current page).

        An ended page's audio that is still `sounding` does not keep the speaker from
        it: if `priority` is higher, that audio is cut (`sounding` becomes None),
        otherwise the page is heard after it.
        """
        if self.playing is None or priority > self._priority:
            if self.sounding is not None and priority > self.sounding:
                self.sounding = None
            self.playing = key
            self._priority = priority
            return True
        return False

    def end(self, key: Hashable, *, audible: bool = False) -> None:
        """A page ended; frees the speaker if it held it.

        `audible` says its audio has not all been played yet: it goes on `sounding` at
        the page's urgency until `played_out` (at the highest urgency, if the audio of
        an earlier page is sounding before it).
        """
        if key == self.playing:
            if audible:
                self.sounding = max(self._priority, self.sounding or Priority.NORMAL)
            self.playing = None
            self._priority = Priority.NORMAL

    def played_out(self) -> None:
        """The audio of the pages that ended has all been played."""
        self.sounding = None

    def plays(self, key: Hashable) -> bool:
        """Whether `key` currently owns the speaker."""
        return self.playing is not None and key == self.playing
