"""What went wrong between a client and the relay, in the words of the person who typed
the command.

aiohttp says "Cannot connect to host 127.0.0.1:8080 ssl:default [[SSL:
WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)]" where the user needs "the
relay at https://127.0.0.1:8080 does not speak TLS; did you mean http://127.0.0.1:8080?".
`unreachable` turns each way a connection fails into such a line, `refusal` each HTTP
refusal (the relay's own reason, the same for an upload and a WebSocket), and
`relay_url` checks a URL before anything is tried.

A `RelayClientError` carries the HTTP status of a refusal (0: no answer) and whether the
fix is in what the user gave (`usage`: the URL, its scheme, the relay's certificate), so
that the commands can exit with 2 for those and 1 for a network that failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import ssl

import aiohttp
import yarl

__all__ = ["CONNECT_TIMEOUT_S", "RelayClientError", "refusal", "relay_url", "unreachable"]

#: Seconds the relay has to accept a connection (TLS included) and to answer the first
#: request: the rest of a page may take as long as the page.
CONNECT_TIMEOUT_S = 10.0

#: OpenSSL's reasons for a TLS handshake answered by something that does not speak TLS.
_NOT_TLS = ("WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE")

#: OpenSSL's verification codes, as what they mean for the relay's certificate.
_CERTIFICATE_PROBLEMS = {
    10: "it has expired",
    18: "it is self-signed",
    19: "it is signed by a CA this host does not know",
    20: "it is signed by a CA this host does not know",
    62: "it is made out to another name",
    64: "it is made out to another address",
}


class RelayClientError(Exception):
    """The relay refused (`status` is its HTTP status) or could not be reached (0).

    `usage` is True when the fix is in what the user gave: the URL, its scheme, the
    certificate the relay shows.
    """

    def __init__(self, message: str, status: int = 0, *, usage: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.usage = usage


def relay_url(text: str) -> str:
    """`text` as the relay's base URL, without a trailing slash.

    Raises
    ------
    ValueError
        Saying what to fix: no scheme, a scheme other than http(s), no host, a bad port.
    """
    url = text.strip().rstrip("/")
    scheme, sep, _rest = url.partition("://")
    if not sep:
        raise ValueError(
            f"{text!r} has no scheme: add https:// (a relay with TLS) or http:// (one "
            f"without), e.g. https://{url}"
        )
    if scheme.lower() not in ("http", "https"):
        raise ValueError(f"{text!r}: a relay's URL starts with https:// or http://")
    try:
        host = yarl.URL(url).host
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    if not host:
        raise ValueError(f"{text!r} has no host name")
    return url


def refusal(status: int, reason: str | None = None) -> RelayClientError:
    """The relay's refusal of a request, the same words whichever request met it.

    `reason` is the relay's ``error`` text (its HTTP reason phrase if there is none,
    as for a refused WebSocket handshake).
    """
    with contextlib.suppress(ValueError):
        reason = reason or http.HTTPStatus(status).phrase
    said = f"{reason}; check --token (or POLYPTT_TOKEN)" if status == 401 else reason
    verb = "failed" if status >= 500 else "refused"
    return RelayClientError(f"the relay {verb} ({status}): {said}", status)


async def unreachable(url: str, exc: BaseException) -> RelayClientError:
    """What `exc` (aiohttp's, or a timeout) means for the relay at `url`."""
    where = yarl.URL(url)
    host, port = where.host, where.port
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return _untrusted(url, exc)
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        reason = str(getattr(exc.os_error, "reason", "") or "")
        if reason in _NOT_TLS:
            plain = str(where.with_scheme("http")).rstrip("/")
            return RelayClientError(
                f"the relay at {url} does not speak TLS; did you mean {plain}?", usage=True
            )
        return RelayClientError(f"TLS with the relay at {url} failed: {exc.os_error}")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return RelayClientError(
            f"cannot reach the relay at {url}: the name {host!r} does not resolve here "
            "(check the URL, and this host's DNS)"
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return RelayClientError(
                f"cannot reach the relay at {url}: nothing listens on {host} port {port} "
                "(is the relay running, and is that its port?)"
            )
        why = exc.os_error.strerror or str(exc.os_error)
        return RelayClientError(f"cannot reach the relay at {url}: {why}")
    if isinstance(exc, TimeoutError):  # aiohttp's ServerTimeoutError is one too
        return RelayClientError(f"the relay at {url} did not answer in {CONNECT_TIMEOUT_S:g} s")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        if where.scheme == "http" and host and await _speaks_tls(host, port):
            secure = str(where.with_scheme("https")).rstrip("/")
            return RelayClientError(
                f"the relay at {url} speaks TLS; did you mean {secure}?", usage=True
            )
        return RelayClientError(f"the relay at {url} closed the connection without an answer")
    return RelayClientError(f"cannot reach the relay at {url}: {exc}")


def _untrusted(url: str, exc: aiohttp.ClientConnectorCertificateError) -> RelayClientError:
    error = exc.certificate_error
    code = getattr(error, "verify_code", None)
    problem = _CERTIFICATE_PROBLEMS.get(code or 0) or getattr(error, "verify_message", None)
    problem = problem or str(error)
    advice = ""
    if code in (18, 19, 20):
        advice = "; if the relay has a certificate from a CA of your own, SSL_CERT_FILE=CA.pem"
    return RelayClientError(
        f"the relay at {url} shows a certificate this host does not accept: {problem}{advice}",
        usage=True,
    )


async def _speaks_tls(host: str, port: int | None) -> bool:
    """Whether `host`:`port` completes a TLS handshake: the diagnosis of a plain HTTP
    request that was hung up on. Nothing is sent through it, so it need not be trusted."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context), CONNECT_TIMEOUT_S
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return True
