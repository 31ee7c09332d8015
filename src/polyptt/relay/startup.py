"""What ``polyptt relay`` says when it starts: one line on stderr.

A relay started by hand, by systemd or in a container should show at once where people
reach it, where its pages go, and whether anyone can use it yet (a relay without tokens
refuses everyone), without ``-v``'s request log. `startup_line` builds that line from the
settings; the command prints it.
"""

from __future__ import annotations

import ipaddress
import socket

from polyptt.relay.auth import TokenError, TokenStore
from polyptt.relay.state import RelaySettings

__all__ = ["served_urls", "startup_line"]

_WILDCARDS = ("", "0.0.0.0", "::")


def served_urls(host: str, port: int, *, tls: bool) -> list[str]:
    """The URLs a relay bound to `host`:`port` answers on.

    A wildcard bind (``0.0.0.0``) answers on every address of this host: each IPv4
    address of an interface is listed, loopback last.
    """
    scheme = "https" if tls else "http"
    hosts = _local_addresses() if host in _WILDCARDS else [host]
    return [f"{scheme}://{_bracketed(h)}:{port}" for h in hosts or [host]]


def startup_line(settings: RelaySettings, host: str, port: int) -> str:
    """``relay: serving URL...; paging GROUP:PORT on IFACE (ADDRESS), TTL N; K tokens;
    data in DIR``."""
    urls = ", ".join(served_urls(host, port, tls=settings.tls))
    destination = settings.destination
    data = "" if settings.data is None else f"; data in {settings.data}"
    return (
        f"relay: serving {urls}; paging {destination} on {_interface(settings)}, "
        f"TTL {settings.ttl}; {_tokens(settings)}{data}"
    )


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _interfaces() -> list[tuple[str, str]]:
    """(name, IPv4 address) of this host's interfaces that have one."""
    from polyptt.transport import interface_address

    found = []
    for _index, name in socket.if_nameindex():
        try:
            found.append((name, interface_address(name)))
        except ValueError:
            continue
    return found


def _local_addresses() -> list[str]:
    addresses = [address for _name, address in _interfaces()]
    return sorted(addresses, key=lambda a: (ipaddress.ip_address(a).is_loopback, a))


def _interface(settings: RelaySettings) -> str:
    """The interface multicast leaves by: its name and address (the route's if no
    ``--iface``)."""
    from polyptt.transport import source_address

    address = settings.interface
    if address is None:
        address = source_address(settings.destination)[0]
        if address == "0.0.0.0":
            return "the system's route (none found yet)"
    names = [name for name, own in _interfaces() if own == address]
    return f"{names[0]} ({address})" if names else address


def _tokens(settings: RelaySettings) -> str:
    store = TokenStore(settings.config.tokens_path)
    try:
        count = len(store.grants())
    except TokenError as exc:
        return f"tokens: {exc}"
    if count == 0:
        return f"no tokens yet in {store.path} (polyptt relay token add NAME --can listen,talk)"
    return f"{count} token{'s' if count != 1 else ''} in {store.path}"
