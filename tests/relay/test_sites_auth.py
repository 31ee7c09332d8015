"""A site publishes only under its own name (issue 23): the hub's configuration of
docs/sites.md, run by Debian's ``nats-server``, and relays with credentials per site.

The hub (`hub_conf`) gives each school an account of its own with one user (user and
password) whose permissions let it publish only ``district.*.SCHOOL`` and hear
``district.>``; the account exports its own subjects and imports every other school's.
Two ways in are tested: relays connecting to the hub straight (`direct`), and relays
connecting to a leaf node of their own that logs in to the hub as the school (`leaves`,
a ``nats-server`` per site, all on loopback); and the same over TLS (`over_tls`:
certificates from a trustme CA, client certificates for the leaf nodes). Forged pages
are published with nats-py. ``[nats] members`` is tested on a server without logins.
The LANs are kept apart by multicast ports, as in ``tests/relay/test_sites.py``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.nats import NatsServer, nats_server  # noqa: F401 (the fixture)
from tests.support.relay import free_tcp_port
from tests.support.relay_audio import SPEECH
from tests.support.sites import Site, health, joined, lan_packets, site_config, start_site, token
from tests.support.udp_capture import WireSniffer, free_port

# exclusive: up to four nats-servers, three relays pacing in real time (as test_sites)
pytestmark = [pytest.mark.network, pytest.mark.exclusive]

SITES = ("north", "south", "east")


def password(site: str) -> str:
    return f"secret-{site}"


@functools.cache
def bcrypt(site: str) -> str:
    """The bcrypt hash of `site`'s password, as the hub keeps it (``$2b$``, by libxcrypt)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # crypt: gone in Python 3.13
        crypt = pytest.importorskip("crypt")
        hashed: str = crypt.crypt(password(site), crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024))
    assert hashed.startswith("$2b$10$"), hashed
    return hashed


def hub_conf(sites: tuple[str, ...], leaf_port: int | None = None) -> str:
    """The district's hub as docs/sites.md gives it."""
    accounts = []
    for site in sites:
        imports = ", ".join(
            f'{{ stream: {{ account: {other.upper()}, subject: "district.*.{other}" }} }}'
            for other in sites
            if other != site
        )
        accounts.append(
            f"""  {site.upper()} {{
    users = [ {{ user: {site}, password: "{bcrypt(site)}",
                permissions: {{ publish: {{ allow: ["district.*.{site}"] }},
                               subscribe: {{ allow: ["district.>"] }} }} }} ]
    exports = [ {{ stream: "district.*.{site}" }} ]
    imports = [ {imports} ]
  }}"""
        )
    leaf = f"leafnodes {{ listen: 127.0.0.1:{leaf_port} }}\n" if leaf_port else ""
    return "accounts {\n" + "\n".join(accounts) + "\n}\n" + leaf


def leaf_conf(site: str, hub_leaf_port: int) -> str:
    """A school's leaf node: local clients without a login, one remote to the hub."""
    url = f"nats://{site}:{password(site)}@127.0.0.1:{hub_leaf_port}"
    return f'leafnodes {{ remotes = [ {{ url: "{url}" }} ] }}\n'


def credentials(site: str, secret: str | None = None) -> str:
    return f'user = "{site}"\npassword = "{secret or password(site)}"\n'


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "hub", conf=hub_conf(SITES))
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def direct(tmp_path: Path, hub: NatsServer) -> Iterator[dict[str, Site]]:
    """Three relays logged in to the hub, each as its own school."""
    sites = {
        name: Site(name, free_port(), site_config(tmp_path, name, hub.url, "", credentials(name)))
        for name in SITES
    }
    with joined(sites):
        yield sites


@pytest.fixture
def leaves(tmp_path: Path) -> Iterator[tuple[dict[str, Site], dict[str, NatsServer]]]:
    """The hub with a leaf node port, a leaf node per school logged in to it as the
    school, and each relay on its own leaf node (no login there)."""
    leaf_port = free_tcp_port()
    servers = {"hub": NatsServer(tmp_path / "hub", conf=hub_conf(SITES, leaf_port))}
    for name in SITES:
        servers[name] = NatsServer(tmp_path / "leaf", conf=leaf_conf(name, leaf_port))
        servers[name].log_name = f"{name}.log"
    try:
        for server in servers.values():
            server.start()
        sites = {
            name: Site(name, free_port(), site_config(tmp_path, name, servers[name].url))
            for name in SITES
        }
        with joined(sites):
            yield sites, servers
    finally:
        for server in servers.values():
            server.kill()


def forged_start(sender: str, to: list[str]) -> bytes:
    """A page's start as `sender` would publish it (see polyptt.relay.sites.wire)."""
    start = {
        "page": "f0f0f0f0f0f0f0f0",
        "from": sender,
        "to": to,
        "channel": 26,
        "codec": "g722",
        "frame_ms": 20,
        "caller_id": "Forged",
        "sent": time.time(),
    }
    return b"S" + json.dumps(start).encode()


async def _publish(url: str, messages: list[tuple[str, bytes]], **login: Any) -> list[str]:
    """Publish `messages` over a connection of its own; the server's errors."""
    import nats

    errors: list[str] = []

    async def error(exc: Exception) -> None:
        errors.append(str(exc))

    nc = await nats.connect(url, error_cb=error, allow_reconnect=False, **login)
    try:
        for subject, data in messages:
            await nc.publish(subject, data)
        await nc.flush()
        await asyncio.sleep(0.5)  # the server's -ERR comes after its PONG
    finally:
        await nc.close()
    return errors


def page_north_to_south(sites: dict[str, Site]) -> None:
    """A page posted at north for south: 31 alerts and 12 ends at south, nothing at
    north or east."""
    north, south, east = (sites[n] for n in SITES)
    assert north.relay is not None
    secret = token(north, "Office", "south")
    with WireSniffer() as sniffer:
        status, answer = north.relay.request(
            "POST", "/api/v1/pages?channel=26&sites=south&wait=1", secret, SPEECH.read_bytes()
        )
        time.sleep(1.0)  # south's end packets after north's (its jitter buffer)
    assert status == 200, answer
    counts = lan_packets(sniffer, south.port)
    assert (counts["AlertPacket"], counts["EndPacket"]) == (31, 12), counts
    assert counts["TransmitPacket"] == answer["transmits"]
    assert lan_packets(sniffer, north.port) == {}
    assert lan_packets(sniffer, east.port) == {}
    _status, pages = north.relay.request("GET", "/api/v1/pages", secret)
    assert pages["pages"][0]["sites"]["south"]["state"] == "played"


def nothing_played(sites: dict[str, Site], sniffer: WireSniffer) -> None:
    """No datagram on any site's LAN, no page in any relay's records."""
    for site in sites.values():
        assert lan_packets(sniffer, site.port) == {}, site.name
        assert site.relay is not None
        _status, pages = site.relay.request("GET", "/api/v1/pages", token(site, "Watch", None))
        assert pages["pages"] == [], (site.name, pages)


def test_direct_a_page_crosses_with_a_login_per_site(direct: dict[str, Site]) -> None:
    page_north_to_south(direct)


def test_direct_a_page_forged_under_another_name_is_refused_by_the_server(
    hub: NatsServer, direct: dict[str, Site]
) -> None:
    """North's login publishing as south, or as a school not (yet) in the district:
    the server answers with a permissions violation and nobody hears the message."""
    forged = [
        ("district.page.south", forged_start("south", ["all"])),
        ("district.page.west", forged_start("west", ["all"])),
    ]
    with WireSniffer() as sniffer:
        errors = asyncio.run(_publish(hub.url, forged, user="north", password=password("north")))
        time.sleep(1.5)  # a start that got through would sound its alerts meanwhile
    assert errors == [
        'nats: permissions violation for publish to "district.page.south"',
        'nats: permissions violation for publish to "district.page.west"',
    ]
    nothing_played(direct, sniffer)
    # and north's own name still goes through: the login is not refused as a whole
    assert asyncio.run(_publish(hub.url, [], user="north", password=password("north"))) == []


def test_direct_a_wrong_password_leaves_the_link_down_and_the_lan_paging(
    tmp_path: Path, hub: NatsServer
) -> None:
    north = Site(
        "north",
        free_port(),
        site_config(tmp_path, "north", hub.url, "", credentials("north", "wrong")),
    )
    north.relay = start_site(north)
    try:
        time.sleep(2.0)  # several attempts
        nats = health(north)["nats"]
        assert (nats["link"], nats["sites"]) == ("down", {}), nats
        secret = token(north, "Office", None)
        with WireSniffer() as sniffer:
            status, answer = north.relay.request(
                "POST", "/api/v1/pages?channel=26&wait=1", secret, SPEECH.read_bytes()
            )
            time.sleep(0.3)
        assert status == 200, answer
        counts = lan_packets(sniffer, north.port)
        assert (counts["AlertPacket"], counts["EndPacket"]) == (31, 12), counts
        assert health(north)["nats"]["link"] == "down"
        _status, metrics = north.relay.request("GET", "/metrics", secret)
        assert "polyptt_relay_nats_up 0\n" in metrics
    finally:
        north.relay.stop()
    assert 'authentication error - User "north"' in hub.log


def test_leaf_nodes_a_page_crosses(
    leaves: tuple[dict[str, Site], dict[str, NatsServer]],
) -> None:
    page_north_to_south(leaves[0])


def test_leaf_nodes_a_page_forged_at_north_reaches_no_other_school(
    leaves: tuple[dict[str, Site], dict[str, NatsServer]],
) -> None:
    """Anyone on north's leaf node (no login there) publishing as south or as a new
    school: the hub holds north's leaf node to north's name, so neither south nor east
    hears it (north's own relay ignores it: it is addressed to south and east only)."""
    sites, servers = leaves
    to = ["south", "east"]
    forged = [
        ("district.page.south", forged_start("south", to)),
        ("district.page.west", forged_start("west", to)),
    ]
    with WireSniffer() as sniffer:
        errors = asyncio.run(_publish(servers["north"].url, forged))
        time.sleep(1.5)
    assert errors == []  # north's leaf node takes it from its local client...
    nothing_played(sites, sniffer)  # ...and it goes no further


@pytest.fixture
def members(tmp_path: Path, nats_server: NatsServer) -> Iterator[dict[str, Site]]:  # noqa: F811
    """Three relays on a server without logins; south hears north only."""
    sites = {}
    for name in SITES:
        in_nats = 'members = ["north"]\n' if name == "south" else ""
        config = site_config(tmp_path, name, nats_server.url, "", in_nats)
        sites[name] = Site(name, free_port(), config)
    with joined(sites, others={"south": 1}):
        yield sites


def test_members_a_site_plays_pages_only_from_its_members(members: dict[str, Site]) -> None:
    """South lists north only: east's page for south is not played there (east hears
    no answer), north's is; south's health shows north alone."""
    south, east = members["south"], members["east"]
    assert east.relay is not None
    assert south.relay is not None
    assert sorted(health(south)["nats"]["sites"]) == ["north"]
    secret = token(east, "Office", "south")
    with WireSniffer() as sniffer:
        status, answer = east.relay.request(
            "POST", "/api/v1/pages?channel=26&sites=south&wait=1", secret, SPEECH.read_bytes()
        )
        time.sleep(1.0)
    assert status == 200, answer
    for site in members.values():
        assert lan_packets(sniffer, site.port) == {}, site.name
    _status, pages = east.relay.request("GET", "/api/v1/pages", secret)
    assert pages["pages"][0]["sites"] == {}  # nobody played or refused it
    _status, metrics = south.relay.request("GET", "/metrics", token(south, "Watch", None))
    assert "polyptt_relay_site_pages_played_total 0\n" in metrics
    page_north_to_south(members)


def tls_files(folder: Path, ca: Any, name: str) -> str:
    """`name`'s certificate and key from `ca`, as a nats-server ``tls`` block's files."""
    folder.mkdir(parents=True, exist_ok=True)
    cert = ca.issue_cert("127.0.0.1", common_name=name)
    cert.cert_chain_pems[0].write_to_path(str(folder / f"{name}.pem"))
    cert.private_key_pem.write_to_path(str(folder / f"{name}-key.pem"))
    return (
        f'cert_file: "{folder / name}.pem", key_file: "{folder / name}-key.pem", '
        f'ca_file: "{folder / "ca.pem"}"'
    )


@pytest.fixture
def over_tls(tmp_path: Path) -> Iterator[tuple[dict[str, Site], dict[str, NatsServer], Path]]:
    """The hub with TLS for clients and for leaf nodes (each school's leaf node shows
    its client certificate, ``verify: true``); north's relay logs in to the hub straight
    over ``tls://`` (``ca_file``), south's through its leaf node, which dials the hub
    over TLS."""
    trustme = pytest.importorskip("trustme")
    ca, certs = trustme.CA(), tmp_path / "certs"
    hub_tls = tls_files(certs, ca, "hub")
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    leaf_port = free_tcp_port()
    hub_text = (
        hub_conf(("north", "south"))
        + f"tls {{ {hub_tls} }}\n"
        + f"leafnodes {{ listen: 127.0.0.1:{leaf_port}, tls {{ {hub_tls}, verify: true }} }}\n"
    )
    url = f"tls://south:{password('south')}@127.0.0.1:{leaf_port}"
    south_tls = tls_files(certs, ca, "south")
    leaf_text = f'leafnodes {{ remotes = [ {{ url: "{url}", tls {{ {south_tls} }} }} ] }}\n'
    servers = {
        "hub": NatsServer(tmp_path / "hub", conf=hub_text),
        "south": NatsServer(tmp_path / "leaf", conf=leaf_text, log_name="south.log"),
    }
    in_north = credentials("north") + f'ca_file = "{certs / "ca.pem"}"\n'
    hub_url = f"tls://127.0.0.1:{servers['hub'].port}"
    sites = {
        "north": Site("north", free_port(), site_config(tmp_path, "north", hub_url, "", in_north)),
        "south": Site("south", free_port(), site_config(tmp_path, "south", servers["south"].url)),
    }
    try:
        for server in servers.values():
            server.start()
        with joined(sites):
            yield sites, servers, certs
    finally:
        for server in servers.values():
            server.kill()


def test_tls_a_page_crosses_from_a_relay_on_tls_to_a_leaf_node_on_tls(
    over_tls: tuple[dict[str, Site], dict[str, NatsServer], Path],
) -> None:
    """North (tls://, the district's CA in ``ca_file``) pages south (its leaf node on
    TLS with a client certificate); a client without the district's CA is refused."""
    sites, servers, _certs = over_tls
    north, south = sites["north"], sites["south"]
    assert north.relay is not None
    secret = token(north, "Office", "south")
    with WireSniffer() as sniffer:
        status, answer = north.relay.request(
            "POST", "/api/v1/pages?channel=26&sites=south&wait=1", secret, SPEECH.read_bytes()
        )
        time.sleep(1.0)
    assert status == 200, answer
    counts = lan_packets(sniffer, south.port)
    assert (counts["AlertPacket"], counts["EndPacket"]) == (31, 12), counts
    assert lan_packets(sniffer, north.port) == {}
    with pytest.raises(ssl.SSLCertVerificationError):  # the system's CAs only
        asyncio.run(
            _publish(f"tls://127.0.0.1:{servers['hub'].port}", [], user="north", password="x")
        )
