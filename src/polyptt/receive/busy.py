"""The busy rule: whether a new page may start on a channel someone else is paging.

Phones play one normal page at a time, first come, first served: a second page on a
channel that already carries one is not heard by the phones playing the first, and the
two senders talk over each other on the wire. ``polyptt loop`` and the
relay therefore refuse to start a page on a channel while a page heard from someone else
is open on it (from its first packet to its end packets or its timeout), and name the
caller who holds it.

Priority (24, 49) and emergency (25, 50) channels are never busy: the phones let their
pages interrupt normal ones (emergency interrupts everything), so a page on them goes
out whatever plays. A page on another channel never makes a channel busy: each channel
is judged on its own, as the phones' own push-to-talk does.

This is the one copy of the rule: `polyptt.loop.state` and `polyptt.relay.talks` ask it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from polyptt.protocol import Priority, channel_priority

__all__ = ["OnChannel", "blocking_page", "holding_page"]


class OnChannel(Protocol):
    """A page in progress, as the rule sees it: its channel."""

    @property
    def channel(self) -> int: ...


P = TypeVar("P", bound=OnChannel)


def holding_page(channel: int, open_pages: Iterable[P]) -> P | None:
    """The page that holds `channel`: the first of `open_pages` on it, or None.

    Parameters
    ----------
    channel : int
        A channel, 1-50.
    open_pages : iterable
        Pages from others open now, in the order they started.
    """
    return next((page for page in open_pages if page.channel == channel), None)


def blocking_page(channel: int, open_pages: Iterable[P]) -> P | None:
    """The page that makes a new page on `channel` wait, or None if it may start.

    That is the page holding `channel` (`holding_page`), unless `channel` is a priority
    or emergency channel, which is never busy.

    Raises
    ------
    ValueError
        If `channel` is outside 1-50.
    """
    if channel_priority(channel) is not Priority.NORMAL:
        return None
    return holding_page(channel, open_pages)
