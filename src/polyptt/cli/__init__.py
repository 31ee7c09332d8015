"""The ``polyptt`` command: a Click group with one module per subcommand.

Subcommands are imported only when they run, so ``polyptt send`` from cron does not pay
for the relay's web server or the audio-device layer before its first packet.
"""

from __future__ import annotations

import importlib
import sys

import click

#: Subcommand name -> "module:attribute" of its Click command.
_SUBCOMMANDS: dict[str, str] = {
    "send": "polyptt.cli.send:send",
    "listen": "polyptt.cli.listen:listen",
    "loop": "polyptt.cli.loop:loop",
    "relay": "polyptt.cli.relay:relay",
    "bridge": "polyptt.cli.bridge:bridge",
}

CONTEXT_SETTINGS = {
    "help_option_names": ["-h", "--help"],
    "auto_envvar_prefix": "POLYPTT",
    "max_content_width": 100,
}


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """Print the version and the codec build (`polyptt.version`), then exit."""
    if not value or ctx.resilient_parsing:
        return
    from polyptt.version import version_line

    click.echo(version_line())
    ctx.exit()


class _LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _SUBCOMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=_LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.option(
    "-V",
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and the codec build, and exit.",
)
def cli() -> None:
    """Page and listen to Polycom / Poly / Spectralink phones.

    Poly phones play audio that a sender multicasts on a push-to-talk channel (1-25) or a
    paging group (channels 26-50). polyptt speaks that protocol: it pages from audio
    files, listens to pages, and relays them.

    Every option can also be set by an environment variable; the help of each option names
    it. The options every command shares read fixed names, so a service file sets them once:
    POLYPTT_TO, POLYPTT_IFACE, POLYPTT_CALLER_ID, POLYPTT_SERIAL, POLYPTT_TTL. The others are
    named POLYPTT_COMMAND_OPTION after the command and the option, e.g.
    POLYPTT_SEND_CHANNEL=page:2 for send --channel.
    """


def main() -> None:
    """Entry point of the ``polyptt`` script.

    Expected failures are Click exceptions with one-line messages. Anything else is a bug;
    it is still reported in one line (with a hint to rerun with POLYPTT_DEBUG=1 for the
    traceback) instead of a wall of text in a cron mail.
    """
    import os

    try:
        cli.main(prog_name="polyptt", standalone_mode=True)
    except Exception as exc:  # standalone_mode already handled Click's own errors
        if os.environ.get("POLYPTT_DEBUG"):
            raise
        click.echo(
            f"polyptt: internal error: {type(exc).__name__}: {exc} "
            "(set POLYPTT_DEBUG=1 for details)",
            err=True,
        )
        sys.exit(1)
