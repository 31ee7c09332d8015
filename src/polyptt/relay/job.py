"""What ``polyptt relay`` does: serve until a signal; add, list and revoke tokens.

:func:`run` checks a :class:`RelayJob` (the address, TLS, the configuration, the
recording directory) before anything is served, then serves `polyptt.relay.create_app`
until SIGTERM or SIGINT, after which every page in progress is ended with its end
packets; it returns 128 + the signal, as ``send`` and ``listen`` do. :func:`add_token`,
:func:`grants` and :func:`revoke_token` manage who may use it.

Decision on binding: a non-loopback `RelayJob.bind` without TLS is refused unless
`RelayJob.insecure_http` says a TLS reverse proxy sits in front, because tokens and
audio would otherwise cross the network in clear.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyptt.console import Console
from polyptt.errors import BadInput, Missing
from polyptt.transport import DEFAULT_DESTINATION, DEFAULT_TTL, Destination, parse_destination

if TYPE_CHECKING:
    import ssl

    from aiohttp import web

    from polyptt.relay.auth import Grant
    from polyptt.relay.config import RelayConfig
    from polyptt.relay.state import RelaySettings

__all__ = [
    "DEFAULT_BIND",
    "RelayJob",
    "add_token",
    "default_config",
    "grant_fields",
    "grant_line",
    "grants",
    "parse_channels",
    "parse_scopes",
    "parse_targets",
    "parse_token_sites",
    "revoke_token",
    "run",
    "token_listing",
]

DEFAULT_BIND = "127.0.0.1:8080"
_DEFAULT_PORT = 8080


def default_config() -> Path:
    """``$XDG_CONFIG_HOME/polyptt/relay.toml`` (``~/.config`` without it)."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "polyptt" / "relay.toml"


def load_policy(config: Path | None, *, missing_ok: bool = False) -> RelayConfig:
    """The relay's configuration from `config` (`default_config` if None).

    A file named by ``--config`` must exist (unless `missing_ok`: ``token add`` makes
    it), so that a typo never starts a relay with other tokens than meant; the default
    one need not.

    Raises
    ------
    BadInput
        For a configuration that is missing, cannot be read or is wrong (``--config``).
    """
    from polyptt.relay.config import ConfigError, load_config

    try:
        named = config is not None and not missing_ok
        return load_config(config or default_config(), must_exist=named)
    except ConfigError as exc:
        raise BadInput(str(exc), "--config") from None


@dataclass(frozen=True)
class RelayJob:
    """The relay's settings (``polyptt relay``'s options; see its ``--help``)."""

    bind: str = DEFAULT_BIND
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    config: Path | None = None
    record: Path | None = None
    data: Path | None = None
    serial: int | None = None
    destination: Destination = field(
        default_factory=functools.partial(parse_destination, DEFAULT_DESTINATION)
    )
    interface: str | None = None
    ttl: int = DEFAULT_TTL
    site: str | None = None


def run(job: RelayJob, console: Console | None = None) -> int:
    """Serve the relay until SIGTERM or SIGINT; 128 + that signal.

    Raises
    ------
    BadInput
        For an address, TLS files, a configuration or a recording directory that cannot
        be used, or a non-loopback address without TLS or `insecure_http`.
    NetworkError
        If the relay cannot start or serve on its address.
    """
    import asyncio
    import logging

    console = console if console is not None else Console()
    host, port, context = _address(job)
    settings = _settings(job, tls=context is not None)
    from polyptt.relay.hooks import check_available

    check_available(settings.config.hooks)  # [mqtt] without aiomqtt: one line, before serving
    if console.verbosity >= 1:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    return asyncio.run(_serve(settings, host, port, context, console))


def _address(job: RelayJob) -> tuple[str, int, ssl.SSLContext | None]:
    """Where to serve, and the TLS context if any; refuses clear text off loopback."""
    from polyptt.transport import split_host_port

    try:
        host, port = split_host_port(job.bind, default_host="127.0.0.1")
    except ValueError as exc:
        raise BadInput(str(exc), "--bind") from None
    if ":" not in job.bind:
        port = _DEFAULT_PORT
    context = _tls(job.tls_cert, job.tls_key)
    if context is None and not _is_loopback(host) and not job.insecure_http:
        raise BadInput(
            f"--bind {job.bind} is not a loopback address: serving it without TLS would send "
            "tokens and audio in clear; give --tls-cert/--tls-key, or --insecure-http if a "
            "TLS reverse proxy on a trusted network is in front"
        )
    return host, port, context


def _settings(job: RelayJob, *, tls: bool) -> RelaySettings:
    from polyptt.host import serial_from_mac
    from polyptt.relay import RelaySettings

    policy = _with_site(load_policy(job.config), job.site)
    if job.record is not None:
        try:
            job.record.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            message = f"cannot write to {job.record}: {exc.strerror or exc}"
            raise BadInput(message, "--record") from None
    return RelaySettings(
        config=policy,
        destination=job.destination,
        interface=job.interface,
        ttl=job.ttl,
        serial=serial_from_mac() if job.serial is None else job.serial,
        record=job.record,
        data=_data_dir(job, policy),
        tls=tls,
    )


def _with_site(policy: RelayConfig, site: str | None) -> RelayConfig:
    """`policy` with ``--site`` if given; a ``[nats]`` without nats-py (or its
    ``credentials`` without nkeys) is refused now."""
    import dataclasses
    import importlib

    from polyptt.relay.sites.config import parse_site

    if site is not None:
        try:
            policy = dataclasses.replace(policy, site=parse_site(site))
        except ValueError as exc:
            raise BadInput(str(exc), "--site") from None
    if policy.nats is not None:
        try:
            import nats  # noqa: F401
        except ImportError:
            raise Missing(
                f"{policy.path}: [nats] needs nats-py: pip install 'polyptt[nats]'"
            ) from None
        if policy.nats.credentials:
            try:  # nats-py signs with it only when it connects: too late to say so
                importlib.import_module("nkeys")
            except ImportError:
                raise Missing(
                    f"{policy.path}: [nats] credentials needs nkeys: pip install 'polyptt[nats]'"
                ) from None
    return policy


def _data_dir(job: RelayJob, policy: RelayConfig) -> Path:
    """``--data``, else the config's ``data``, else the platform's state directory;
    made now, so that a folder that cannot be written is an error before serving."""
    from polyptt.relay.store.database import default_data_dir

    data = job.data or policy.data or default_data_dir()
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        option = "--data" if job.data is not None else "--config"
        raise BadInput(f"cannot write to {data}: {exc.strerror or exc}", option) from None
    return data


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tls(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise BadInput("--tls-cert and --tls-key go together")
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise BadInput(f"cannot load {cert} / {key}: {exc}", "--tls-cert") from None
    return context


async def _serve(
    settings: RelaySettings,
    host: str,
    port: int,
    context: ssl.SSLContext | None,
    console: Console,
) -> int:
    import asyncio

    from aiohttp import web

    from polyptt.relay import create_app
    from polyptt.relay.security import AccessLogger
    from polyptt.relay.serving import (
        REQUEST_HEADER_S,
        ThrottledErrors,
        hide_server_version,
        install_log_filters,
    )
    from polyptt.relay.startup import startup_line
    from polyptt.signals import Stopping
    from polyptt.transport import NetworkError

    app = create_app(settings)
    asyncio.get_running_loop().set_exception_handler(ThrottledErrors())
    install_log_filters()
    hide_server_version()
    runner = web.AppRunner(
        app,
        access_log_class=AccessLogger,
        handle_signals=False,
        keepalive_timeout=REQUEST_HEADER_S,  # also bounds the wait for the first headers
    )
    try:
        await runner.setup()
    except OSError as exc:  # a NetworkError too
        await runner.cleanup()
        raise NetworkError(f"cannot start the relay: {_reason(exc)}") from None
    stopping = Stopping()
    try:
        await _start_site(runner, host, port, context, settings.config)
        console.say(startup_line(settings, host, port))
        await stopping.event.wait()
    finally:
        await runner.cleanup()
    return stopping.exit_code


async def _start_site(
    runner: web.AppRunner,
    host: str,
    port: int,
    context: ssl.SSLContext | None,
    config: RelayConfig,
) -> None:
    from polyptt.relay.serving import GuardedSite
    from polyptt.transport import NetworkError

    site = GuardedSite(
        runner,
        host,
        port,
        ssl_context=context,
        per_address=config.limits.connections_per_address,
        exempt=frozenset(config.trusted_proxies),
    )
    try:
        await site.start()
    except OSError as exc:
        raise NetworkError(f"cannot serve on {host}:{port}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc)


# ---------------------------------------------------------------- tokens


def parse_scopes(text: str) -> frozenset[str]:
    """``listen,talk`` (in any case) as a set of `polyptt.relay.auth.SCOPES` (ValueError
    otherwise)."""
    from polyptt.relay.auth import SCOPES

    scopes = frozenset(s.strip().lower() for s in text.split(",") if s.strip())
    if scopes - set(SCOPES) or not scopes:
        raise ValueError(f"{text!r}: expected some of {','.join(SCOPES)}")
    return scopes


def parse_channels(text: str) -> frozenset[int]:
    """Channels a token may talk on, as `polyptt.protocol.parse_channels` reads them
    (``all``: every channel)."""
    from polyptt import protocol
    from polyptt.relay.auth import ALL_CHANNELS

    channels = protocol.parse_channels(text)
    return ALL_CHANNELS if channels is None else channels


def parse_expiry(text: str | None) -> float | None:
    """``--expires``: None (never), or the moment (`polyptt.relay.auth.parse_expiry`:
    ``90m``, ``12h``, ``30d``, ``2w`` from now, or a date; ValueError otherwise)."""
    from polyptt.relay.auth import parse_expiry as parse

    return None if text is None else parse(text)


def parse_token_sites(text: str | None) -> frozenset[str] | None:
    """``--sites``: the other sites a token may page; none given is its relay's own
    only (an empty set), ``all`` is None (ValueError for a bad name)."""
    from polyptt.relay.sites.config import ALL, parse_sites

    sites = parse_sites(text)
    if sites is None:
        return frozenset()
    return None if ALL in sites else sites


def parse_targets(text: str | None) -> frozenset[str] | None:
    """Named targets granted: None given is none (an empty set), ``all`` is None."""
    if text is None:
        return frozenset()
    if text.strip().lower() == "all":
        return None
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise ValueError(f"{text!r} has an empty name (expected NAME,NAME or all)")
    return frozenset(names)


def add_token(
    config: Path | None,
    name: str,
    scopes: frozenset[str],
    channels: frozenset[int],
    targets: frozenset[str] | None,
    expires: float | None = None,
    sites: frozenset[str] | None = frozenset(),
) -> tuple[str, Path]:
    """Make a token for `name`; returns it (shown once, stored hashed) and the store's path.

    Raises
    ------
    BadInput
        For targets without the talk scope or not in the configuration, or a name the
        store refuses.
    OSError
        If the store cannot be written (its ``filename`` is the store).
    """
    from polyptt.relay.auth import TokenError, TokenStore
    from polyptt.relay.config import ConfigError, create_config

    policy = load_policy(config, missing_ok=True)  # made below, once the token is valid
    if targets != frozenset() and "talk" not in scopes:
        raise BadInput("--targets needs the talk scope (--can talk)")
    unknown = sorted((targets or frozenset()) - set(policy.targets))
    if unknown:
        known = ", ".join(sorted(policy.targets)) or "none"
        message = f"no target named {', '.join(unknown)} in {policy.path} (known: {known})"
        raise BadInput(message, "--targets")
    try:
        create_config(config or default_config())
    except ConfigError as exc:
        raise BadInput(str(exc), "--config") from None
    store = TokenStore(policy.tokens_path)
    try:
        return store.add(name, scopes, channels, targets, expires, sites), store.path
    except TokenError as exc:
        raise BadInput(str(exc)) from None
    except OSError as exc:
        raise OSError(exc.errno, str(exc.strerror or exc), str(store.path)) from None


def grants(config: Path | None) -> list[Grant]:
    """What every token allows (`BadInput` for a store that cannot be read)."""
    from polyptt.relay.auth import TokenError, TokenStore

    try:
        return TokenStore(load_policy(config).tokens_path).grants()
    except TokenError as exc:
        raise BadInput(str(exc)) from None


def token_listing(config: Path | None, *, as_json: bool = False) -> str:
    """What ``token list`` prints: a `grant_line` a token, or with `as_json` one JSON
    object of `grant_fields` by name (`BadInput` for a store that cannot be read)."""
    import json

    found = grants(config)
    if as_json:
        return json.dumps({g.name: grant_fields(g) for g in found}, indent=2) + "\n"
    return "".join(f"{grant_line(g)}\n" for g in found)


def grant_fields(grant: Grant) -> dict[str, Any]:
    """`grant` as ``token list --json`` shows it (targets None: all; expires None: never)."""
    from polyptt.relay.auth import format_expiry

    return {
        "scopes": sorted(grant.scopes),
        "channels": sorted(grant.channels),
        "targets": None if grant.targets is None else sorted(grant.targets),
        "expires": None if grant.expires is None else format_expiry(grant.expires),
    } | ({} if grant.sites == frozenset() else {"sites": _sites(grant.sites)})


def _sites(sites: frozenset[str] | None) -> list[str] | str:
    return "all" if sites is None else sorted(sites)


def grant_line(grant: Grant) -> str:
    """`grant` as ``token list`` shows it: name, scopes, channels, targets, expiry,
    tab-separated."""
    from polyptt.protocol import format_channels
    from polyptt.relay.auth import format_expiry

    targets = "all" if grant.targets is None else ",".join(sorted(grant.targets)) or "-"
    scopes = ",".join(sorted(grant.scopes))
    expires = "never" if grant.expires is None else format_expiry(grant.expires)
    return f"{grant.name}\t{scopes}\t{format_channels(grant.channels)}\t{targets}\t{expires}"


def revoke_token(config: Path | None, name: str) -> None:
    """Revoke `name`'s token: a running relay cuts its connections and pages at once."""
    from polyptt.relay.auth import TokenError, TokenStore

    try:
        TokenStore(load_policy(config).tokens_path).revoke(name)
    except TokenError as exc:
        raise BadInput(str(exc)) from None
