"""``polyptt relay``: the service that pages and listens for clients outside the LAN.

``polyptt relay [OPTIONS]`` runs it; ``polyptt relay token add|list|revoke`` manage who
may use it. The service itself is `polyptt.relay` (an aiohttp application); this module
only checks the options, builds the settings and runs the application until SIGTERM or
SIGINT, after which every page in progress is ended with its end packets (exit status
128 + the signal, as ``send`` and ``listen``).

Decision on binding: a non-loopback ``--bind`` without ``--tls-cert`` is refused unless
``--insecure-http`` says a TLS reverse proxy sits in front, because tokens and audio
would otherwise cross the network in clear.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from polyptt.cli import options
from polyptt.cli.console import Console

if TYPE_CHECKING:
    import ssl

    from aiohttp import web

__all__ = ["relay"]

DEFAULT_BIND = "127.0.0.1:8080"


def _default_config() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "polyptt" / "relay.toml"


def _config_option(f: Any) -> Any:
    return click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar="POLYPTT_RELAY_CONFIG",
        show_envvar=True,
        metavar="FILE",
        help="The relay's TOML configuration; the hashed tokens live beside it "
        "(NAME.tokens.json). Default: ~/.config/polyptt/relay.toml.",
    )(f)


class _OneLineGroup(options.OneLineCommand, click.Group):
    """A group whose usage errors are one line, like the other commands'."""


@click.group(cls=_OneLineGroup, invoke_without_command=True)
@click.option(
    "--bind",
    default=DEFAULT_BIND,
    show_default=True,
    show_envvar=True,
    metavar="HOST:PORT",
    help="Address and port to serve on. Anything but loopback needs --tls-cert "
    "(or --insecure-http behind a TLS proxy).",
)
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    show_envvar=True,
    help="TLS certificate chain (PEM): serve HTTPS and WSS.",
)
@click.option(
    "--tls-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    show_envvar=True,
    help="Private key (PEM) of --tls-cert.",
)
@click.option(
    "--insecure-http",
    is_flag=True,
    show_envvar=True,
    help="Allow plain HTTP on a non-loopback address: only behind a TLS reverse proxy "
    "on a trusted network (tokens and audio cross it in clear).",
)
@_config_option
@options.record_option(
    "Record every page heard, and every page the relay sends, to DIR (WAV + JSON, as "
    "'listen --record'); served at /api/v1/pages/ID.wav."
)
@options.serial_option
@options.to_option
@options.iface_option
@options.ttl_option
@click.option("-v", "--verbose", count=True, help="Log requests and connections (on stderr).")
@click.option("-q", "--quiet", is_flag=True, help="Errors only: no warnings.")
@click.pass_context
def relay(ctx: click.Context, **kwargs: Any) -> None:
    """Serve an HTTP and WebSocket API that pages and listens for remote clients.

    Clients (scripts, 'polyptt send --relay', browsers) authenticate with tokens made by
    'polyptt relay token add'. Multicast stays on this host's LAN; only the API is
    exposed. Each page shows its token's name as the caller id.

    Exit status: 0 done (the token commands; the service runs until a signal), 1 network
    failure, 2 bad usage or configuration, 130/143 stopped by SIGINT/SIGTERM (pages in
    progress were ended properly).
    """
    if ctx.invoked_subcommand is not None:
        return
    console = Console.from_flags(kwargs.pop("quiet"), kwargs.pop("verbose"))
    ctx.exit(_serve(console=console, **kwargs))


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
        raise click.UsageError("--tls-cert and --tls-key go together")
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        message = f"cannot load {cert} / {key}: {exc}"
        raise click.BadParameter(message, param_hint="'--tls-cert'") from None
    return context


def _serve(
    *,
    console: Console,
    bind: str,
    tls_cert: Path | None,
    tls_key: Path | None,
    insecure_http: bool,
    config: Path | None,
    record: Path | None,
    serial: int | None,
    destination: Any,
    interface: str | None,
    ttl: int,
) -> int:
    from polyptt.transport import split_host_port

    try:
        host, port = split_host_port(bind, default_host="127.0.0.1")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--bind'") from None
    if ":" not in bind:
        port = 8080
    context = _tls(tls_cert, tls_key)
    if context is None and not _is_loopback(host) and not insecure_http:
        raise click.UsageError(
            f"--bind {bind} is not a loopback address: serving it without TLS would send "
            "tokens and audio in clear; give --tls-cert/--tls-key, or --insecure-http if a "
            "TLS reverse proxy on a trusted network is in front"
        )
    from polyptt.relay import RelaySettings, load_config
    from polyptt.relay.config import ConfigError

    try:  # a file named with --config must exist; the default one need not
        policy = load_config(config or _default_config(), must_exist=config is not None)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="'--config'") from None
    if serial is None:
        serial = options.host_serial()
    if record is not None:
        try:
            record.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot write to {record}: {exc.strerror or exc}", param_hint="'--record'"
            ) from None
    settings = RelaySettings(
        config=policy,
        destination=destination,
        interface=interface,
        ttl=ttl,
        serial=serial,
        record=record,
        tls=context is not None,
    )
    import asyncio
    import logging

    if console.verbosity >= 1:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    return asyncio.run(_run(settings, host, port, context, console))


async def _run(
    settings: Any, host: str, port: int, context: ssl.SSLContext | None, console: Console
) -> int:
    import asyncio
    import signal

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
    except (NetworkError, OSError) as exc:
        await runner.cleanup()
        raise options.NetworkFailure(f"cannot start the relay: {_reason(exc)}") from None
    received: list[int] = []
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        received.append(signum)
        stopped.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await _start_site(runner, host, port, context, settings.config)
        if console.verbosity >= 0:  # not a warning: no "Warning:", but -q keeps it quiet
            click.echo(startup_line(settings, host, port), err=True)
        await stopped.wait()
    finally:
        await runner.cleanup()
    return 128 + received[0] if received else 0


async def _start_site(
    runner: web.AppRunner, host: str, port: int, context: ssl.SSLContext | None, config: Any
) -> None:
    from polyptt.relay.serving import GuardedSite

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
        raise options.NetworkFailure(f"cannot serve on {host}:{port}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc)


# ---------------------------------------------------------------- tokens


def _policy(config: Path | None, *, missing_ok: bool = False) -> Any:
    """The configuration; a file named by --config must exist, unless `missing_ok`."""
    from polyptt.relay.config import ConfigError, load_config

    try:
        named = config is not None and not missing_ok
        return load_config(config or _default_config(), must_exist=named)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="'--config'") from None


def _store(config: Path | None) -> Any:
    from polyptt.relay.auth import TokenStore

    return TokenStore(_policy(config).tokens_path)


def _targets(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """``--targets``: None (not given: no targets), ``all``, or a set of names."""
    if value is None:
        return frozenset()
    if value.strip().lower() == "all":
        return None
    names = [n.strip() for n in value.split(",")]
    if not all(names):
        raise click.BadParameter(f"{value!r} has an empty name (expected NAME,NAME or all)")
    return frozenset(names)


def _scopes(_ctx: click.Context, _param: click.Parameter, value: str) -> frozenset[str]:
    from polyptt.relay.auth import SCOPES

    scopes = frozenset(s.strip().lower() for s in value.split(",") if s.strip())
    unknown = scopes - set(SCOPES)
    if unknown or not scopes:
        raise click.BadParameter(f"{value!r}: expected some of {','.join(SCOPES)}")
    return scopes


def _channels(_ctx: click.Context, _param: click.Parameter, value: str) -> frozenset[int]:
    from polyptt.cli.listen import parse_channels
    from polyptt.relay.auth import ALL_CHANNELS

    try:
        channels = parse_channels(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return ALL_CHANNELS if channels is None else channels


@relay.group(cls=_OneLineGroup)
def token() -> None:
    """Manage the tokens clients use: add, list, revoke."""


@token.command(cls=options.OneLineCommand)
@click.argument("name")
@click.option(
    "--can",
    "scopes",
    envvar="POLYPTT_RELAY_TOKEN_ADD_CAN",
    required=True,
    callback=_scopes,
    metavar="SCOPES",
    help="Comma list of listen, talk, emergency (talk on 24/25/49/50 too).",
)
@click.option(
    "--channels",
    default="1-50",
    show_default=True,
    callback=_channels,
    help="Channels it may talk on, e.g. 26-48,1 (listening hears all).",
)
@click.option(
    "--targets",
    default=None,
    callback=_targets,
    metavar="NAME,NAME|all",
    help="Named targets of the configuration ([targets]: single phones paged by "
    "unicast) it may page.  [default: none]",
)
@click.option(
    "--expires",
    default=None,
    callback=lambda _c, _p, v: _expiry(v),
    metavar="DURATION|DATE",
    help="When it stops working: 90m, 12h, 30d, 2w from now, or a date 2027-01-31 "
    "(local midnight) or 2027-01-31T18:00.  [default: never]",
)
@_config_option
def add(
    name: str,
    scopes: frozenset[str],
    channels: frozenset[int],
    targets: frozenset[str] | None,
    expires: float | None,
    config: Path | None,
) -> None:
    """Make a token for NAME (the caller id phones show, at most 13 bytes).

    The token is printed once, as the last line of standard output; only its hash is
    kept. Named targets are paged only by tokens granted them with --targets.
    """
    from polyptt.relay.auth import TokenError, TokenStore
    from polyptt.relay.config import ConfigError, create_config

    policy = _policy(config, missing_ok=True)  # made below, once the token is valid
    if targets != frozenset() and "talk" not in scopes:
        raise click.UsageError("--targets needs the talk scope (--can talk)")
    unknown = sorted((targets or frozenset()) - set(policy.targets))
    if unknown:
        known = ", ".join(sorted(policy.targets)) or "none"
        raise click.BadParameter(
            f"no target named {', '.join(unknown)} in {policy.path} (known: {known})",
            param_hint="'--targets'",
        )
    try:
        create_config(policy.path)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="'--config'") from None
    store = TokenStore(policy.tokens_path)
    try:
        secret = store.add(name, scopes, channels, targets, expires)
    except TokenError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        raise click.FileError(str(store.path), str(exc.strerror or exc)) from None
    click.echo(f"token for {name} ({','.join(sorted(scopes))}), stored hashed in {store.path}:")
    click.echo(secret)


@token.command(name="list", cls=options.OneLineCommand)
@_config_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    envvar="POLYPTT_RELAY_TOKEN_LIST_JSON",
    help="One JSON object: {NAME: {scopes, channels, targets, expires}} (targets null: "
    "all; expires null: never).",
)
def list_tokens(config: Path | None, as_json: bool) -> None:
    """List the tokens, one a line: name, scopes, channels, targets, expiry
    (tab-separated).

    Targets are "-" for none, "all", or the names; the expiry "never" or the moment in
    UTC (an expired token stays listed, and refused, until revoked).
    """
    from polyptt.relay.auth import TokenError, format_expiry

    try:
        grants = _store(config).grants()
    except TokenError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        import json

        listing = {
            g.name: {
                "scopes": sorted(g.scopes),
                "channels": sorted(g.channels),
                "targets": None if g.targets is None else sorted(g.targets),
                "expires": None if g.expires is None else format_expiry(g.expires),
            }
            for g in grants
        }
        click.echo(json.dumps(listing, indent=2))
        return
    for grant in grants:
        channels = _ranges(sorted(grant.channels))
        targets = "all" if grant.targets is None else ",".join(sorted(grant.targets)) or "-"
        expires = "never" if grant.expires is None else format_expiry(grant.expires)
        scopes = ",".join(sorted(grant.scopes))
        click.echo(f"{grant.name}\t{scopes}\t{channels}\t{targets}\t{expires}")


@token.command(cls=options.OneLineCommand)
@click.argument("name")
@_config_option
def revoke(name: str, config: Path | None) -> None:
    """Revoke NAME's token: a running relay cuts its connections and pages at once."""
    from polyptt.relay.auth import TokenError

    try:
        _store(config).revoke(name)
    except TokenError as exc:
        raise click.UsageError(str(exc)) from None


def _expiry(value: str | None) -> float | None:
    """``--expires``: None (never) or the moment (`polyptt.relay.auth.parse_expiry`)."""
    from polyptt.relay.auth import parse_expiry

    if value is None:
        return None
    try:
        return parse_expiry(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--expires'") from None


def _ranges(channels: list[int]) -> str:
    """``[1, 2, 3, 26]`` as ``1-3,26``."""
    parts: list[str] = []
    for channel in channels:
        if parts and channel == int(parts[-1].rpartition("-")[2]) + 1:
            parts[-1] = f"{parts[-1].partition('-')[0]}-{channel}"
        else:
            parts.append(str(channel))
    return ",".join(parts)
