"""Webhook signatures, as Stripe and GitHub sign theirs.

Each delivery carries ``X-Polyptt-Timestamp: <seconds since the epoch>`` and
``X-Polyptt-Signature: sha256=<hex>``, the HMAC-SHA256 with the webhook's secret of the
timestamp, a dot and the body's exact bytes. A receiver recomputes it over the bytes it
got (before parsing any JSON), compares in constant time, and refuses a timestamp too
far from its clock (a replayed delivery). ``examples/webhook/verify.py`` does it with
the standard library only.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE", "TIMESTAMP", "TOLERANCE_S", "sign", "verify"]

TIMESTAMP = "X-Polyptt-Timestamp"
SIGNATURE = "X-Polyptt-Signature"
#: How far a timestamp may be from the receiver's clock by default (a replay window).
TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Polyptt-Signature`` value: ``sha256=`` and the hex HMAC of
    ``b"<timestamp>." + body`` keyed with `secret`."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str,
    signature: str,
    body: bytes,
    *,
    now: float,
    tolerance_s: float = TOLERANCE_S,
) -> bool:
    """Whether `signature` signs `body` at `timestamp` (the headers' texts) with
    `secret`, and `timestamp` is within `tolerance_s` of `now`."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs(now - stamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature.strip())
