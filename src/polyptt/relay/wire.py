"""The relay's wire facts, the one copy: what its clients send and receive.

The relay (`polyptt.relay.hub`, `polyptt.relay.ws`), its Python client
(`polyptt.remote`) and its web page (served as the generated module ``/wire.js``, see
`polyptt.relay.webpage`) all take them from here. It imports nothing but the standard
library, so a client that only talks to a relay loads none of the server.

Audio is PCM16LE mono at `RATE` both ways. A listener gets each page's audio as binary
messages of an `AUDIO_HEADER` (page id, frame number) then `FRAME_SAMPLES` samples
(the last message of a page may be shorter); a talker sends bare PCM, `FRAME_SAMPLES`
a message being best. Everything else is a JSON text message whose ``type`` is a
`MessageType`; errors say an `ErrorCode`.
"""

from __future__ import annotations

import enum
import struct

__all__ = [
    "AUDIO_HEADER",
    "AUDIO_HEADER_FIELDS",
    "FRAME_BYTES",
    "FRAME_MS",
    "FRAME_SAMPLES",
    "IDLE_CLOSE_CODE",
    "IDLE_REASON",
    "PAGES_PATH",
    "RATE",
    "SCHEDULES_PATH",
    "SESSION_PATH",
    "WS_PATH",
    "ErrorCode",
    "MessageType",
]

#: Audio to and from clients: PCM16LE mono at this rate (G.722's, the phones' best).
RATE = 16000
#: Samples of one audio message to a listener: 20 ms, also the relay's live page frame.
FRAME_SAMPLES = 320
FRAME_MS = FRAME_SAMPLES * 1000 // RATE
FRAME_BYTES = FRAME_SAMPLES * 2
#: Header of a binary message to a listener: page id, frame number (unsigned 32-bit
#: big-endian each); the PCM follows.
AUDIO_HEADER = struct.Struct(">II")
AUDIO_HEADER_FIELDS = ("page", "frame")

#: The API's paths.
WS_PATH = "/api/v1/ws"
PAGES_PATH = "/api/v1/pages"
SESSION_PATH = "/api/v1/session"
SCHEDULES_PATH = "/api/v1/schedules"

#: The close code (1001, going away) and reason of a connection that was idle too long.
IDLE_CLOSE_CODE = 1001
IDLE_REASON = "idle"


class _Text(str, enum.Enum):
    """A string enumeration that reads, prints and formats as its value."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class MessageType(_Text):
    """The ``type`` of a JSON message on the WebSocket (equal to its string)."""

    # client -> relay
    LISTEN = "listen"
    TALK = "talk"
    STOP = "stop"
    # relay -> client
    HELLO = "hello"
    LISTENING = "listening"
    PAGE_START = "page_start"
    PAGE_END = "page_end"
    TALKING = "talking"
    BUSY = "busy"
    STOPPED = "stopped"
    ERROR = "error"


class ErrorCode(_Text):
    """The ``code`` of an ``error`` message (equal to its string)."""

    BAD_JSON = "bad_json"
    UNKNOWN_TYPE = "unknown_type"
    BAD_REQUEST = "bad_request"
    FORBIDDEN = "forbidden"
    ALREADY_TALKING = "already_talking"
    NOT_TALKING = "not_talking"
    BAD_AUDIO = "bad_audio"
    TOO_FAST = "too_fast"
    NETWORK = "network"
