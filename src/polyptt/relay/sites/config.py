"""The relay's place in a federation of sites: its ``site`` name and ``[nats]``.

Example (``relay.toml``)::

    site = "north"
    share = [1, 26]                 # pages heard on these channels go to every site

    [nats]
    url = ["tls://hub.district.example:4222"]
    credentials = "/etc/polyptt/north.creds"   # or user / password
    ca_file = "/etc/polyptt/district-ca.pem"
    name = "district"               # subject prefix: district.page.north, ...
    caller_prefix = "N:"            # before the caller id of pages from other sites
    wait_s = 10                     # a busy channel delays a remote page this long at most
    members = ["south", "east"]     # hear only these sites (default: every site)

Without ``[nats]`` the relay is a single-site relay, exactly as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["NatsConfig", "parse_nats", "parse_site", "parse_sites"]

#: A site's name: it is a NATS subject token, so no dots, spaces or wildcards.
_SITE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
#: The word that addresses every site of the federation.
ALL = "all"


@dataclass(frozen=True)
class NatsConfig:
    """How the relay joins its federation (the ``[nats]`` table)."""

    urls: tuple[str, ...]
    credentials: str | None = None
    user: str | None = None
    password: str | None = None
    ca_file: str | None = None
    name: str = "polyptt"
    caller_prefix: str = ""
    wait_s: float = 10.0
    #: The only other sites this relay hears (pages, shared pages, results, hellos);
    #: None: every site the NATS server lets it hear.
    members: frozenset[str] | None = None


def parse_site(value: Any) -> str:
    """A site name (ValueError: one line saying what a name may hold)."""
    text = str(value)
    if text == ALL or not _SITE.match(text):
        raise ValueError(
            f"site {text!r} must be 1-32 letters, digits, '-' or '_' (and not {ALL!r})"
        )
    return text


def parse_sites(text: str | list[Any] | None) -> frozenset[str] | None:
    """``north,south`` or ``all`` (a list in JSON) as names; ``{"all"}`` for all; None
    for none given."""
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else [str(t) for t in text]
    names = {item.strip() for item in items if item.strip()}
    if not names:
        raise ValueError("sites must name one or more sites, or be 'all'")
    if ALL in names:
        return frozenset({ALL})
    return frozenset(parse_site(name) for name in names)


_KEYS = {
    "url",
    "credentials",
    "user",
    "password",
    "ca_file",
    "name",
    "caller_prefix",
    "wait_s",
    "members",
}


def parse_nats(data: Any, beside: Any) -> NatsConfig | None:
    """The ``[nats]`` table (`beside` makes its file paths relative to the config)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError("[nats] must be a table")
    unknown = set(data) - _KEYS
    if unknown:
        raise ValueError(f"unknown [nats] keys {sorted(unknown)} (expected {sorted(_KEYS)})")
    urls = data.get("url", "nats://127.0.0.1:4222")
    urls = [urls] if isinstance(urls, str) else urls
    if not urls or not all(isinstance(u, str) and "://" in u for u in urls):
        raise ValueError("[nats] url must be one or more nats:// or tls:// URLs")
    if data.get("credentials") and data.get("user"):
        raise ValueError("[nats] takes credentials or user/password, not both")
    files = {k: str(beside(data[k])) for k in ("credentials", "ca_file") if data.get(k)}
    return NatsConfig(
        members=_members(data.get("members")),
        urls=tuple(urls),
        user=data.get("user"),
        password=data.get("password"),
        name=parse_site(data.get("name", "polyptt")),
        caller_prefix=str(data.get("caller_prefix", "")),
        wait_s=float(data.get("wait_s", 10.0)),
        **files,
    )


def _members(value: Any) -> frozenset[str] | None:
    """``[nats] members``: a list of site names (not ``all``), or None."""
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ValueError("[nats] members must be a list of one or more site names")
    return frozenset(parse_site(item) for item in value)
