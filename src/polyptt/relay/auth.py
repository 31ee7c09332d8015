"""Tokens: who may use the relay, for what, on which channels.

A token is 32 random bytes (URL-safe base64), shown once when it is made; the store
keeps only its SHA-256, so a leaked store lets nobody in. (A plain hash is enough: the
tokens are random, not passwords, so there is nothing to guess from the hash.) The
store is a JSON file beside the configuration, written atomically and re-read when it
changes, so ``polyptt relay token revoke`` takes effect in a running relay.

A token's NAME is the caller id phones show for its pages, so it must fit in 13 bytes.

Decision on named targets (phones paged by unicast, ``[targets]`` in the configuration):
a token pages none of them unless it was granted them (``--targets reception`` or
``--targets all``). A target is one particular phone, often a person's desk: paging it
is a separate decision from paging a channel, so it is granted, never implied. A store
written before targets existed has no ``targets`` in its records, which reads the same
way (no targets): an old token keeps every right it was knowingly given.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyptt.protocol import Priority, channel_priority, fit_caller_id

__all__ = [
    "SCOPES",
    "Grant",
    "TokenError",
    "TokenStore",
    "format_expiry",
    "hash_token",
    "parse_expiry",
]

#: listen: hear pages; talk: page on the token's channels; emergency: also on the
#: priority and emergency channels (24, 25, 49, 50); schedule: make, change, pause,
#: resume and ring bell schedules (`polyptt.relay.bells`) on the token's channels.
SCOPES = ("listen", "talk", "emergency", "schedule")
ALL_CHANNELS = frozenset(range(1, 51))


class TokenError(Exception):
    """A token cannot be added or revoked as asked (one-line message)."""


def hash_token(token: str) -> str:
    """The hex SHA-256 a token is stored as."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Grant:
    """What one token allows.

    Attributes
    ----------
    name : str
        The token's name: its caller id, and who the audit log says acted.
    scopes : frozenset of str
        Some of `SCOPES`.
    channels : frozenset of int
        Channels it may talk on (listening hears every channel).
    targets : frozenset of str or None
        Named targets it may page; None: all of them (see the module docstring).
    expires : float or None
        When it stops being valid (seconds since the epoch); None: never.
    sites : frozenset of str or None
        Other sites of the federation it may page (`polyptt.relay.sites`); None: all;
        empty (the default, and what older stores read as): its relay's own only.
    """

    name: str
    scopes: frozenset[str]
    channels: frozenset[int] = ALL_CHANNELS
    targets: frozenset[str] | None = frozenset()
    expires: float | None = None
    sites: frozenset[str] | None = frozenset()

    def site_refusal(self, sites: frozenset[str], own: str | None) -> str | None:
        """Why this token may not page `sites` (``{"all"}``: every one), or None."""
        if self.sites is None:
            return None
        if "all" in sites:
            return "this token may not page all sites"
        others = sorted(sites - self.sites - ({own} if own else set()))
        if others:
            return f"this token may not page site {others[0]!r}"
        return None

    def refusal(self, channel: int, target: str | None = None) -> str | None:
        """Why this token may not talk on `channel` (to `target`), or None if it may.

        Whether `target` exists is not judged here: a token learns nothing about the
        targets it may not page.
        """
        if "talk" not in self.scopes:
            return "this token may not talk"
        if channel not in self.channels:
            return f"this token may not talk on channel {channel}"
        if channel_priority(channel) is not Priority.NORMAL and "emergency" not in self.scopes:
            return f"channel {channel} is a priority/emergency channel; the token lacks 'emergency'"
        if target is not None and not self.may_page(target):
            return f"this token may not page the target {target!r}"
        return None

    def may_page(self, target: str) -> bool:
        """Whether the named `target` is among this token's."""
        return self.targets is None or target in self.targets


class TokenStore:
    """The hashed tokens in `path` (a JSON object: name -> record).

    Reads are cached and refreshed when the file's modification time or size changes,
    so a relay checks a token on every request for the cost of one ``stat``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._records: dict[str, dict[str, Any]] = {}
        self._by_hash: dict[str, Grant] = {}

    def add(
        self,
        name: str,
        scopes: frozenset[str],
        channels: frozenset[int],
        targets: frozenset[str] | None = frozenset(),
        expires: float | None = None,
        sites: frozenset[str] | None = frozenset(),
    ) -> str:
        """Make a token for `name`; returns it (the only time it exists in clear).


        `targets` are the named targets it may page (None: all); `expires` when it
        stops being valid (seconds since the epoch; None: never); `sites` the other
        sites it may page (None: all; empty: its relay's own only).
        """
        _fitted, cut = fit_caller_id(name)
        if cut or not name.strip():
            raise TokenError(f"name {name!r} must be 1-13 bytes (it is the caller id phones show)")
        unknown = set(scopes) - set(SCOPES)
        if unknown or not scopes:
            raise TokenError(f"scopes must be some of {', '.join(SCOPES)}")
        records = self._read()
        if name in records:
            raise TokenError(f"a token named {name!r} exists; revoke it first")
        token = secrets.token_urlsafe(32)
        records[name] = {
            "sha256": hash_token(token),
            "scopes": sorted(scopes),
            "channels": sorted(channels),
            "targets": "all" if targets is None else sorted(targets),
        }
        if expires is not None:
            records[name]["expires"] = format_expiry(expires)
        if sites != frozenset():
            records[name]["sites"] = "all" if sites is None else sorted(sites)
        self._write(records)
        return token

    def revoke(self, name: str) -> None:
        records = self._read()
        if records.pop(name, None) is None:
            raise TokenError(f"no token named {name!r}")
        self._write(records)

    def grants(self) -> list[Grant]:
        """Every token's grant, by name."""
        self._refresh()
        return sorted(self._by_hash.values(), key=lambda g: g.name)

    def check(self, token: str) -> Grant | None:
        """The grant of `token`, or None if it is not (or no longer) valid."""
        return self.check_digest(hash_token(token))

    def check_digest(self, digest: str) -> Grant | None:
        """The grant of the token whose `hash_token` is `digest`, or None (unknown,
        revoked or expired).

        A connection keeps its token's digest, not the token, to notice a revocation
        or an expiry.
        """
        self._refresh()
        for known, grant in self._by_hash.items():
            if hmac.compare_digest(known, digest):
                expired = grant.expires is not None and time.time() >= grant.expires
                return None if expired else grant
        return None

    def _refresh(self) -> None:
        try:
            info = self.path.stat()
            stamp: tuple[int, int] | None = (info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp and (stamp is not None or not self._by_hash):
            return
        self._stamp = stamp
        self._records = self._read()
        self._by_hash = {r["sha256"]: _grant(name, r) for name, r in self._records.items()}

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise TokenError(f"{self.path}: cannot read the token store: {exc}") from None
        if not isinstance(data, dict):
            raise TokenError(f"{self.path}: not a token store")
        return data

    def _write(self, records: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".part")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(records, file, indent=2)
            file.write("\n")
        temporary.replace(self.path)
        self._stamp = None


def _grant(name: str, record: dict[str, Any]) -> Grant:
    """A stored record as a grant; a record without ``targets`` (older stores) has none."""
    targets = record.get("targets", [])
    expires = record.get("expires")
    sites = record.get("sites", [])
    return Grant(
        name,
        frozenset(record["scopes"]),
        frozenset(record["channels"]),
        None if targets == "all" else frozenset(targets),
        None if expires is None else datetime.datetime.fromisoformat(expires).timestamp(),
        None if sites == "all" else frozenset(sites),
    )


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_expiry(text: str, now: float | None = None) -> float:
    """``--expires``: a DURATION from `now` (``90m``, ``12h``, ``30d``, ``2w``, ``1d12h``)
    or a DATE (``2027-01-31``: its midnight, local time; or ``2027-01-31T18:00``,
    an ISO date and time, local unless it names its zone); seconds since the epoch.

    Raises
    ------
    ValueError
        Neither, or not in the future (one-line message).
    """
    now = time.time() if now is None else now
    spec = text.strip()
    parts = _DURATION.findall(spec)
    if parts and _DURATION.sub("", spec).strip() == "":
        at = now + sum(float(n) * _UNIT_S[u.lower()] for n, u in parts)
    else:
        try:
            moment = datetime.datetime.fromisoformat(spec)
        except ValueError:
            raise ValueError(
                f"{text!r} is neither a duration (90m, 12h, 30d, 2w) nor a date "
                "(2027-01-31 or 2027-01-31T18:00)"
            ) from None
        at = moment.astimezone().timestamp()
    if at <= now:
        raise ValueError(f"{text!r} is not in the future")
    return at


def format_expiry(at: float) -> str:
    """`at` (seconds since the epoch) as ISO 8601 in UTC, to the second."""
    moment = datetime.datetime.fromtimestamp(round(at), datetime.timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")
