"""The relay's web page: static files from package data, served with strict headers.

The page (``polyptt/relay/web/``: HTML, CSS, ES modules and two AudioWorklets) is read
once when the application is made and served from memory at ``/`` and ``/NAME``. Every
answer of the page carries a Content-Security-Policy that allows nothing but the relay
itself (no inline script or style, no other origin, no framing), so a script injected
into the page could neither run nor send what it found anywhere. ``POST /signout``
drops the session cookie (it needs no token: a stale cookie must always be removable).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from polyptt.relay.security import COOKIE

__all__ = ["CONTENT_SECURITY_POLICY", "PAGE_HEADERS", "files", "setup"]

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


@dataclass(frozen=True)
class _File:
    body: bytes
    content_type: str
    etag: str


def files() -> dict[str, _File]:
    """Every file of the page by name (flat: the page has no folders), from the package."""
    files = {}
    for entry in resources.files("polyptt.relay").joinpath("web").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _TYPES:
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            files[entry.name] = _File(body, _TYPES[suffix], etag)
    return files


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

    async def sign_out(_request: web.Request) -> web.StreamResponse:
        response = web.Response(status=204)
        response.del_cookie(COOKIE, path="/")
        return response

    async def nosniff(_request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")

    app.add_routes(
        [
            web.get("/", serve),
            web.get(r"/{name:[a-z0-9-]+\.(?:html|js|css|svg)}", serve),
            web.post("/signout", sign_out),
        ]
    )
    app.on_response_prepare.append(nosniff)
