"""Who is asking: tokens at the door, Origin checks, and an access log without secrets.

Every path under ``/api/`` and ``/metrics`` needs a token: ``Authorization: Bearer
TOKEN`` from scripts; browsers may instead carry the ``polyptt_token`` cookie (set by
``POST /api/v1/session``; HttpOnly, SameSite=Strict, Secure under TLS), which is
accepted only for reads and the WebSocket, so another site cannot make a browser post
a page. The WebSocket also takes ``?token=`` (browsers cannot set headers on it);
the access log never shows a query string. An address that fails too often is
refused (429) for a while, as Home Assistant's ``http`` component bans.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from polyptt.relay.auth import Grant, hash_token
from polyptt.relay.state import RELAY

__all__ = [
    "COOKIE",
    "AccessLogger",
    "auth_middleware",
    "grant_of",
    "json_error",
    "origin_allowed",
]

COOKIE = "polyptt_token"
_GRANT = "polyptt.grant"
_DIGEST = "polyptt.digest"
_PROTECTED = ("/api/", "/metrics")
WS_PATH = "/api/v1/ws"


def json_error(status: int, message: str, **headers: str) -> web.Response:
    """An error answer: ``{"error": message}`` with `status`."""
    return web.json_response({"error": message}, status=status, headers=headers or None)


def grant_of(request: web.Request) -> tuple[Grant, str]:
    """The grant the middleware found for `request`, and its token's digest."""
    return request[_GRANT], request[_DIGEST]


def _token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.method == "GET":
        if request.path == WS_PATH and request.query.get("token"):
            return request.query["token"]
        if request.cookies.get(COOKIE):
            return request.cookies[COOKIE]
    return None


@web.middleware
async def auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse requests without a valid token (401) or from a banned address (429)."""
    if not request.path.startswith(_PROTECTED):
        return await handler(request)
    relay = request.app[RELAY]
    remote = request.remote or "unknown"
    if relay.banned(remote):
        return json_error(429, "too many failed logins from this address; try later")
    token = _token(request)
    grant = None if token is None else relay.store.check(token)
    if grant is None:
        relay.login_failed(remote)
        relay.audit.log(
            "login_refused",
            remote=remote,
            path=request.path,
            reason="no token" if token is None else "unknown or revoked token",
        )
        return json_error(401, "a valid token is required", **{"WWW-Authenticate": "Bearer"})
    assert token is not None
    request[_GRANT] = grant
    request[_DIGEST] = hash_token(token)
    return await handler(request)


def origin_allowed(request: web.Request, allowed: tuple[str, ...]) -> bool:
    """Whether a browser's ``Origin`` may use the WebSocket.

    No Origin header is a script, not a browser, and is let through (its token is the
    credential); a browser's Origin must be in `allowed`, or be the relay's own when
    `allowed` is empty.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    own = (f"{request.scheme}://{request.host}",)
    return origin.rstrip("/") in (allowed or own)


class AccessLogger(AbstractAccessLogger):
    """One line per request: address, method, path (never the query), status, time."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.3f',
            request.remote,
            request.method,
            request.path,
            response.status,
            time,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(20)
