"""Options and error conventions shared by the subcommands that send or listen.

The network identity of polyptt (where pages go, from which interface, with which TTL,
under which caller id and serial) is the same for ``send``, ``listen``, ``loop`` and
``relay``, so those options read fixed environment variables (``POLYPTT_TO``,
``POLYPTT_IFACE``, ``POLYPTT_CALLER_ID``, ``POLYPTT_SERIAL``, ``POLYPTT_TTL``): set once in
a service file, they apply to every command. Other options get Click's automatic
``POLYPTT_<COMMAND>_<OPTION>`` names; an option whose parameter is named otherwise than
its flag (``--raw`` stores ``raw_rate``) names its variable explicitly, and Click's
automatic name from the parameter (``POLYPTT_SEND_RAW_RATE``, the name once documented)
is still read after it.

Exit codes follow one convention: 2 for input that can never work (Click's usage
errors), 1 for a network that failed (:class:`NetworkFailure`), 128 + signal number
for an interrupted page. Every error is one line: :class:`OneLineCommand` drops Click's
usage block, which a cron mail does not need.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from polyptt import codecs
from polyptt.console import Console
from polyptt.transport import DEFAULT_DESTINATION, DEFAULT_TTL

F = TypeVar("F", bound=Callable[..., Any])

EXIT_NETWORK = 1
EXIT_USAGE = 2


def option(*decls: str, **attrs: Any) -> Callable[[F], F]:
    """A command's option, its environment variable and its default (if any) in ``--help``."""
    show_default = attrs.get("default") is not None and not attrs.get("is_flag")
    return click.option(*decls, show_envvar=True, show_default=show_default, **attrs)


@contextlib.contextmanager
def job_errors() -> Iterator[None]:
    """A job's refusals as the command's, each in one line: `BadInput` exits 2 naming
    its option (`Missing`: saying only what is missing), a `NetworkError` 1."""
    from polyptt.errors import BadInput, Missing
    from polyptt.transport import NetworkError

    try:
        yield
    except Missing as exc:
        raise UsageFailure(str(exc)) from None
    except BadInput as exc:
        if exc.option is None:
            raise click.UsageError(str(exc)) from None
        hint = exc.option if exc.option.isupper() else f"'{exc.option}'"
        raise click.BadParameter(str(exc), param_hint=hint) from None
    except NetworkError as exc:
        raise NetworkFailure(str(exc)) from None


def console_options(verbose_help: str) -> Callable[[F], F]:
    """``-v`` (saying `verbose_help`) and ``-q``; `console` makes their `Console`."""

    def decorate(command: F) -> F:
        command = click.option("-q", "--quiet", is_flag=True, help="Errors only: no warnings.")(
            command
        )
        return click.option("-v", "--verbose", count=True, help=verbose_help)(command)

    return decorate


def console(values: dict[str, Any]) -> Console:
    """The console ``-q``/``-v`` ask for (``-q`` wins), taking them out of `values`."""
    return Console.from_flags(values.pop("quiet"), values.pop("verbose"))


def choice(*values: str) -> click.Choice:
    """The choices of an option, in any case (``--codec G722``, ``POLYPTT_SEND_CODEC=G722``):
    the command receives them as listed here."""
    return click.Choice(values, case_sensitive=False)


def _check_frame_ms(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    if value % 10:
        raise click.BadParameter(f"{value} is not a multiple of 10 (10, 20, ... 80)")
    return value


#: ``--frame-ms`` of the commands that send (G.726QI's own 30 ms rule is
#: `polyptt.send.job.wire_codec`'s).
frame_ms_option = option(
    "--frame-ms",
    type=click.IntRange(10, 80),
    default=30,
    callback=_check_frame_ms,
    metavar="MS",
    help="Audio per packet in milliseconds, 10-80 in steps of 10 (g726qi: 30 only).",
)


#: ``--keep-pauses`` of the commands that page from a microphone (send --mic, loop).
keep_pauses_option = option(
    "--keep-pauses",
    is_flag=True,
    help="Send the microphone's pauses at full length. By default what is said during "
    "the alerts (0.93 s) is kept and the page catches up with the speaker by shortening "
    "pauses (never speech); with this flag it stays that far behind.",
)


def record_option(help: str) -> Callable[[F], F]:
    """``--record DIR`` of the commands that hear pages (listen, loop, relay), with their
    own `help`: every one writes what `polyptt.receive.recorder` writes."""
    return option(
        "--record", type=click.Path(file_okay=False, path_type=Path), metavar="DIR", help=help
    )


def channel_option(help: str) -> Callable[[F], F]:
    """``-c/--channel``: the channel a command talks on."""
    return option("-c", "--channel", type=CHANNEL, default="26", help=help)


def codec_option(help: str) -> Callable[[F], F]:
    """``--codec``: a codec phones page with (`polyptt.codecs.WIRE_NAMES`), G.722 by
    default."""
    return option("--codec", type=choice(*codecs.WIRE_NAMES), default=codecs.DEFAULT, help=help)


def input_device_option(help: str) -> Callable[[F], F]:
    """``--input-device``: the microphone, as `polyptt.audio.live.parse_device` reads it."""
    return option("--input-device", metavar="DEV", help=help)


def gain_option(help: str) -> Callable[[F], F]:
    """``--gain DB`` applied before encoding."""
    gain = click.FloatRange(-96, 48)
    return option("--gain", type=gain, default=0.0, metavar="DB", help=help)


class NetworkFailure(click.ClickException):
    """The network refused (no route, resolver down, send failed): exit status 1."""

    exit_code = EXIT_NETWORK


class UsageFailure(click.ClickException):
    """Bad input found once the command runs (a token the relay refuses, a missing
    microphone): one line, exit status 2, without a usage error's ``--help`` hint."""

    exit_code = EXIT_USAGE


class _OneLineUsageError(click.ClickException):
    exit_code = EXIT_USAGE


class OneLineCommand(click.Command):
    """A command whose usage errors are one line (``Error: ...``), still exit status 2.

    Click prints the usage synopsis and a hint above every usage error; for a command
    that runs from cron or systemd that is three lines of noise around the one that
    matters.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            path = f"{parent.command_path} {info_name}" if parent else str(info_name)
            raise _one_line(path, exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line(ctx.command_path, exc) from None


def _one_line(command_path: str, exc: click.UsageError) -> click.ClickException:
    return _OneLineUsageError(f"{exc.format_message()} (see '{command_path} --help')")


class Parsed(click.ParamType):
    """Text read by a parser of a lower layer (``"module:function"``, imported when used).

    Its ValueError is a usage error (exit status 2); its OSError a failed name lookup, a
    network failure (1): a ``--to`` that does not resolve fails before anything is sent.
    """

    def __init__(self, name: str, parser: str) -> None:
        self.name = name
        self._parser = parser

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value  # converted already
        module, _, function = self._parser.partition(":")
        parse = getattr(importlib.import_module(module), function)
        try:
            return parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        except OSError as exc:
            raise NetworkFailure(str(exc)) from None


#: A wire channel: ``1``-``50``, ``page:N`` (paging group N) or ``ptt:N``.
CHANNEL = Parsed("channel", "polyptt.protocol:parse_channel")
#: Channels and ranges, ``26-50,1,24``; ``all`` is None.
CHANNELS = Parsed("channels", "polyptt.protocol:parse_channels")
#: ``GROUP:PORT`` to listen on.
ENDPOINT = Parsed("group:port", "polyptt.receive.inbound:parse_endpoint")
_SERIAL = Parsed("serial", "polyptt.protocol:parse_serial")
_DESTINATION = Parsed("host[:port]", "polyptt.transport:parse_destination")
_INTERFACE = Parsed("iface", "polyptt.transport:interface_address")
_RELAY_URL = Parsed("url", "polyptt.remote.failures:relay_url")


#: ``--to HOST[:PORT]`` ($POLYPTT_TO): a multicast group, or one phone's address.
to_option = option(
    "--to",
    "destination",
    envvar="POLYPTT_TO",
    type=_DESTINATION,
    default=DEFAULT_DESTINATION,
    metavar="HOST[:PORT]",
    help="Multicast group the phones listen on, or one phone's address (unicast). "
    "PORT defaults to 5001.",
)
#: ``--iface`` ($POLYPTT_IFACE): the interface multicast goes out of.
iface_option = option(
    "--iface",
    "interface",
    envvar="POLYPTT_IFACE",
    type=_INTERFACE,
    metavar="NAME|ADDRESS",
    help="Network interface (name or IPv4 address) for multicast; also the source "
    "address. Default: the system's route.",
)
#: ``--ttl`` ($POLYPTT_TTL): how many routers multicast may cross.
ttl_option = option(
    "--ttl",
    envvar="POLYPTT_TTL",
    type=click.IntRange(0, 255),
    default=DEFAULT_TTL,
    metavar="N",
    help="IP time to live (0 keeps multicast on this host, 1 on the local network).",
)
#: ``--caller-id`` ($POLYPTT_CALLER_ID): the name phones show.
caller_id_option = option(
    "--caller-id",
    envvar="POLYPTT_CALLER_ID",
    metavar="TEXT",
    help="Name shown on the phones, at most 13 bytes of UTF-8 (longer is cut). "
    "Default: this host's name.",
)
#: ``--serial`` ($POLYPTT_SERIAL): the sender's 32-bit identity.
serial_option = option(
    "--serial",
    envvar="POLYPTT_SERIAL",
    type=_SERIAL,
    metavar="N",
    help="Host serial, 32-bit, decimal or 0x-hex: the sender's identity on the wire. "
    "When two senders start on a channel at once, the lowest serial keeps it. Default: "
    "the last 4 bytes of this host's MAC address, shared by every polyptt on this host.",
)
#: ``--relay URL`` ($POLYPTT_RELAY): go through a remote ``polyptt relay``.
relay_option = option(
    "--relay",
    type=_RELAY_URL,
    envvar="POLYPTT_RELAY",
    metavar="URL",
    help="Page or listen through the polyptt relay at URL (https://host[:port], or "
    "http:// for a relay without TLS) instead of multicast: from outside the phones' "
    "network. Needs --token.",
)
#: ``--token`` ($POLYPTT_TOKEN): the relay token.
token_option = option(
    "--token",
    envvar="POLYPTT_TOKEN",
    metavar="TOKEN",
    help="Token for --relay (made by 'polyptt relay token add'); prefer the environment "
    "variable: a command line is visible to other users.",
)


def sender_options(command: F) -> F:
    """The options of every command that pages, in ``--help`` order: ``--caller-id``,
    ``--serial``, ``--to``, ``--iface``, ``--ttl``."""
    for each in (ttl_option, iface_option, to_option, serial_option, caller_id_option):
        command = each(command)
    return command
