#!/usr/bin/env python3
"""Check a polyptt webhook delivery's signature (standard library only).

A receiver checks every delivery before trusting it: HMAC-SHA256, keyed with the
webhook's secret, of the X-Polyptt-Timestamp header, a dot, and the body's exact bytes,
compared in constant time with X-Polyptt-Signature (``sha256=HEX``); a timestamp more
than five minutes from this machine's clock is a replay and refused.

As a library, copy `verify` into your receiver. As a command:

    POLYPTT_WEBHOOK_SECRET=... python verify.py --timestamp T --signature sha256=... < body.json

prints ``valid: EVENT DELIVERY`` and exits 0, or one line on stderr and exits 1.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time

# --8<-- [start:verify]
TOLERANCE_S = 300


def verify(secret: str, timestamp: str, signature: str, body: bytes, now: float) -> str | None:
    """None if `body` is signed by `signature` at `timestamp` with `secret`, else why not."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return "the timestamp is not a number"
    if abs(now - stamp) > TOLERANCE_S:
        return "the timestamp is more than 5 minutes away (a replay, or a wrong clock)"
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    if not hmac.compare_digest("sha256=" + digest.hexdigest(), signature.strip()):
        return "the signature does not match (wrong secret or altered body)"
    return None


# --8<-- [end:verify]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timestamp", required=True, help="the X-Polyptt-Timestamp header")
    parser.add_argument("--signature", required=True, help="the X-Polyptt-Signature header")
    args = parser.parse_args()
    secret = os.environ.get("POLYPTT_WEBHOOK_SECRET")
    if not secret:
        print("invalid: set POLYPTT_WEBHOOK_SECRET to the webhook's secret", file=sys.stderr)
        return 2
    body = sys.stdin.buffer.read()
    why = verify(secret, args.timestamp, args.signature, body, time.time())
    if why is not None:
        print(f"invalid: {why}", file=sys.stderr)
        return 1
    delivery = json.loads(body)
    print(f"valid: {delivery['event']} {delivery['delivery']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
