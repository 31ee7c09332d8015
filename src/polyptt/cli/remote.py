"""``send --relay`` and ``listen --relay``: the options' wiring to `polyptt.remote`.

What the commands do through a relay is `polyptt.remote`'s jobs (`polyptt.remote.send`,
`polyptt.remote.listen`); this module refuses the options that only mean something on
the LAN and gives the local commands' exit statuses: 0 done, 1 the relay could not be
reached or failed, 2 refused (bad token, scope, channel, target, audio, or an option
that only means something on the LAN) or a URL to fix (no scheme, https:// to a relay
without TLS or the reverse, a certificate this host does not accept), 130/143
interrupted; the words of each failure are `polyptt.remote.failures`'.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import click

from polyptt.cli import options
from polyptt.console import Console
from polyptt.remote.options import LISTEN_FIELDS, LISTEN_LOCAL_ONLY, SEND_FIELDS, SEND_LOCAL_ONLY

__all__ = [
    "LISTEN_LOCAL_ONLY",
    "SEND_LOCAL_ONLY",
    "listen_via_relay",
    "need_token",
    "refuse_local_options",
    "relay_errors",
    "send_via_relay",
]


def need_token(token: str | None) -> str:
    if not token:
        raise click.UsageError("--relay needs --token (or POLYPTT_TOKEN)")
    return token


@contextlib.contextmanager
def relay_errors() -> Iterator[None]:
    """A remote job's failures as the command's: its refusals as `options.job_errors`
    says; a `RelayClientError` exits 2 if the relay refused the request or the fix is
    in what the user gave (the URL, the relay's certificate), else 1."""
    from polyptt.remote.failures import RelayClientError

    with options.job_errors():
        try:
            yield
        except RelayClientError as exc:
            if exc.usage or 400 <= exc.status < 500:
                raise options.UsageFailure(str(exc)) from None
            raise options.NetworkFailure(str(exc)) from None


def refuse_local_options(ctx: click.Context, local_only: dict[str, str]) -> None:
    """A usage error for the first of `local_only` given on the command line."""
    for param in ctx.command.params:
        if param.name in local_only:
            source = ctx.get_parameter_source(param.name)
            if source is click.core.ParameterSource.COMMANDLINE:
                flag = "/".join(max(o, key=len) for o in (param.opts, param.secondary_opts) if o)
                raise click.UsageError(
                    f"{flag} does nothing with --relay ({local_only[param.name]})"
                )


def send_via_relay(file: str | None, values: dict[str, Any], console: Console) -> int:
    """Page `file` (or the microphone, or raw audio) through ``--relay``
    (`polyptt.remote.send`); prints the relay's account with ``--json``; the status."""
    from polyptt.remote.send import RelaySendJob, run

    token = need_token(values["token"])
    fields = {name: values[name] for name in SEND_FIELDS}
    with relay_errors():
        sent = run(RelaySendJob(values["relay"], token, file, **fields), console)
    if values["as_json"]:
        click.echo(json.dumps(sent.summary, indent=2))
    return sent.status


def listen_via_relay(values: dict[str, Any], console: Console) -> int:
    """Report, record and play the relay's pages (`polyptt.remote.listen`); the status."""
    from polyptt.remote.listen import RelayListenJob, run

    fields = {name: values[name] for name in LISTEN_FIELDS}
    job = RelayListenJob(values["relay"], need_token(values["token"]), **fields)
    with relay_errors():
        return run(job, console)
