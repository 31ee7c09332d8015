"""The HTTP API: page with a file, list recent pages, fetch a recording, health, metrics.

``POST /api/v1/pages?channel=26[&codec=g722&target=NAME&repeat=N&gap=S&gain=DB
&duration=S&wait=1]`` (the options mean what ``polyptt send``'s do) takes an audio
file (anything ``polyptt send`` reads) as its body or as the one file of a multipart
form (`polyptt.relay.upload`), decodes and encodes it all in a
worker thread first (a bad file is a 400 and nothing is sent), then pages: 202 with the
page's id at once, or 200 with its report after the end packets with ``wait=1``. 409
when one of the relay's talkers has the channel.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from polyptt.relay.hub import Metrics
from polyptt.relay.security import COOKIE, client_address, client_scheme, grant_of, json_error
from polyptt.relay.state import RELAY, Relay
from polyptt.relay.talks import Busy
from polyptt.relay.upload import HOW_TO_SEND, UploadError, read_audio

__all__ = ["routes"]

#: Codecs a page may be sent in.
CODECS = ("g722", "g711u", "g726qi")
MAX_REPEAT = 20
#: Silence between repeats by default (``send --gap``'s), and at most.
GAP_S = 1.0
MAX_GAP_S = 60.0
#: Gain in decibels a page may ask for (``send --gain``'s range), uploaded or live.
MIN_GAIN_DB, MAX_GAIN_DB = -96.0, 48.0


class _BadRequest(Exception):
    pass


def _channel(text: str | None) -> int:
    from polyptt.protocol import parse_channel

    if text is None:
        raise _BadRequest("channel is required, e.g. ?channel=26")
    try:
        return parse_channel(text)
    except ValueError as exc:
        raise _BadRequest(str(exc)) from None


def _page_options(relay: Relay, query: Any) -> dict[str, Any]:
    channel = _channel(query.get("channel"))
    codec = query.get("codec", "g722").lower()
    if codec not in CODECS:
        raise _BadRequest(f"codec {codec!r} is not one of {', '.join(CODECS)}")
    target = query.get("target")
    try:
        repeat = int(query.get("repeat", "1"))
    except ValueError:
        raise _BadRequest("repeat must be a whole number") from None
    if not 1 <= repeat <= MAX_REPEAT:
        raise _BadRequest(f"repeat must be 1-{MAX_REPEAT}")
    wait = query.get("wait", "0") in ("1", "true", "yes")
    return {
        "channel": channel,
        "codec": codec,
        "target": target,
        "repeat": repeat,
        "wait": wait,
        "gap": _number(query, "gap", GAP_S, 0.0, MAX_GAP_S),
        "gain": _number(query, "gain", 0.0, MIN_GAIN_DB, MAX_GAIN_DB),
        "duration": _number(query, "duration", None, 0.0, None),
    }


def _number(
    query: Any, key: str, default: float | None, low: float, high: float | None
) -> float | None:
    text = query.get(key)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise _BadRequest(f"{key} must be a number") from None
    within = low <= value and (high is None or value <= high) and math.isfinite(value)
    if not within or (key == "duration" and not value):
        bounds = f"from {low:g} to {high:g}" if high is not None else f"above {low:g}"
        raise _BadRequest(f"{key} must be {bounds}")
    return value


def _encode(body: bytes, codec: str, frame_ms: int, repeat: int, gap: float, gain: float) -> Any:
    """The body as a page's frames (in a worker thread: this is the slow part)."""
    from polyptt.audio import load_page
    from polyptt.audio.files import NotAudioError

    with tempfile.NamedTemporaryFile(prefix="polyptt-upload-") as file:
        file.write(body)
        file.flush()
        try:
            return load_page(file.name, codec, frame_ms, repeat=repeat, gap_s=gap, gain_db=gain)
        except Exception as exc:
            message = str(exc).replace(file.name, "the uploaded audio")
            if isinstance(exc, NotAudioError):
                message = f"{message}; {HOW_TO_SEND}"
            raise _BadRequest(message) from None


async def post_page(request: web.Request) -> web.StreamResponse:
    relay = request.app[RELAY]
    grant, digest = grant_of(request)
    try:
        options = _page_options(relay, request.query)
    except _BadRequest as exc:
        return json_error(400, str(exc))
    channel, target = options["channel"], options["target"]
    refusal = grant.refusal(channel, target)
    if refusal is not None:
        relay.metrics.pages_refused += 1
        relay.audit.log(
            "page_refused",
            who=grant.name,
            channel=channel,
            target=target,
            reason=refusal,
            remote=client_address(request),
        )
        return json_error(403, refusal)
    if target is not None and target not in relay.settings.config.targets:
        return json_error(400, f"no target named {target!r}")
    try:
        relay.talks.check_free(channel)
    except Busy as exc:
        return json_error(409, str(exc))
    try:
        body = await read_audio(request)
    except UploadError as exc:
        return json_error(exc.status, str(exc))
    frame_ms = relay.settings.frame_ms
    loop = asyncio.get_running_loop()
    try:
        audio = await loop.run_in_executor(
            None,
            _encode,
            body,
            options["codec"],
            frame_ms,
            options["repeat"],
            options["gap"],
            options["gain"],
        )
    except _BadRequest as exc:
        return json_error(400, f"bad audio: {exc}")
    frames = audio.frames
    if options["duration"] is not None:  # as send --duration: the page ends after it
        frames = frames[: max(1, math.ceil(options["duration"] * 1000 / frame_ms))]
    limit = relay.settings.config.limits.max_page_s
    duration_s = len(frames) * frame_ms / 1000
    if duration_s > limit:
        return json_error(400, f"the audio lasts {duration_s:.1f} s; limit: {limit:g} s")
    from polyptt.transport import NetworkError

    try:
        talk = relay.talks.start(
            frames,
            grant=grant,
            digest=digest,
            channel=channel,
            codec=options["codec"],
            frame_ms=frame_ms,
            via="http",
            remote=client_address(request),
            target=target,
        )
    except Busy as exc:
        return json_error(409, str(exc))
    except NetworkError as exc:
        return json_error(502, str(exc))
    answer: dict[str, Any] = {
        "page": talk.page_id,
        "channel": channel,
        "codec": options["codec"],
        "frames": len(frames),
        "clipped_samples": audio.clipped,
    }
    if not options["wait"]:
        return web.json_response(answer, status=202)
    report = await talk.wait()
    answer.update(
        transmits=report.transmits, alerts=report.alerts, ends=report.ends, outcome=talk.outcome
    )
    return web.json_response(answer)


async def list_pages(request: web.Request) -> web.StreamResponse:
    grant, _ = grant_of(request)
    if "listen" not in grant.scopes:
        return json_error(403, "this token may not listen")
    relay = request.app[RELAY]
    return web.json_response({"pages": list(reversed(relay.hub.recent.values()))})


async def page_wav(request: web.Request) -> web.StreamResponse:
    grant, _ = grant_of(request)
    if "listen" not in grant.scopes:
        return json_error(403, "this token may not listen")
    relay = request.app[RELAY]
    path: Path | None = relay.hub.recordings.get(int(request.match_info["id"]))
    if path is None or not path.is_file():
        return json_error(404, "no such recording")
    return web.FileResponse(path, headers={"Content-Type": "audio/wav"})


async def start_session(request: web.Request) -> web.StreamResponse:
    """Turn a Bearer token into the browser cookie (HttpOnly, SameSite=Strict)."""
    grant, _ = grant_of(request)
    relay = request.app[RELAY]
    header = request.headers.get("Authorization", "")
    token = header.partition(" ")[2].strip()
    if not token:
        return json_error(400, "send the token as Authorization: Bearer TOKEN")
    response = web.json_response({"name": grant.name, "scopes": sorted(grant.scopes)})
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        secure=relay.settings.tls or client_scheme(request) == "https",
        samesite="Strict",
        path="/",
    )
    return response


async def session_info(request: web.Request) -> web.StreamResponse:
    """Who the token (or the session cookie) is, and what the page needs to offer it.

    ``talk_channels`` are the channels it may talk on (priority and emergency ones only
    with the ``emergency`` scope), ``urgent`` those among them the page confirms first,
    ``targets`` the named phones it may page (as the WebSocket's ``hello`` says).
    """
    from polyptt.protocol import Priority, channel_priority

    grant, _ = grant_of(request)
    relay = request.app[RELAY]
    config = relay.settings.config
    talk_channels = [c for c in sorted(grant.channels) if grant.refusal(c) is None]
    urgent = {
        str(c): channel_priority(c).name.lower()
        for c in talk_channels
        if channel_priority(c) is not Priority.NORMAL
    }
    return web.json_response(
        {
            "name": grant.name,
            "scopes": sorted(grant.scopes),
            "channels": {str(k): v for k, v in sorted(config.channel_names.items())},
            "talk_channels": talk_channels,
            "urgent": urgent,
            "targets": sorted(t for t in config.targets if grant.may_page(t)),
            "recording": relay.settings.record is not None,
            "max_page_s": config.limits.max_page_s,
        }
    )


async def healthz(request: web.Request) -> web.StreamResponse:
    relay = request.app[RELAY]
    return web.json_response({"status": "ok", "talkers": len(relay.talks.by_channel)})


async def metrics(request: web.Request) -> web.StreamResponse:
    relay = request.app[RELAY]
    return web.Response(text=render_metrics(relay), content_type="text/plain", charset="utf-8")


def render_metrics(relay: Relay) -> str:
    """The counters in Prometheus text format (version 0.0.4)."""
    counters: Metrics = relay.metrics
    lines: list[str] = []

    def add(name: str, kind: str, help_text: str, value: float) -> None:
        lines.extend(
            (f"# HELP polyptt_relay_{name} {help_text}", f"# TYPE polyptt_relay_{name} {kind}")
        )
        lines.append(f"polyptt_relay_{name} {value:g}")

    add("pages_sent_total", "counter", "Pages the relay sent.", counters.pages_sent)
    add("pages_heard_total", "counter", "Pages heard on the LAN.", counters.pages_heard)
    add("pages_refused_total", "counter", "Page requests refused.", counters.pages_refused)
    add("frames_repaired_total", "counter", "Heard frames repaired.", counters.frames_repaired)
    add("frames_concealed_total", "counter", "Heard frames concealed.", counters.frames_concealed)
    add("logins_refused_total", "counter", "Requests without a token.", counters.logins_refused)
    add("listeners_dropped_total", "counter", "Slow listeners dropped.", counters.listeners_dropped)
    add(
        "audio_throttled_seconds_total",
        "counter",
        "Live audio dropped for running ahead of real time.",
        counters.audio_throttled_samples / 16000,
    )
    add("talkers", "gauge", "Pages being sent now.", len(relay.talks.by_channel))
    add("listeners", "gauge", "WebSocket listeners now.", len(relay.hub.clients))
    add("connections", "gauge", "WebSocket connections now.", len(relay.clients))
    return "\n".join(lines) + "\n"


def routes() -> list[web.RouteDef]:
    """The HTTP routes (the WebSocket's is added by `polyptt.relay.app`)."""
    return [
        web.post("/api/v1/pages", post_page),
        web.get("/api/v1/pages", list_pages),
        web.get(r"/api/v1/pages/{id:\d{1,12}}.wav", page_wav),
        web.post("/api/v1/session", start_session),
        web.get("/api/v1/session", session_info),
        web.get("/healthz", healthz),
        web.get("/metrics", metrics),
    ]
