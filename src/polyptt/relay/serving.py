"""The relay's listening socket: bounded against connections that never ask anything.

Without these, about a thousand silent TCP connections (no token needed) used every
file descriptor a systemd service gets by default, and the relay stopped answering
anyone while asyncio logged a traceback per failed ``accept()``. Three bounds:

* a cap on connections open at once from one address (`CappedListener`), applied at
  ``accept()``, before any TLS handshake, so it holds whether or not the relay serves
  TLS itself; addresses in ``trusted_proxies`` (a reverse proxy carries everyone) are
  exempt;
* a deadline for the request headers and for an idle keep-alive connection
  (`REQUEST_HEADER_S`, aiohttp's ``keepalive_timeout``, which starts at accept and is
  not renewed by a byte now and then) and for the TLS handshake (`TLS_HANDSHAKE_S`);
* a bad request's error logged as one line without its ``?token=`` (`RequestErrorFilter`);
* the loop's "out of system resource" errors (EMFILE at ``accept()``) logged at most
  once a minute with a count (`ThrottledErrors`), not once per accept.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import socket
import time
from typing import Any

from aiohttp import web

__all__ = [
    "ERROR_LOG_PERIOD_S",
    "REQUEST_HEADER_S",
    "SERVER",
    "TLS_HANDSHAKE_S",
    "CappedListener",
    "GuardedSite",
    "RequestErrorFilter",
    "ThrottledErrors",
    "hide_server_version",
    "install_log_filters",
    "redact",
]

#: Seconds a connection may take to send its request headers, or stay idle between
#: requests, before it is closed.
REQUEST_HEADER_S = 10.0
#: Seconds a TLS handshake may take.
TLS_HANDSHAKE_S = 10.0
#: Resource-pressure errors of the event loop are logged at most once per this period.
ERROR_LOG_PERIOD_S = 60.0

log = logging.getLogger("polyptt.relay")


class _CountedSocket(socket.socket):
    """An accepted connection that gives its address's slot back when closed."""

    _listener: CappedListener | None = None
    _address = ""

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.release(self._address)
        super().close()


class CappedListener(socket.socket):
    """A listening socket that closes at once connections beyond `per_address`.

    asyncio calls ``accept()`` on the socket it serves; this one counts the open
    connections of each peer address and refuses (accepts and closes) the excess, so a
    single address cannot hold more than `per_address` descriptors.
    """

    def __init__(self, family: int, per_address: int, exempt: frozenset[str]) -> None:
        super().__init__(family, socket.SOCK_STREAM)
        self.per_address = per_address
        self.exempt = exempt
        self.open: collections.Counter[str] = collections.Counter()
        self.refused = 0  # since the last log line
        self._logged = -ERROR_LOG_PERIOD_S

    def accept(self) -> tuple[socket.socket, Any]:
        while True:  # BlockingIOError ends the loop: nothing more waiting
            fd, address = self._accept()  # type: ignore[attr-defined]
            host = str(address[0])
            if host in self.exempt or self.open[host] < self.per_address:
                break
            socket.close(fd)
            self._refused(host)
        conn = _CountedSocket(self.family, self.type, self.proto, fileno=fd)
        conn._listener, conn._address = self, host
        self.open[host] += 1
        return conn, address

    def _refused(self, host: str) -> None:
        """Count a refusal; say so at most once per `ERROR_LOG_PERIOD_S`."""
        self.refused += 1
        now = time.monotonic()
        if now - self._logged >= ERROR_LOG_PERIOD_S:
            log.warning(
                "refusing connections from %s: %d open, the limit per address "
                "(%d refused since the last such line)",
                host,
                self.per_address,
                self.refused,
            )
            self._logged, self.refused = now, 0

    def release(self, host: str) -> None:
        self.open[host] -= 1
        if self.open[host] <= 0:
            del self.open[host]


class GuardedSite(web.TCPSite):
    """aiohttp's TCP site on a `CappedListener`, with a TLS handshake deadline."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        per_address: int,
        exempt: frozenset[str] = frozenset(),
        **kwargs: Any,
    ) -> None:
        super().__init__(runner, host, port, **kwargs)
        self._per_address = per_address
        self._exempt = exempt

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        family = socket.AF_INET6 if ":" in (self._host or "") else socket.AF_INET
        sock = CappedListener(family, self._per_address, self._exempt)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host or "0.0.0.0", self._port or 0))
            sock.listen(self._backlog)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._server = await loop.create_server(
            server,
            sock=sock,
            ssl=self._ssl_context,
            backlog=self._backlog,
            ssl_handshake_timeout=TLS_HANDSHAKE_S if self._ssl_context else None,
        )
        self._bound_port = sock.getsockname()[1]


class ThrottledErrors:
    """An event-loop exception handler that logs resource pressure once a period.

    asyncio reports every failed ``accept()`` (EMFILE, ENFILE, ENOBUFS, ENOMEM) with a
    traceback; under a connection flood that was megabytes a minute. Those are counted
    and summed up once per `period_s`; anything else goes to the default handler.
    """

    def __init__(self, period_s: float = ERROR_LOG_PERIOD_S) -> None:
        self.period_s = period_s
        self.suppressed = 0
        self._last = -period_s

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if "out of system resource" not in str(context.get("message", "")):
            loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - self._last < self.period_s:
            self.suppressed += 1
            return
        self._last = now
        exc = context.get("exception")
        log.error(
            "cannot accept connections: %s (%d more such errors in the last %.0f s)",
            getattr(exc, "strerror", None) or exc or context.get("message"),
            self.suppressed,
            self.period_s,
        )
        self.suppressed = 0


_SECRET = re.compile(r"(token=)[^&\s'\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with every ``token=VALUE`` made ``token=[redacted]``."""
    return _SECRET.sub(r"\1[redacted]", text)


class RequestErrorFilter(logging.Filter):
    """aiohttp's "Error handling request" records as one line, without secrets.

    A request the parser refuses (a URL over 8 KiB, a bad header) was logged with a
    traceback whose message quoted the request line, ``?token=`` included. The record
    becomes one line, the exception's first line appended, every token redacted; such
    errors are the client's, not the relay's, so no traceback is kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            reason = " ".join(str(record.exc_info[1]).split())
            message = f"{message}: {type(record.exc_info[1]).__name__}: {reason[:300]}"
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = redact(message), ()
        return True


#: What the ``Server`` header says on every answer.
SERVER = "polyptt-relay"


def hide_server_version() -> None:
    """Make aiohttp's default ``Server`` header `SERVER` for every answer it makes.

    The application sets it on its own answers (`polyptt.relay.webpage`), but the 400s
    aiohttp's HTTP parser sends for malformed requests never reach the application and
    named the library and its version (a gift to a scanner). aiohttp takes the default
    from this module attribute; it is set for the relay process only.
    """
    from aiohttp import web_response

    if hasattr(web_response, "SERVER_SOFTWARE"):
        web_response.SERVER_SOFTWARE = SERVER


def install_log_filters() -> None:
    """Put `RequestErrorFilter` on the loggers aiohttp reports bad requests to."""
    for name in ("aiohttp.server", "aiohttp.web", "aiohttp.access"):
        logging.getLogger(name).addFilter(RequestErrorFilter())
