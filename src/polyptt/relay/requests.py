"""One path for a request to page, whether it came over HTTP or the WebSocket.

``POST /api/v1/pages`` (`polyptt.relay.api`) and a WebSocket ``talk`` message
(`polyptt.relay.ws`) differ only in their form: each is parsed into a `PageRequest`
(`upload_request` reads a query string's texts, `talk_request` a JSON message's
values). From there the steps are the same: `admit` checks the token's scopes (a
refusal is counted and audited), the target and the channel; the audio becomes frames
(`upload_frames` encodes a file, `live_frames` frames a talker's stream as it comes);
`start` hands the page to `polyptt.relay.talks`. Whatever refuses it raises `Refused`,
which carries both the HTTP status and the WebSocket error code that tell it.

An upload's file is the request's body (``curl --data-binary @tone.wav``, the web page)
or the one file of a ``multipart/form-data`` body (``curl -F file=@tone.wav``, an HTML
form): `upload_body` takes either, within the application's ``client_max_size``
(``max_upload_bytes``: 413 beyond), and says how to send audio when the body is neither
(`HOW_TO_SEND`). A form holds the file and nothing else: the page's options go in the
query string, and a ``channel`` field that was silently ignored would page the wrong
phones.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from polyptt import codecs
from polyptt.relay.talks import Busy, LiveLimits, Talk
from polyptt.relay.wire import FRAME_MS, RATE, ErrorCode

if TYPE_CHECKING:
    from polyptt.audio import PageAudio
    from polyptt.audio.live import LiveFrames
    from polyptt.audio.speech import Voice
    from polyptt.relay.auth import Grant
    from polyptt.relay.connections import Connection
    from polyptt.relay.state import Relay

__all__ = [
    "BUSY",
    "GAP_S",
    "HOW_TO_SEND",
    "LIVE_FRAME_MS",
    "MAX_GAIN_DB",
    "MAX_GAP_S",
    "MAX_JSON_BYTES",
    "MAX_KEEP_S",
    "MAX_RATE",
    "MAX_REPEAT",
    "MIN_GAIN_DB",
    "MIN_RATE",
    "SAY_KEYS",
    "PageRequest",
    "Refused",
    "Speech",
    "admit",
    "encode_pcm",
    "json_body",
    "live_frames",
    "pcm_frames",
    "say_request",
    "speech_frames",
    "start",
    "talk_request",
    "upload_body",
    "upload_frames",
    "upload_request",
]

MAX_REPEAT = 20
#: Silence between repeats by default (``send --gap``'s), and at most.
GAP_S = 1.0
MAX_GAP_S = 60.0
#: Gain in decibels a page may ask for (``send --gain``'s range), uploaded or live.
MIN_GAIN_DB, MAX_GAIN_DB = -96.0, 48.0
#: Frame length of live pages: the clients' frames.
LIVE_FRAME_MS = FRAME_MS
#: The most audio a live talker's page keeps waiting to ride out a network's jitter (it
#: starts at 30 ms and grows only when messages came too late for their frame).
MAX_KEEP_S = 0.3
#: Sample rates a talker's audio may have (``send --raw``'s range).
MIN_RATE, MAX_RATE = 4000, 192000
#: `Refused.code` of a busy channel (the WebSocket answers ``busy``).
BUSY = "busy"
#: How to send a page's audio, said whenever an upload's body is not some.
HOW_TO_SEND = (
    "send the audio file itself as the body (curl --data-binary @FILE) or a "
    "multipart form with one file (curl -F file=@FILE)"
)
_CHUNK = 1 << 16


class Refused(Exception):
    """A page request turned down: `status` says it over HTTP, `code` on the WebSocket.

    A busy channel's (`BUSY`) also says which `channel` and who has it (`caller_id`: a
    talker of the relay, or the caller of a page heard on the LAN); both are None
    otherwise (and when the relay is shutting down).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        channel: int | None = None,
        caller_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.channel = channel
        self.caller_id = caller_id


def _bad(message: str) -> Refused:
    return Refused(400, ErrorCode.BAD_REQUEST, message)


def _busy(exc: Busy) -> Refused:
    """409 (`BUSY`): the channel carries a page (`polyptt.receive.busy`), and whose."""
    return Refused(409, BUSY, str(exc), channel=exc.channel, caller_id=exc.caller_id)


@dataclass(frozen=True)
class PageRequest:
    """What a client asked for: where, in what codec, and how (upload or live options)."""

    channel: int
    codec: str = codecs.DEFAULT
    target: str | None = None
    gain: float = 0.0
    # an upload's
    repeat: int = 1
    gap: float = GAP_S
    duration: float | None = None
    wait: bool = False
    # a live talk's
    rate: int = RATE
    keep_pauses: bool = False
    # the sites it goes to (`polyptt.relay.sites`); None: this relay's LAN only
    sites: frozenset[str] | None = None
    # a spoken page's (a JSON body: `say_request`)
    speech: Speech | None = None


@dataclass(frozen=True)
class Speech:
    """A text to speak (``"say"``), after the chime or not, in the relay's voice unless
    the request names an espeak-ng `voice` or a `rate_wpm`."""

    text: str
    chime: bool = False
    voice: str | None = None
    rate_wpm: int | None = None


# ------------------------------------------------------------------ the two forms


def upload_request(query: Mapping[str, str]) -> PageRequest:
    """The request of ``POST /api/v1/pages?channel=26&codec=g722...``; `Refused` (400)."""
    channel = _channel(query.get("channel"))
    codec = query.get("codec", codecs.DEFAULT).lower()
    if codec not in codecs.WIRE_NAMES:
        raise _bad(f"codec {codec!r} is not one of {', '.join(codecs.WIRE_NAMES)}")
    try:
        repeat = int(query.get("repeat", "1"))
    except ValueError:
        raise _bad("repeat must be a whole number") from None
    if not 1 <= repeat <= MAX_REPEAT:
        raise _bad(f"repeat must be 1-{MAX_REPEAT}")
    return PageRequest(
        channel=channel,
        codec=codec,
        target=query.get("target"),
        repeat=repeat,
        wait=query.get("wait", "0") in ("1", "true", "yes"),
        gap=_text_number(query, "gap", GAP_S, 0.0, MAX_GAP_S) or 0.0,
        gain=_text_number(query, "gain", 0.0, MIN_GAIN_DB, MAX_GAIN_DB) or 0.0,
        duration=_text_number(query, "duration", None, 0.0, None),
        sites=_sites(query.get("sites")),
    )


def talk_request(message: Mapping[str, Any]) -> PageRequest:
    """The request of a WebSocket ``{"type": "talk", "channel": 26, ...}``; `Refused` (400)."""
    from polyptt.protocol import parse_channel

    try:
        channel = parse_channel(str(message.get("channel")))
    except ValueError as exc:
        raise _bad(str(exc)) from None
    codec = str(message.get("codec", codecs.DEFAULT)).lower()
    target = message.get("target")
    try:
        rate = _json_number(message, "rate", RATE, MIN_RATE, MAX_RATE, whole=True)
        gain = _json_number(message, "gain", 0.0, MIN_GAIN_DB, MAX_GAIN_DB)
    except ValueError as exc:
        raise _bad(str(exc)) from None
    if codec not in codecs.WIRE_NAMES:
        raise _bad(f"codec must be one of {', '.join(codecs.WIRE_NAMES)}")
    info = codecs.info(codec)
    if not info.live:
        lengths = "/".join(map(str, info.frame_ms))
        raise _bad(f"{codec} is sent in {lengths} ms frames: not for live talk")
    if target is not None and not isinstance(target, str):
        raise _bad("target must be a target's name")
    return PageRequest(
        channel=channel,
        codec=codec,
        target=target,
        gain=gain,
        rate=int(rate),
        keep_pauses=bool(message.get("keep_pauses", False)),
        sites=_sites(message.get("sites")),
    )


def _sites(value: Any) -> frozenset[str] | None:
    """``sites`` (``north,south``, ``all``, or a JSON list); `Refused` (400)."""
    from polyptt.relay.sites.config import parse_sites

    if value is not None and not isinstance(value, (str, list)):
        raise _bad("sites must be site names (north,south) or all")
    try:
        return parse_sites(value)
    except ValueError as exc:
        raise _bad(str(exc)) from None


#: The keys of a spoken page's JSON body: the upload's query options, as JSON values,
#: with ``say`` (required), ``chime``, ``voice`` and ``rate`` (words per minute).
SAY_KEYS = (
    *("channel", "say", "chime", "voice", "rate"),
    *("codec", "target", "repeat", "gap", "gain", "duration", "wait", "sites"),
)
#: The largest JSON body a spoken page may have (its text is at most 10,000 characters).
MAX_JSON_BYTES = 64 << 10


async def json_body(request: web.Request) -> dict[str, Any]:
    """A JSON page request's object, read within `MAX_JSON_BYTES`; `Refused` (400, 413)."""
    import json

    if request.query:
        raise _bad("with a JSON body the page's options go in the JSON, not the query")
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise Refused(413, ErrorCode.BAD_REQUEST, f"a JSON body is at most {MAX_JSON_BYTES} bytes")
    body = await request.content.read(MAX_JSON_BYTES + 1)
    if len(body) > MAX_JSON_BYTES:
        raise Refused(413, ErrorCode.BAD_REQUEST, f"a JSON body is at most {MAX_JSON_BYTES} bytes")
    try:
        message = json.loads(body)
    except ValueError:
        raise _bad('the body is not JSON: send {"channel": 26, "say": "TEXT"}') from None
    if not isinstance(message, dict):
        raise _bad('the body must be a JSON object: {"channel": 26, "say": "TEXT"}')
    return message


def say_request(message: Mapping[str, Any]) -> PageRequest:
    """The request of ``{"channel": 26, "say": "TEXT", "chime": true, ...}`` (`SAY_KEYS`);
    `Refused` (400) for an unknown key or a value out of range, as the query's."""
    from polyptt.audio.speech import MAX_RATE_WPM, MIN_RATE_WPM, clean_text
    from polyptt.errors import BadInput

    unknown = sorted(set(message) - set(SAY_KEYS))
    if unknown:
        raise _bad(f"unknown keys {unknown}; a spoken page takes {', '.join(SAY_KEYS)}")
    text, voice = message.get("say"), message.get("voice")
    if not isinstance(text, str):
        raise _bad('say must be the text to speak: {"channel": 26, "say": "TEXT"}')
    try:
        clean_text(text)
    except BadInput as exc:
        raise _bad(f"say: {exc}") from None
    flags = {key: message.get(key, False) for key in ("chime", "wait")}
    for key, value in [*flags.items(), ("voice", voice), ("target", message.get("target"))]:
        if value is not None and not isinstance(value, bool if key in flags else str):
            raise _bad(f"{key} must be {'true or false' if key in flags else 'a name'}")
    try:
        rate = message.get("rate")
        if rate is not None:
            rate = int(_json_number(message, "rate", 0, MIN_RATE_WPM, MAX_RATE_WPM, whole=True))
        repeat = int(_json_number(message, "repeat", 1, 1, MAX_REPEAT, whole=True))
        gap = _json_number(message, "gap", GAP_S, 0.0, MAX_GAP_S)
        gain = _json_number(message, "gain", 0.0, MIN_GAIN_DB, MAX_GAIN_DB)
        duration = message.get("duration")
        if duration is not None:
            duration = _json_number(message, "duration", 0, 0.001, 86400.0)
    except ValueError as exc:
        raise _bad(str(exc)) from None
    if "channel" not in message:
        raise _bad('channel is required: {"channel": 26, "say": "TEXT"}')
    codec = str(message.get("codec", codecs.DEFAULT)).lower()
    if codec not in codecs.WIRE_NAMES:
        raise _bad(f"codec {codec!r} is not one of {', '.join(codecs.WIRE_NAMES)}")
    return PageRequest(
        channel=_channel(str(message["channel"])),
        codec=codec,
        target=message.get("target"),
        repeat=repeat,
        gap=gap,
        gain=gain,
        duration=duration,
        wait=flags["wait"],
        speech=Speech(text, flags["chime"], voice, rate),
        sites=_sites(message.get("sites")),
    )


def _channel(text: str | None) -> int:
    from polyptt.protocol import parse_channel

    if text is None:
        raise _bad("channel is required, e.g. ?channel=26")
    try:
        return parse_channel(text)
    except ValueError as exc:
        raise _bad(str(exc)) from None


def _text_number(
    query: Mapping[str, str], key: str, default: float | None, low: float, high: float | None
) -> float | None:
    """``query[key]`` as a number within [low, high] (no bound if None), or `default`."""
    text = query.get(key)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise _bad(f"{key} must be a number") from None
    within = low <= value and (high is None or value <= high) and math.isfinite(value)
    if not within or (key == "duration" and not value):
        bounds = f"from {low:g} to {high:g}" if high is not None else f"above {low:g}"
        raise _bad(f"{key} must be {bounds}")
    return value


def _json_number(
    message: Mapping[str, Any],
    key: str,
    default: float,
    low: float,
    high: float,
    whole: bool = False,
) -> float:
    """``message[key]``, a number within [low, high] (a whole one if `whole`), or `default`."""
    value = message.get(key, default)
    kind = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
        what = "a whole number" if whole else "a number"
        raise ValueError(f"{key} must be {what} from {low:g} to {high:g}")
    return float(value)


# ------------------------------------------------------------------ the one path


def admit(relay: Relay, grant: Grant, page: PageRequest, remote: str) -> None:
    """May `grant` page as `page` asks, now? `Refused` says why not.

    A refusal of the token's scopes is counted and audited (403, ``forbidden``); an
    unknown target is a 400 (only once the token may page it: a token learns nothing of
    the targets it may not); a busy channel is a 409 (`BUSY`): another talker of the
    relay has it, or a page heard on the LAN does (`polyptt.receive.busy`).
    """
    refusal = grant.refusal(page.channel, page.target)
    if refusal is not None:
        relay.metrics.pages_refused += 1
        relay.audit.log(
            "page_refused",
            who=grant.name,
            channel=page.channel,
            target=page.target,
            reason=refusal,
            remote=remote,
        )
        raise Refused(403, ErrorCode.FORBIDDEN, refusal)
    _admit_sites(relay, grant, page, remote)
    if page.target is not None and page.target not in relay.settings.config.targets:
        raise _bad(f"no target named {page.target!r}")
    try:
        relay.talks.check_free(page.channel)
    except Busy as exc:
        raise _busy(exc) from None


def _admit_sites(relay: Relay, grant: Grant, page: PageRequest, remote: str) -> None:
    """May `grant` page the sites `page` names (403), and can this relay (400)?"""
    if page.sites is None:
        return
    own = relay.settings.config.site
    refusal = grant.site_refusal(page.sites, own)
    if refusal is not None:
        relay.metrics.pages_refused += 1
        relay.audit.log(
            "page_refused", who=grant.name, channel=page.channel, reason=refusal, remote=remote
        )
        raise Refused(403, ErrorCode.FORBIDDEN, refusal)
    if relay.sites is None and page.sites - {own}:
        raise _bad("this relay is not joined to other sites (no [nats] in its configuration)")
    sites = relay.sites
    if sites is None or not sites.remote(page.sites):
        return
    if page.target is not None:
        raise _bad("a named target is on this relay's LAN: not for other sites")
    if not sites.link.up and not sites.here(page.sites):
        raise Refused(503, ErrorCode.NETWORK, "the link to the other sites is down")


async def upload_body(request: web.Request) -> bytes:
    """The audio file of an upload (HTTP only): its body, or its form's one file.

    `Refused`: no body, a form without exactly one file (or with other fields) (400), or
    more than the relay takes (413).
    """
    if request.content_type == "multipart/form-data":
        return await _form_file(request)
    body = await request.read()  # the application's client_max_size bounds it (413)
    if not body:
        raise _bad(f"the request has no body: {HOW_TO_SEND}")
    return body


async def _form_file(request: web.Request) -> bytes:
    """The one file part of a multipart form, read within the upload limit."""
    try:
        reader = await request.multipart()
        audio: bytes | None = None
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise _bad("a form inside the form: send one file")
            if part.filename is None:
                raise _bad(
                    f"the form's field {part.name!r} is not a file: the form holds the audio "
                    "file only, and options go in the query (?channel=26&codec=g722)"
                )
            if audio is not None:
                raise _bad("the form holds more than one file: send one")
            audio = await _read_part(part, request.client_max_size)
    except ValueError as exc:  # a boundary or header aiohttp cannot parse
        raise _bad(f"a multipart form that cannot be read ({exc})") from None
    if audio is None:
        raise _bad(f"the form holds no file: {HOW_TO_SEND}")
    if not audio:
        raise _bad("the form's file is empty")
    return audio


async def _read_part(part: BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        data += chunk
        if len(data) > limit:
            raise Refused(
                413,
                ErrorCode.BAD_REQUEST,
                f"the file is larger than the relay takes ({limit} bytes)",
            )
    return bytes(data)


async def upload_frames(relay: Relay, page: PageRequest, body: bytes) -> PageAudio:
    """An uploaded file (`upload_body`) as the page's frames (encoded in a worker thread:
    the slow part), cut to its ``duration``; `Refused` (400) for bad audio or audio over
    the limit."""
    frame_ms = relay.settings.frame_ms
    limit = relay.settings.config.limits.max_page_s
    loop = asyncio.get_running_loop()
    audio = await loop.run_in_executor(None, _encode, body, page, frame_ms, limit)
    return _cut(audio, page, frame_ms, limit)


async def pcm_frames(relay: Relay, page: PageRequest, pcm: Any, rate: int) -> PageAudio:
    """Samples already in memory (mono int16 at `rate`: speech, a chime) as the page's
    frames, as `upload_frames` makes a file's: encoded in a worker thread, within the
    relay's ``max_page_s`` (checked before anything is sent), cut to ``duration``;
    `Refused` (400) for audio over the limit. `encode_pcm` is the same, blocking."""
    frame_ms = relay.settings.frame_ms
    limit = relay.settings.config.limits.max_page_s
    return await asyncio.to_thread(encode_pcm, page, pcm, rate, frame_ms, limit)


def encode_pcm(
    page: PageRequest, pcm: Any, rate: int, frame_ms: int, limit: float, name: str = "the audio"
) -> PageAudio:
    """`pcm_frames`, blocking (for a worker thread that prepares a page ahead); `name`
    names the audio in a refusal."""
    from polyptt.audio.files import AudioError, pcm_page, shaping

    try:
        audio = pcm_page(pcm, rate, page.codec, frame_ms, name=name, **shaping(page, limit))
    except AudioError as exc:
        raise _bad(f"bad audio: {exc}") from None
    return _cut(audio, page, frame_ms, limit)


async def speech_frames(relay: Relay, page: PageRequest) -> PageAudio:
    """A spoken page's text (`say_request`) as its frames: synthesized and encoded in a
    worker thread, in the relay's voice (``[tts]``) or the request's espeak-ng voice and
    rate, within ``max_page_s``. `Refused`: 400 for a text the engine refuses or speech
    longer than the limit; 503 when the relay has no engine (what to install)."""
    from polyptt.errors import BadInput, Missing

    assert page.speech is not None
    speech = page.speech
    voice = relay.settings.config.tts
    if speech.voice is not None and voice.engine != "espeak-ng":
        raise _bad(f"voice: this relay speaks with {voice.engine} (its [tts] voice only)")
    voice = dataclasses.replace(
        voice,
        voice=speech.voice if speech.voice is not None else voice.voice,
        rate_wpm=speech.rate_wpm if speech.rate_wpm is not None else voice.rate_wpm,
    )
    frame_ms = relay.settings.frame_ms
    limit = relay.settings.config.limits.max_page_s
    try:
        return await asyncio.to_thread(_speak, page, speech, voice, frame_ms, limit)
    except Missing as exc:
        raise Refused(503, ErrorCode.BAD_REQUEST, str(exc)) from None
    except BadInput as exc:
        raise _bad(f"say: {exc}") from None


def _speak(
    page: PageRequest, speech: Speech, voice: Voice, frame_ms: int, limit: float
) -> PageAudio:
    from polyptt.audio.speech import spoken_audio

    pcm, rate = spoken_audio(speech.text, voice, chime=speech.chime)
    return encode_pcm(page, pcm, rate, frame_ms, limit, name="the speech")


def _cut(audio: PageAudio, page: PageRequest, frame_ms: int, limit: float) -> PageAudio:
    """A page's frames cut at its ``duration``, refused (400) past `limit`."""
    frames = audio.frames
    if page.duration is not None:  # as send --duration: the page ends after it
        frames = frames[: max(1, math.ceil(page.duration * 1000 / frame_ms))]
    duration_s = len(frames) * frame_ms / 1000
    if duration_s > limit:
        raise _bad(f"the audio lasts {duration_s:.1f} s; limit: {limit:g} s")
    return dataclasses.replace(audio, frames=frames, duration_s=duration_s)


def _encode(body: bytes, page: PageRequest, frame_ms: int, limit: float) -> PageAudio:
    """The upload encoded; its header is checked against `limit` (``max_page_s``) before
    any sample is decoded, and decoding stops once it is passed (`polyptt.audio.files`),
    so a few kilobytes that declare hours cost no more than `limit` seconds would."""
    from polyptt.audio import load_page
    from polyptt.audio.files import NotAudioError, shaping

    with tempfile.NamedTemporaryFile(prefix="polyptt-upload-") as file:
        file.write(body)
        file.flush()
        try:
            return load_page(file.name, page.codec, frame_ms, **shaping(page, limit))
        except Exception as exc:
            message = str(exc).replace(file.name, "the uploaded audio")
            if isinstance(exc, NotAudioError):  # a form sent as the body, a text...
                message = f"{message}; {HOW_TO_SEND}"
            raise _bad(f"bad audio: {message}") from None


def live_frames(page: PageRequest) -> LiveFrames:
    """A talker's stream as the page's frames, framed as it comes.

    A talker catches up after the alerts by shortening pauses (unless ``keep_pauses``),
    and one whose messages come in fits keeps more audio waiting
    (`polyptt.audio.catchup`).
    """
    from polyptt.audio.catchup import CatchUp
    from polyptt.audio.framer import Framer
    from polyptt.audio.live import LiveFrames

    catch_up = None if page.keep_pauses else CatchUp(page.rate, max_keep_s=MAX_KEEP_S)
    framer = Framer(page.codec, LIVE_FRAME_MS, input_rate=page.rate, gain_db=page.gain)
    return LiveFrames(framer, catch_up=catch_up or False)


def start(
    relay: Relay,
    frames: Any,
    page: PageRequest,
    *,
    grant: Grant,
    digest: str,
    frame_ms: int,
    via: str,
    remote: str,
    max_frames: int | None = None,
    talker: Connection | None = None,
    live_limits: LiveLimits | None = None,
) -> Talk:
    """Start the page now (`polyptt.relay.talks.Talks.start`); `Refused` if the channel
    was taken meanwhile (409) or the target's socket fails (502)."""
    from polyptt.transport import NetworkError

    sink = _site_sink(relay, page, grant, frame_ms)
    try:
        talk = relay.talks.start(
            frames,
            grant=grant,
            digest=digest,
            channel=page.channel,
            codec=page.codec,
            frame_ms=frame_ms,
            via=via,
            remote=remote,
            target=page.target,
            max_frames=max_frames,
            talker=talker,
            live_limits=live_limits,
            sink=sink,
        )
    except Busy as exc:
        raise _busy(exc) from None
    except NetworkError as exc:
        raise Refused(502, ErrorCode.NETWORK, str(exc)) from None
    if sink is not None and relay.sites is not None:
        relay.sites.started(sink, talk)
    return talk


def _site_sink(relay: Relay, page: PageRequest, grant: Grant, frame_ms: int) -> Any:
    """The sink of a page to other sites (`polyptt.relay.sites`), None for a local one."""
    sites = relay.sites
    if page.sites is None or sites is None or not sites.remote(page.sites):
        return None
    fields = {
        "channel": page.channel,
        "codec": page.codec,
        "frame_ms": frame_ms,
        "caller_id": grant.name,
    }
    return sites.sink(page.sites, relay.talks.sink_for(None), fields)
