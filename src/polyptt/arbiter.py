"""Which page the loudspeaker plays: the phones' rules, kept apart from audio and sockets.

Phones play one page at a time. An emergency page (channels 25 and 50 by default)
interrupts everything, a priority page (24 and 49) interrupts normal ones, and among
normal pages the first to start keeps the speaker: later ones are ignored, not queued.

Decision: a page is chosen only when it starts (or preempts). A page that was passed over,
or that lost the speaker to a more urgent one, is not resumed when the speaker frees up,
because starting mid-sentence is worse than not playing, and a phone in the same situation
stays silent too. Pairs of equal urgency other than normal follow first come, first served
as well: a second emergency page does not cut off the first.
"""

from __future__ import annotations

from collections.abc import Hashable

from polyptt.protocol import Priority

__all__ = ["Arbiter"]


class Arbiter:
    """Decide, page by page, whether it owns the speaker.

    Keys are any hashable page identities (the receiver uses its page keys).

    Examples
    --------
    >>> a = Arbiter()
    >>> a.start("first", Priority.NORMAL), a.start("second", Priority.NORMAL)
    (True, False)
    >>> a.start("alarm", Priority.EMERGENCY), a.playing
    (True, 'alarm')
    """

    def __init__(self) -> None:
        self.playing: Hashable | None = None
        self._priority = Priority.NORMAL

    def start(self, key: Hashable, priority: Priority) -> bool:
        """A page starts; True if it takes the speaker (preempting any current page)."""
        if self.playing is None or priority > self._priority:
            self.playing = key
            self._priority = priority
            return True
        return False

    def end(self, key: Hashable) -> None:
        """A page ended; frees the speaker if it held it."""
        if key == self.playing:
            self.playing = None
            self._priority = Priority.NORMAL

    def plays(self, key: Hashable) -> bool:
        """Whether `key` currently owns the speaker."""
        return self.playing is not None and key == self.playing
