"""``polyptt relay``: the service that pages and listens for clients outside the LAN.

``polyptt relay [OPTIONS]`` runs it; ``polyptt relay token add|list|revoke`` manage who
may use it. What they do is `polyptt.relay.job` (the service itself is `polyptt.relay`);
this module reads the options and turns the outcome into the exit status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from polyptt.cli import options

__all__ = ["relay"]

#: `polyptt.relay.job.DEFAULT_BIND` (importing it would load the web server for --help).
DEFAULT_BIND = "127.0.0.1:8080"


_config_option = options.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="POLYPTT_RELAY_CONFIG",
    metavar="FILE",
    help="The relay's TOML configuration; the hashed tokens live beside it "
    "(NAME.tokens.json). Default: ~/.config/polyptt/relay.toml.",
)

_data_option = options.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Where the relay keeps its database (every page's record, schedules) and its "
    "recordings across restarts. Default: the config's 'data', else "
    "~/.local/state/polyptt/relay.",
)


class _OneLineGroup(options.OneLineCommand, click.Group):
    """A group whose usage errors are one line, like the other commands'."""


@click.group(cls=_OneLineGroup, invoke_without_command=True)
@options.option(
    "--bind",
    default=DEFAULT_BIND,
    metavar="HOST:PORT",
    help="Address and port to serve on. Anything but loopback needs --tls-cert "
    "(or --insecure-http behind a TLS proxy).",
)
@options.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="TLS certificate chain (PEM): serve HTTPS and WSS.",
)
@options.option(
    "--tls-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Private key (PEM) of --tls-cert.",
)
@options.option(
    "--insecure-http",
    is_flag=True,
    help="Allow plain HTTP on a non-loopback address: only behind a TLS reverse proxy "
    "on a trusted network (tokens and audio cross it in clear).",
)
@_config_option
@options.record_option(
    "Put the recordings of the pages heard and sent in DIR (WAV + JSON, as 'listen "
    "--record') instead of recordings/ in --data; the config's 'record' says which "
    "directions. Served at /api/v1/pages/ID.wav."
)
@_data_option
@options.option("--site", metavar="NAME", help="This relay's site (config 'site').")
@options.serial_option
@options.to_option
@options.iface_option
@options.ttl_option
@options.console_options("Log requests and connections (on stderr).")
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
    from polyptt.relay import job

    console = options.console(kwargs)
    with options.job_errors():
        ctx.exit(job.run(job.RelayJob(**kwargs), console))


def _parsed(parse: str) -> Any:
    """A callback reading an option with `polyptt.relay.job`'s `parse` (ValueError: exit 2)."""

    def callback(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        from polyptt.relay import job

        try:
            return getattr(job, parse)(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return callback


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
    callback=_parsed("parse_scopes"),
    metavar="SCOPES",
    help="Comma list of listen, talk, emergency (talk on 24/25/49/50 too), schedule "
    "(make, change, pause and ring bell schedules).",
)
@click.option(
    "--channels",
    default="1-50",
    show_default=True,
    callback=_parsed("parse_channels"),
    help="Channels it may talk on, e.g. 26-48,1 (listening hears all).",
)
@click.option(
    "--targets",
    callback=_parsed("parse_targets"),
    metavar="NAME,NAME|all",
    help="Named targets of the configuration ([targets]: single phones paged by "
    "unicast) it may page.  [default: none]",
)
@click.option(
    "--expires",
    default=None,
    callback=_parsed("parse_expiry"),
    metavar="DURATION|DATE",
    help="When it stops working: 90m, 12h, 30d, 2w from now, or a date 2027-01-31 "
    "(local midnight) or 2027-01-31T18:00.  [default: never]",
)
@click.option("--sites", callback=_parsed("parse_token_sites"), help="Sites ([nats]) it may page.")
@_config_option
def add(name: str, config: Path | None, **grant: Any) -> None:
    """Make a token for NAME (the caller id phones show, at most 13 bytes).

    The token is printed once, as the last line of standard output; only its hash is
    kept. Named targets are paged only by tokens granted them with --targets.
    """
    from polyptt.relay import job

    try:
        with options.job_errors():
            secret, path = job.add_token(config, name, **grant)
    except OSError as exc:
        raise click.FileError(str(exc.filename), str(exc.strerror)) from None
    click.echo(f"token for {name} ({','.join(sorted(grant['scopes']))}), stored hashed in {path}:")
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
    from polyptt.relay import job

    with options.job_errors():
        click.echo(job.token_listing(config, as_json=as_json), nl=False)


@token.command(cls=options.OneLineCommand)
@click.argument("name")
@_config_option
def revoke(name: str, config: Path | None) -> None:
    """Revoke NAME's token: a running relay cuts its connections and pages at once."""
    from polyptt.relay import job

    with options.job_errors():
        job.revoke_token(config, name)


@relay.group(cls=_OneLineGroup)
def schedule() -> None:
    """Bell schedules (the config's and the API's): list them, show the next runs."""


@schedule.command(name="list", cls=options.OneLineCommand)
@_config_option
@_data_option
def list_schedules(config: Path | None, data: Path | None) -> None:
    """One line a schedule: name, next run (its zone's time), channel, what it plays."""
    _schedules(config, data)


@schedule.command(name="next", cls=options.OneLineCommand)
@click.option(
    "--count", default=10, show_default=True, type=click.IntRange(1, 1000), help="How many runs."
)
@_config_option
@_data_option
def next_bells(count: int, config: Path | None, data: Path | None) -> None:
    """The next runs of all schedules, soonest first: time, name, channel, what."""
    _schedules(config, data, count)


def _schedules(config: Path | None, data: Path | None, count: int | None = None) -> None:
    from polyptt.relay.bells.listing import lines

    with options.job_errors():
        click.echo("".join(f"{line}\n" for line in lines(config, data, count)), nl=False)
