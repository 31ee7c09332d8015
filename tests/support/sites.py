"""Relays joined over NATS for the sites tests (issue 23): each site's LAN is the
namespace's loopback with its own multicast port, its relay has a data directory of its
own, and `joined` starts a set of them and waits until every link is up."""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.relay import RelayProcess, start_relay, write_config
from tests.support.udp_capture import WireSniffer

from polyptt.protocol import DEFAULT_GROUP, ProtocolError, parse_packet
from polyptt.relay.auth import ALL_CHANNELS, TokenStore
from polyptt.relay.config import load_config


@dataclass
class Site:
    name: str
    port: int
    config: Path
    relay: RelayProcess | None = None


def site_config(folder: Path, name: str, nats: str, extra: str = "", in_nats: str = "") -> Path:
    text = f'site = "{name}"\n{extra}\n[nats]\nurl = "{nats}"\nname = "district"\n{in_nats}'
    return write_config(folder / name, text)


def start_site(site: Site) -> RelayProcess:
    """The site's relay, with a data directory of its own (each site its own database)."""
    data = site.config.parent / "data"
    return start_relay(site.config, udp_port=site.port, args=["--data", str(data)])


@contextmanager
def joined(
    sites: dict[str, Site], others: dict[str, int] | None = None
) -> Iterator[dict[str, Site]]:
    """The sites' relays started and joined; stopped on the way out, whatever happened."""
    try:
        for site in sites.values():
            site.relay = start_site(site)
        wait_joined(sites, others=others)
        yield sites
    finally:
        for site in sites.values():
            if site.relay is not None:
                site.relay.stop()


def health(site: Site) -> dict[str, Any]:
    assert site.relay is not None
    _status, answer = site.relay.request("GET", "/healthz")
    return answer  # type: ignore[no-any-return]


def wait_joined(
    sites: dict[str, Site], timeout: float = 15, others: dict[str, int] | None = None
) -> None:
    """Until every relay's link is up and it has heard from all the others (or from
    as many as `others` says for it)."""
    deadline = time.monotonic() + timeout
    while True:
        states = {name: health(site).get("nats", {}) for name, site in sites.items()}
        if all(
            s.get("link") == "up"
            and len(s.get("sites", {})) == (others or {}).get(name, len(sites) - 1)
            for name, s in states.items()
        ):
            return
        assert time.monotonic() < deadline, states
        time.sleep(0.1)


def token(site: Site, name: str, sites: str | None) -> str:
    """A talk token at `site` that may page `sites` (None: its own only)."""
    store = TokenStore(load_config(site.config).tokens_path)
    granted = (
        frozenset() if sites is None else (None if sites == "all" else frozenset(sites.split(",")))
    )
    return store.add(name, frozenset({"talk", "listen"}), ALL_CHANNELS, frozenset(), None, granted)


def lan_packets(sniffer: WireSniffer, port: int) -> collections.Counter[str]:
    """Kinds of the paging datagrams sent to the group at `port` (one site's LAN)."""
    counts: collections.Counter[str] = collections.Counter()
    for _source, address, to_port, payload in sniffer.sent:
        if (address, to_port) != (DEFAULT_GROUP, port):
            continue
        try:
            counts[type(parse_packet(payload)).__name__] += 1
        except ProtocolError:
            continue
    return counts
