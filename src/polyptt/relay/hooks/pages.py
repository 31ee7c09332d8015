"""Pages asked for over MQTT: the message checked, then the relay's one page path.

``<topic>/page/set`` carries ``{"channel": 26, "say": "text", "chime": true}`` or
``{"channel": 26, "audio": "NAME"}`` (optionally ``"codec"``). What may be paged is the
configuration's, never the message's: the channel must be one of ``announce_channels``,
and ``audio`` names an entry of the ``[audio]`` table (a path in a message is only an
unknown name). Whatever is wrong is `polyptt.relay.requests.Refused`, told on
``<topic>/error`` by the caller, and nothing is sent.

From there a page is a page: `polyptt.relay.requests.admit` (the MQTT grant's channels,
a busy channel), the audio as frames (`pcm_frames` for speech, `upload_frames` for a
file: the relay's bounds and ``max_page_s`` checked before anything is sent), and
`polyptt.relay.requests.start` with ``via="mqtt"``. The pages go out under the caller id
`CALLER_ID`; the MQTT credentials and the broker's ACLs decide who may send them (see
docs/mqtt.md).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyptt import codecs
from polyptt.relay import requests
from polyptt.relay.auth import Grant
from polyptt.relay.requests import PageRequest, Refused
from polyptt.relay.wire import ErrorCode

if TYPE_CHECKING:
    from polyptt.relay.state import Relay
    from polyptt.relay.talks import Talk

__all__ = ["CALLER_ID", "REMOTE", "mqtt_grant", "page_request", "start_page"]

#: The caller id of pages asked for over MQTT (a token's name is its caller id).
CALLER_ID = "MQTT"
#: What the audit log says such a page came from.
REMOTE = "mqtt"
#: The longest ``say`` text taken from a message.
MAX_SAY_CHARS = 2000
_KEYS = {"channel", "say", "chime", "audio", "codec", "sites"}


def _bad(message: str) -> Refused:
    return Refused(400, ErrorCode.BAD_REQUEST, message)


def mqtt_grant(announce_channels: tuple[int, ...]) -> Grant:
    """What MQTT may do: talk on the announce channels (priority ones included only if
    the configuration lists them: listing them is the decision)."""
    scopes = frozenset({"talk", "emergency"})
    return Grant(CALLER_ID, scopes, frozenset(announce_channels), sites=None)  # any site


def page_request(payload: bytes, announce_channels: tuple[int, ...]) -> dict[str, Any]:
    """The message of ``page/set``, checked: its keys and values (`Refused` otherwise)."""
    from polyptt.protocol import parse_channel

    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(f"bad JSON: {exc}") from None
    if not isinstance(message, dict):
        raise _bad('the message must be a JSON object like {"channel": 26, "say": "..."}')
    unknown = set(message) - _KEYS
    if unknown:
        raise _bad(f"unknown keys {sorted(unknown)} (expected some of {sorted(_KEYS)})")
    try:
        channel = parse_channel(str(message.get("channel")))
    except ValueError as exc:
        raise _bad(str(exc)) from None
    if channel not in announce_channels:
        allowed = ", ".join(map(str, announce_channels)) or "none"
        raise Refused(
            403, ErrorCode.FORBIDDEN, f"channel {channel} is not announced over MQTT ({allowed})"
        )
    say, audio = message.get("say"), message.get("audio")
    if (say is None) == (audio is None):
        raise _bad('give one of "say" (a text) or "audio" (a name from [audio])')
    if say is not None and (not isinstance(say, str) or not say.strip()):
        raise _bad('"say" must be a text')
    if say is not None and len(say) > MAX_SAY_CHARS:
        raise _bad(f'"say" is longer than {MAX_SAY_CHARS} characters')
    if audio is not None and not isinstance(audio, str):
        raise _bad('"audio" must be the name of a file in [audio]')
    codec = str(message.get("codec", codecs.DEFAULT)).lower()
    if codec not in codecs.WIRE_NAMES:
        raise _bad(f"codec must be one of {', '.join(codecs.WIRE_NAMES)}")
    _sites(message)
    return {**message, "channel": channel, "codec": codec, "chime": bool(message.get("chime"))}


def _sites(message: dict[str, Any]) -> frozenset[str] | None:
    """The message's ``sites`` (``"south,east"``, ``"all"`` or a list; `polyptt.relay.sites`)."""
    from polyptt.relay.sites.config import parse_sites

    value = message.get("sites")
    if value is not None and not isinstance(value, (str, list)):
        raise _bad('"sites" must be site names ("south,east" or a list) or "all"')
    try:
        return parse_sites(value)
    except ValueError as exc:
        raise _bad(str(exc)) from None


async def start_page(relay: Relay, message: dict[str, Any], audio: dict[str, Path]) -> Talk:
    """Page `message` (from `page_request`) through `polyptt.relay.requests`; `Refused`
    (an unknown audio name, a busy channel, speech that cannot be made) sends nothing."""
    channels = relay.settings.config.hooks.mqtt
    grant = mqtt_grant(channels.announce_channels if channels else (message["channel"],))
    page = PageRequest(channel=message["channel"], codec=message["codec"], sites=_sites(message))
    name = message.get("audio")
    if name is not None and name not in audio:
        known = ", ".join(sorted(audio)) or "none in the configuration"
        raise _bad(f"no audio named {name!r} in [audio] ({known})")
    requests.admit(relay, grant, page, REMOTE)
    if name is not None:
        body = await asyncio.to_thread(_read, audio[name])
        frames = await requests.upload_frames(relay, page, body)
    else:
        frames = await _speech(relay, page, message["say"], message["chime"])
    return requests.start(
        relay,
        frames.frames,
        page,
        grant=grant,
        digest="",  # no token: never cut off as revoked
        frame_ms=relay.settings.frame_ms,
        via="mqtt",
        remote=REMOTE,
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _bad(f"the configured audio cannot be read ({exc.strerror or exc})") from None


async def _speech(relay: Relay, page: PageRequest, text: str, chime: bool) -> Any:
    """`text` spoken (after the chime), as the page's frames."""
    from polyptt.audio.speech import spoken_audio
    from polyptt.errors import BadInput

    try:
        pcm, rate = await asyncio.to_thread(spoken_audio, text, chime=chime)
    except BadInput as exc:  # no engine (Missing) too: said on <topic>/error
        raise _bad(f"cannot speak: {exc}") from None
    return await requests.pcm_frames(relay, page, pcm, rate)
