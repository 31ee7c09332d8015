"""The relay's web page: static files from package data, served with strict headers.

The page (``polyptt/relay/web/``: HTML, CSS, ES modules and two AudioWorklets) is read
once when the application is made and served from memory at ``/`` and ``/NAME``. Every
answer of the page carries a Content-Security-Policy that allows nothing but the relay
itself (no inline script or style, no other origin, no framing), so a script injected
into the page could neither run nor send what it found anywhere. ``POST /signout``
drops the session cookie and ends its session (it needs no token: a stale cookie must
always be removable; it needs the relay's own ``Origin``: another site may not sign a
browser out). Every answer names the server ``polyptt-relay`` (no library version),
and, when the relay serves TLS itself, carries ``Strict-Transport-Security`` (`HSTS`).

One module is not a file: ``/wire.js`` is made from `polyptt.relay.wire` and the codec
table (`wire_module`), so the page's scripts and worklets take the relay's rate, frame,
audio header, message types and codecs from the relay itself, never from a copy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web

from polyptt import codecs, protocol
from polyptt.relay import wire
from polyptt.relay.security import COOKIE, end_session, from_own_page
from polyptt.relay.state import SETTINGS

#: One year, as browsers' HSTS preload lists expect; no includeSubDomains: the relay
#: does not speak for other hosts of its domain.
HSTS = "max-age=31536000"

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "GENERATED",
    "HSTS",
    "PAGE_HEADERS",
    "files",
    "setup",
    "wire_constants",
    "wire_module",
]

#: Only the relay itself: scripts (worklets included), styles, the WebSocket, recordings.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # revalidate every time (the ETag makes that cheap): an upgraded relay serves its
    # own page at once, never a cached mix of old and new modules
    "Cache-Control": "no-cache",
}
_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


#: The page's module made by the relay rather than read from ``web/``.
GENERATED = "wire.js"


@dataclass(frozen=True)
class _File:
    body: bytes
    content_type: str
    etag: str


def _file(name: str, body: bytes) -> _File:
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return _File(body, _TYPES["." + name.rpartition(".")[2]], etag)


def files() -> dict[str, _File]:
    """Every file of the page by name (flat: the page has no folders), from the package,
    and the generated `GENERATED`."""
    files = {}
    for entry in resources.files("polyptt.relay").joinpath("web").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _TYPES:
            files[entry.name] = _file(entry.name, entry.read_bytes())
    files[GENERATED] = _file(GENERATED, wire_module().encode())
    return files


def wire_constants() -> dict[str, Any]:
    """What ``/wire.js`` exports, by name: JSON values from the wire and the codec table."""
    assert wire.AUDIO_HEADER.format == ">" + "I" * len(wire.AUDIO_HEADER_FIELDS)
    return {
        "RATE": wire.RATE,
        "FRAME_SAMPLES": wire.FRAME_SAMPLES,
        "FRAME_MS": wire.FRAME_MS,
        # unsigned 32-bit big-endian fields, in this order, then the PCM (PCM16LE)
        "AUDIO_HEADER_BYTES": wire.AUDIO_HEADER.size,
        "AUDIO_HEADER_FIELDS": list(wire.AUDIO_HEADER_FIELDS),
        "WS_PATH": wire.WS_PATH,
        "PAGES_PATH": wire.PAGES_PATH,
        "SESSION_PATH": wire.SESSION_PATH,
        "SCHEDULES_PATH": wire.SCHEDULES_PATH,
        "IDLE_CLOSE_CODE": wire.IDLE_CLOSE_CODE,
        "IDLE_REASON": wire.IDLE_REASON,
        "MESSAGE": {kind.name: kind.value for kind in wire.MessageType},
        "ERROR": {code.name: code.value for code in wire.ErrorCode},
        "CODECS": [_codec(codecs.info(name)) for name in codecs.WIRE_NAMES],
        "LIVE_CODEC": codecs.LIVE_NAMES[0],
        "ALERTS_MS": round(protocol.ALERT_COUNT * protocol.ALERT_INTERVAL_S * 1000),
    }


def _codec(info: codecs.CodecInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "description": info.description,
        "sample_rate": info.sample_rate,
        "frame_ms": list(info.frame_ms),
        "live": info.live,
    }


def wire_module() -> str:
    """``/wire.js``: `wire_constants` as a frozen ES module's exports."""
    lines = [
        "// Made by the relay from polyptt/relay/wire.py and polyptt/codecs.py: the relay's",
        "// own wire facts (never copy them into another module).",
        "",
    ]
    for name, value in wire_constants().items():
        text = json.dumps(value)
        if isinstance(value, (dict, list)):
            text = f"Object.freeze({text})"
        lines.append(f"export const {name} = {text};")
    return "\n".join(lines) + "\n"


def setup(app: web.Application) -> None:
    """Serve the page from `app` at ``/``; also ``nosniff`` on every answer."""
    served = files()

    async def serve(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name") or "index.html"
        found = served.get(name)
        if found is None:
            raise web.HTTPNotFound(text="no such file\n")
        headers = {**PAGE_HEADERS, "ETag": found.etag}
        if request.headers.get("If-None-Match") == found.etag:
            return web.Response(status=304, headers=headers)
        charset = "utf-8" if found.content_type != "image/svg+xml" else None
        return web.Response(
            body=found.body, content_type=found.content_type, charset=charset, headers=headers
        )

    async def sign_out(request: web.Request) -> web.StreamResponse:
        if not from_own_page(request):  # another site may not sign a browser out
            raise web.HTTPForbidden(text="POST /signout needs the relay's own Origin\n")
        end_session(request)
        response = web.Response(status=204)
        response.del_cookie(COOKIE, path="/")
        return response

    async def headers(request: web.Request, response: web.StreamResponse) -> None:
        """``nosniff`` everywhere; HSTS when the relay serves TLS itself; and a
        ``Server`` header that names no library version."""
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers["Server"] = "polyptt-relay"
        if request.app[SETTINGS].tls:
            response.headers.setdefault("Strict-Transport-Security", HSTS)

    app.add_routes(
        [
            web.get("/", serve),
            web.get(r"/{name:[a-z0-9-]+\.(?:html|js|css|svg)}", serve),
            web.post("/signout", sign_out),
        ]
    )
    app.on_response_prepare.append(headers)
