"""The HTTP API: page with a file, list recent pages, fetch a recording, health, metrics.

``POST /api/v1/pages?channel=26[&codec=g722&target=NAME&repeat=N&gap=S&gain=DB
&duration=S&wait=1]`` (the options mean what ``polyptt send``'s do) takes an audio
file (anything ``polyptt send`` reads) as its body or as the one file of a multipart
form (`polyptt.relay.requests.upload_body`), decodes and encodes it all in a
worker thread first (a bad file is a 400 and nothing is sent), then pages: 202 with the
page's id and ``duration_s`` at once, or 200 with its report after the end packets with
``wait=1`` (``duration_s`` then says how much went out, ``outcome`` whether all of it:
``completed``, or why not). 409 when the channel is busy (one of the relay's talkers, or
a page heard on the LAN, has it; `polyptt.receive.busy`): ``{"error", "channel",
"caller_id"}`` says who.

With ``Content-Type: application/json`` the body is a text to speak instead, and the
page's options are its keys: ``{"channel": 26, "say": "Fire drill in five minutes",
"chime": true}`` (also ``voice``, ``rate`` in words per minute, and ``codec``,
``target``, ``repeat``, ``gap``, ``gain``, ``duration``, ``wait`` as above;
`polyptt.relay.requests.say_request`). It is spoken in a worker thread before the page
begins (``[tts]`` in the configuration says with which engine and voice) and admitted
as an upload is; the answer is an upload's.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from polyptt.relay import requests
from polyptt.relay.auth import Grant
from polyptt.relay.hub import Metrics, visible
from polyptt.relay.security import (
    COOKIE,
    client_address,
    client_scheme,
    grant_of,
    json_error,
    new_session,
)
from polyptt.relay.state import RELAY, Relay
from polyptt.relay.store.pages import PageQuery
from polyptt.relay.wire import PAGES_PATH, SESSION_PATH

__all__ = ["routes"]


async def post_page(request: web.Request) -> web.StreamResponse:
    """``POST /api/v1/pages``: the HTTP face of `polyptt.relay.requests`."""
    relay = request.app[RELAY]
    grant, digest = grant_of(request)
    remote = client_address(request)
    frame_ms = relay.settings.frame_ms
    try:
        if request.content_type == "application/json":  # a text to speak
            page = requests.say_request(await requests.json_body(request))
            requests.admit(relay, grant, page, remote)
            audio = await requests.speech_frames(relay, page)
        else:
            page = requests.upload_request(request.query)
            requests.admit(relay, grant, page, remote)
            body = await requests.upload_body(request)
            audio = await requests.upload_frames(relay, page, body)
        talk = requests.start(
            relay,
            audio.frames,
            page,
            grant=grant,
            digest=digest,
            frame_ms=frame_ms,
            via="http",
            remote=remote,
        )
    except requests.Refused as exc:
        if exc.code == requests.BUSY:
            return _busy(exc)
        return json_error(exc.status, exc.message)
    answer: dict[str, Any] = {
        "page": talk.page_id,
        "channel": page.channel,
        "codec": page.codec,
        "frames": len(audio.frames),
        "duration_s": round(audio.duration_s, 3),
        "clipped_samples": audio.clipped,
    }
    if not page.wait:
        return web.json_response(answer, status=202)
    report = await talk.wait()
    answer.update(
        transmits=report.transmits,
        alerts=report.alerts,
        ends=report.ends,
        outcome=talk.outcome,
        duration_s=round(report.transmits * frame_ms / 1000, 3),  # what went out
    )
    return web.json_response(answer)


def _busy(exc: requests.Refused) -> web.Response:
    """409: the channel is busy, and who has it."""
    answer = {"error": exc.message, "channel": exc.channel, "caller_id": exc.caller_id}
    return web.json_response(answer, status=409)


async def list_pages(request: web.Request) -> web.StreamResponse:
    """``GET /api/v1/pages?limit=&before=ID&channel=&direction=&caller=&since=&until=``:
    the store's pages this token may see, newest first, and the URL of the next ones."""
    grant, _ = grant_of(request)
    if "listen" not in grant.scopes:
        return json_error(403, "this token may not listen")
    store = request.app[RELAY].hub.store
    try:
        query = PageQuery.parse(request.query)
    except ValueError as exc:
        return json_error(400, str(exc))
    if store is None:
        return web.json_response({"pages": [], "next": None})
    pages = await store.pages(query, lambda record: visible(grant, record))
    return web.json_response({"pages": pages, "next": query.next_url(pages)})


async def page_wav(request: web.Request) -> web.StreamResponse:
    """A page's recording from the store, with its length and range requests (players
    show the duration from the header and seek)."""
    grant, _ = grant_of(request)
    if "listen" not in grant.scopes:
        return json_error(403, "this token may not listen")
    store = request.app[RELAY].hub.store
    found = None if store is None else await store.page(int(request.match_info["id"]))
    record, path = found if found is not None else ({}, None)
    if path is None or "wav" not in record or not visible(grant, record) or not path.is_file():
        return json_error(404, "no such recording")
    return web.FileResponse(path, headers={"Content-Type": "audio/wav"})


async def start_session(request: web.Request) -> web.StreamResponse:
    """Turn a Bearer token into a session: its id in the browser cookie (HttpOnly,
    SameSite=Strict); the token itself stays with the browser's script no longer."""
    grant, digest = grant_of(request)
    relay = request.app[RELAY]
    header = request.headers.get("Authorization", "")
    token = header.partition(" ")[2].strip()
    if not token:
        return json_error(400, "send the token as Authorization: Bearer TOKEN")
    response = web.json_response({"name": grant.name, "scopes": sorted(grant.scopes)})
    response.set_cookie(
        COOKIE,
        new_session(request, digest),  # a session id: the token never enters a cookie
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
    answer = {"sites": _sites_of(relay, grant)} if relay.sites is not None else {}
    return web.json_response(
        {
            **answer,
            "name": grant.name,
            "scopes": sorted(grant.scopes),
            "channels": {str(k): v for k, v in sorted(config.channel_names.items())},
            "talk_channels": talk_channels,
            "urgent": urgent,
            "targets": sorted(t for t in config.targets if grant.may_page(t)),
            "recording": relay.hub.recorder is not None,
            "max_page_s": config.limits.max_page_s,
        }
    )


def _sites_of(relay: Relay, grant: Grant) -> dict[str, Any]:
    """The sites the web page offers `grant` (`polyptt.relay.sites`): this relay's, the
    others heard from (`known`: to hear), those it may page (heard from, or granted),
    and whether it may page all."""
    assert relay.sites is not None
    own = relay.sites.site
    heard = set(relay.sites.last_hello) - {own}
    granted = set(grant.sites or ()) - {own}
    may = sorted(s for s in heard | granted if grant.sites is None or s in grant.sites)
    return {"own": own, "known": sorted(heard), "may": may, "all": grant.sites is None}


async def healthz(request: web.Request) -> web.StreamResponse:
    relay = request.app[RELAY]
    answer: dict[str, Any] = {"status": "ok", "talkers": len(relay.talks.by_channel)}
    if relay.sites is not None:
        answer["nats"] = relay.sites.health()
    return web.json_response(answer)


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
        counters.audio_throttled_s,
    )
    add(
        "webhooks_delivered_total",
        "counter",
        "Webhook deliveries made.",
        counters.webhooks_delivered,
    )
    add("webhooks_retried_total", "counter", "Webhook attempts retried.", counters.webhooks_retried)
    add(
        "webhooks_failed_total", "counter", "Webhook deliveries given up.", counters.webhooks_failed
    )
    add(
        "webhooks_dropped_total",
        "counter",
        "Webhook deliveries dropped (queue full).",
        counters.webhooks_dropped,
    )
    add("mqtt_refused_total", "counter", "MQTT commands refused.", counters.mqtt_refused)
    add(
        "mqtt_connects_total",
        "counter",
        "Connections made to the MQTT broker.",
        counters.mqtt_connects,
    )
    add("pages_deleted_total", "counter", "Pages deleted by retention.", counters.pages_deleted)
    add(
        "recording_bytes_deleted_total",
        "counter",
        "Bytes of recordings deleted by retention.",
        counters.recording_bytes_deleted,
    )
    recorder = relay.hub.recorder
    add(
        "recording_errors_total",
        "counter",
        "Recording writes that failed (the first stops recording).",
        0 if recorder is None else recorder.failures,
    )
    add(
        "recording",
        "gauge",
        "1 while pages are recorded, 0 if off or stopped by a failed write.",
        int(recorder is not None and not getattr(recorder, "stopped", False)),
    )
    store = relay.hub.store
    add(
        "store_errors_total",
        "counter",
        "Page store writes that failed.",
        0 if store is None else store.errors,
    )
    add("bells_rang_total", "counter", "Scheduled bells rung.", counters.bells_rang)
    add(
        "bells_missed_total",
        "counter",
        "Scheduled bells missed (relay down past grace_s, busy past wait_s, bad audio).",
        counters.bells_missed,
    )
    add("talkers", "gauge", "Pages being sent now.", len(relay.talks.by_channel))
    add("listeners", "gauge", "WebSocket listeners now.", len(relay.hub.clients))
    add("connections", "gauge", "WebSocket connections now.", len(relay.clients))
    for name, kind, help_text, value, labels in relay.sites.metrics() if relay.sites else ():
        if not any(line.startswith(f"# TYPE polyptt_relay_{name} ") for line in lines):
            add(name, kind, help_text, value)
            lines.pop()
        lines.append(f"polyptt_relay_{name}{labels} {value:g}")
    return "\n".join(lines) + "\n"


def routes() -> list[web.RouteDef]:
    """The HTTP routes (the WebSocket's is added by `polyptt.relay.app`)."""
    return [
        web.post(PAGES_PATH, post_page),
        web.get(PAGES_PATH, list_pages),
        web.get(PAGES_PATH + r"/{id:\d{1,12}}.wav", page_wav),
        web.post(SESSION_PATH, start_session),
        web.get(SESSION_PATH, session_info),
        web.get("/healthz", healthz),
        web.get("/metrics", metrics),
    ]
