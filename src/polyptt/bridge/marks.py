"""How a bridge knows a page that crossed a bridge already: the loop-prevention rule.

A page crosses at most one bridge. Every Poly page a bridge sends carries a host serial
whose top 16 bits are `MARK`, and every RTP stream a bridge sends an SSRC whose top 16
bits are `MARK`; the low 16 bits are the bridge's own (its serial's) or random per page
(the SSRC's). A bridge carries nothing so marked, from any bridge, its own included:
with ``both``, its own pages heard back are never carried back, and two bridges whose
mappings cross (A carries RTP group X to channel 26, B channel 26 to group X) cannot
ping-pong a page between them.

Why these fields: they are the only identity both protocols carry from the first packet
(a Poly alert has no audio, an RTP stream has no caller id), and every receiver ignores
their value but for telling streams apart. The cost: a foreign RTP source whose random
SSRC happens to start with `MARK` (1 in 65536) is not bridged, and a bridged Poly page
loses channel contention to a phone (the lowest serial keeps the channel), which is
what a page from another system should do.
"""

from __future__ import annotations

import random

__all__ = ["MARK", "is_marked", "marked", "random_ssrc"]

#: The top 16 bits of a bridged page's serial (Poly) or SSRC (RTP): "BD" 6E, bridge.
MARK = 0xBD6E


def marked(value: int) -> int:
    """`value` (a serial) with its top 16 bits set to `MARK`."""
    return MARK << 16 | (value & 0xFFFF)


def is_marked(value: int) -> bool:
    """Whether a serial or an SSRC says that its page crossed a bridge."""
    return value >> 16 == MARK


def random_ssrc(rng: random.Random) -> int:
    """A new marked SSRC (low 16 bits random)."""
    return marked(rng.getrandbits(16))
