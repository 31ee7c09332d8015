"""What crosses NATS between sites: subjects and messages.

Every relay publishes only under its own site's name (so that the hub's permissions can
hold each site to it) and subscribes to every site's:

- ``NAME.page.SITE``: pages SITE sends to other sites: ``S`` + JSON (start: page id,
  addressed sites, channel, codec, frame length, caller id, when sent), ``F`` + frame
  (page id, sequence number, when sent, the codec frame as the page's transmit packets
  carry it: never re-encoded), ``K`` + page id (the sender is still there: every 250 ms
  of a page), ``E`` + JSON (end: the number of frames);
- ``NAME.shared.SITE``: pages heard on SITE's LAN on its ``share`` channels: ``S`` +
  JSON, ``A`` + audio (page id, rate, int16 PCM as its listeners get it), ``E`` + JSON;
- ``NAME.result.SITE``: JSON, SITE tells a sender its page was played or refused there;
- ``NAME.hello.SITE``: JSON every second: SITE is up (its name, when sent).

A page id is 16 hex digits drawn at random by the sending relay: it tells a page apart
across sites and restarts, so that a page plays at most once at each site.
"""

from __future__ import annotations

import json
import struct
import time
import uuid
from typing import Any

__all__ = [
    "FRAME",
    "KINDS",
    "decode_control",
    "decode_frame",
    "encode_frame",
    "from_other_site",
    "new_page_id",
    "sender",
    "subject",
]

#: Page id (16 ASCII bytes), sequence number, sent (seconds since the epoch).
FRAME = struct.Struct(">16sId")
#: Page id, sample rate of a shared page's audio.
AUDIO = struct.Struct(">16sI")
KINDS = ("page", "shared", "result", "hello")


def subject(prefix: str, kind: str, site: str) -> str:
    return f"{prefix}.{kind}.{site}"


def sender(msg: Any) -> str:
    """The site that sent a message: its subject's last part (``NAME.KIND.SITE``)."""
    site: str = msg.subject.rsplit(".", 1)[1]
    return site


def from_other_site(msg: Any, site: str) -> tuple[str, bytes] | None:
    """The sending site (`sender`) and the data of a message, or None for one this site
    sent itself (subscribers hear their own) or an empty one."""
    name = sender(msg)
    data: bytes = msg.data
    if name == site or not data:
        return None
    return name, data


def new_page_id() -> str:
    return uuid.uuid4().hex[:16]


def control(kind: bytes, payload: dict[str, Any]) -> bytes:
    return kind + json.dumps(payload, separators=(",", ":")).encode()


def decode_control(data: bytes) -> dict[str, Any]:
    """The payload of a `control` message (its kind byte is ``data[:1]``)."""
    payload: dict[str, Any] = json.loads(data[1:])
    return payload


def encode_frame(page: str, seq: int, frame: bytes) -> bytes:
    return b"F" + FRAME.pack(page.encode(), seq, time.time()) + frame


def decode_frame(data: bytes) -> tuple[str, int, float, bytes]:
    page, seq, sent = FRAME.unpack_from(data, 1)
    return page.decode(), seq, sent, data[1 + FRAME.size :]


def encode_audio(page: str, rate: int, pcm: bytes) -> bytes:
    return b"A" + AUDIO.pack(page.encode(), rate) + pcm


def decode_audio(data: bytes) -> tuple[str, int, bytes]:
    page, rate = AUDIO.unpack_from(data, 1)
    return page.decode(), rate, data[1 + AUDIO.size :]
