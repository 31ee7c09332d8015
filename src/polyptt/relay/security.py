"""Who is asking: tokens at the door, Origin checks, and an access log without secrets.

Every path under ``/api/`` and ``/metrics`` needs a token: ``Authorization: Bearer
TOKEN`` from scripts; browsers may instead carry the ``polyptt_session`` cookie (set by
``POST /api/v1/session``; HttpOnly, SameSite=Strict, Secure under TLS, the relay's own
or a trusted proxy's: `client_scheme`), which is accepted for reads and the WebSocket,
and for a POST only with an allowed ``Origin`` (the web page's file upload), so another
site cannot make a browser post a page. The cookie holds a random session id, never
the token: the relay keeps the session (`polyptt.relay.store.sessions`: across
restarts, 10,000 at most) and ends it at ``POST /signout`` and when its token is revoked
or expires. The WebSocket also takes ``?token=`` (browsers cannot set headers on it);
the access log never shows a query string. An address that presents wrong tokens too
often is refused (429) for a while, as Home Assistant's ``http`` component bans; a
request with no credentials at all (an ``<img>`` on any page) is refused (401) but
counts toward no ban, nor does an unknown session id (an ended session's cookie).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from polyptt.relay.auth import Grant, hash_token
from polyptt.relay.state import RELAY
from polyptt.relay.wire import SESSION_PATH, WS_PATH

__all__ = [
    "COOKIE",
    "AccessLogger",
    "auth_middleware",
    "client_address",
    "client_scheme",
    "end_session",
    "from_own_page",
    "grant_of",
    "json_error",
    "new_session",
    "origin_allowed",
]

COOKIE = "polyptt_session"
# aiohttp >= 3.13 wants typed request keys (plain strings warn); older ones take strings
_request_key: Any = getattr(web, "RequestKey", lambda name, _kind: name)
_GRANT = _request_key("polyptt.grant", Grant)
_DIGEST = _request_key("polyptt.digest", str)
_PROTECTED = ("/api/", "/metrics")


def json_error(status: int, message: str, **headers: str) -> web.Response:
    """An error answer: ``{"error": message}`` with `status`."""
    return web.json_response({"error": message}, status=status, headers=headers or None)


def grant_of(request: web.Request) -> tuple[Grant, str]:
    """The grant the middleware found for `request`, and its token's digest."""
    return request[_GRANT], request[_DIGEST]


def _trusted(request: web.BaseRequest) -> tuple[str, ...]:
    """The configured trusted proxies; () when the peer is not one of them."""
    app = request.app if isinstance(request, web.Request) else None
    trusted = app[RELAY].settings.config.trusted_proxies if app is not None else ()
    return trusted if request.remote in trusted else ()


def _forwarded(request: web.BaseRequest, header: str) -> str | None:
    """The last value of `header`, if the peer is a trusted proxy and it has one."""
    values = request.headers.getall(header, [])
    if values and _trusted(request):
        return values[-1].rsplit(",", 1)[-1].strip() or None
    return None


def _forwarded_for(request: web.BaseRequest) -> str | None:
    """The client a trusted proxy names: the right-most ``X-Forwarded-For`` hop that is
    not itself a trusted proxy, across every such header line.

    A client may send its own ``X-Forwarded-For``; a proxy appends to it or adds a line
    after it, so only what lies right of the last untrusted hop was written by a proxy
    we trust. (If every hop is a trusted proxy, the left-most is the client.)
    """
    trusted = _trusted(request)
    if not trusted:
        return None
    hops = [
        hop.strip()
        for line in request.headers.getall("X-Forwarded-For", [])
        for hop in line.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return hops[0] if hops else None


def client_address(request: web.BaseRequest) -> str:
    """The client's address: the peer's, or the one trusted proxies forwarded.

    Only a proxy listed in ``trusted_proxies`` may say who the client is: anyone else
    could write ``X-Forwarded-For`` to dodge a ban or blame another address.
    """
    return _forwarded_for(request) or request.remote or "unknown"


def client_scheme(request: web.BaseRequest) -> str:
    """``https`` or ``http``: how the client reached us, as a trusted proxy says.

    Behind a TLS reverse proxy the relay itself speaks plain HTTP; the proxy's
    ``X-Forwarded-Proto`` says the browser used HTTPS, which makes the session cookie
    Secure and the relay's own origin ``https://``. Only a proxy listed in
    ``trusted_proxies`` is believed: from anyone else the header could only weaken
    the Origin check or the cookie.
    """
    forwarded = (_forwarded(request, "X-Forwarded-Proto") or "").lower()
    return forwarded if forwarded in ("http", "https") else request.scheme


def _token(request: web.Request) -> str | None:
    """The request's token: its Bearer header, else ``?token=`` (the WebSocket only)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.method == "GET" and request.path == WS_PATH and request.query.get("token"):
        return request.query["token"]
    return None


def _session(request: web.Request) -> str | None:
    """The session cookie, for a GET or for a POST sent by the relay's own web page
    (its file upload: `from_own_page`)."""
    if request.cookies.get(COOKIE) and (request.method == "GET" or from_own_page(request)):
        return request.cookies[COOKIE]
    return None


def new_session(request: web.Request, digest: str) -> str:
    """A new session for the token whose digest is `digest`: its id, for the cookie."""
    session = secrets.token_urlsafe(32)
    request.app[RELAY].sessions.add(session, digest)
    return session


def end_session(request: web.Request) -> None:
    """Forget the session of `request`'s cookie, if any (signing out)."""
    session = request.cookies.get(COOKIE)
    if session:
        request.app[RELAY].sessions.end(session)


def from_own_page(request: web.Request) -> bool:
    """A browser request sent by a page the relay allows (the web page's file upload).

    Browsers put ``Origin`` on every cross-origin and every POST ``fetch``; a request
    without it, or from another site, gets no credit for its cookie (a forged form
    post from elsewhere is refused), on top of the cookie's SameSite=Strict.
    """
    return "Origin" in request.headers and origin_allowed(
        request, request.app[RELAY].settings.config.origins
    )


@web.middleware
async def auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse requests without a valid token or session (401) or from a banned
    address (429); only a presented-and-wrong token counts toward a ban."""
    if not request.path.startswith(_PROTECTED):
        return await handler(request)
    relay = request.app[RELAY]
    remote = client_address(request)
    if relay.banned(remote):
        return json_error(429, "too many failed logins from this address; try later")
    token = _token(request)
    session = None if token is not None else _session(request)
    if (
        token is None
        and session is None
        and request.method == "GET"
        and (request.path == SESSION_PATH)
    ):
        # the web page asking whether it is signed in, at every load: no login failed
        return json_error(401, "not signed in", **{"WWW-Authenticate": "Bearer"})
    digest = hash_token(token) if token is not None else relay.sessions.digest(session or "")
    grant = None if digest is None else relay.store.check_digest(digest)
    if grant is None or digest is None:
        if token is not None:
            relay.login_failed(remote)
        relay.audit.log(
            "login_refused", remote=remote, path=request.path, reason=_why(token, session)
        )
        return json_error(401, "a valid token is required", **{"WWW-Authenticate": "Bearer"})
    request[_GRANT] = grant
    request[_DIGEST] = digest
    return await handler(request)


def _why(token: str | None, session: str | None) -> str:
    if token is not None:
        return "unknown, revoked or expired token"
    return "no token" if session is None else "unknown or ended session"


def origin_allowed(request: web.Request, allowed: tuple[str, ...]) -> bool:
    """Whether a browser's ``Origin`` may use the WebSocket.

    No Origin header is a script, not a browser, and is let through (its token is the
    credential); a browser's Origin must be in `allowed`, or be the relay's own when
    `allowed` is empty (its scheme as `client_scheme` says, behind a TLS proxy too).
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    own = (f"{client_scheme(request)}://{request.host}",)
    return origin.rstrip("/") in (allowed or own)


def printable(text: str) -> str:
    """`text` with control characters, quotes and backslashes escaped (``\\x0d``): a
    path a client chose can never start a fake line in a log."""
    return "".join(
        c
        if c.isprintable() and c not in '"\\'
        else f"\\x{ord(c):02x}"
        if ord(c) < 0x100
        else f"\\u{ord(c):04x}"
        for c in text
    )


class AccessLogger(AbstractAccessLogger):
    """One line per request: address, method, path (never the query), status, time.

    The path is escaped (`printable`); a request too malformed to have one is logged
    as ``-`` rather than breaking the logger."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        try:
            remote, method, path = client_address(request), request.method, request.path
        except Exception:  # a request the parser gave up on
            remote, method, path = "-", "-", "-"
        self.logger.info(
            '%s "%s %s" %s %.3f',
            printable(remote),
            printable(method),
            printable(path),
            response.status,
            time,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(20)
