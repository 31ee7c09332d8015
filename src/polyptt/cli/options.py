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

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from polyptt.cli.console import Console

__all__ = [
    "ChannelType",
    "InterfaceType",
    "NetworkFailure",
    "OneLineCommand",
    "RelayUrlType",
    "SerialType",
    "UsageFailure",
    "caller_id_option",
    "choice",
    "device_error",
    "frame_ms_option",
    "host_serial",
    "iface_option",
    "keep_pauses_option",
    "open_player",
    "record_option",
    "relay_option",
    "sender_identity",
    "sender_options",
    "serial_option",
    "to_option",
    "token_option",
    "ttl_option",
]

F = TypeVar("F", bound=Callable[..., Any])

EXIT_NETWORK = 1
EXIT_USAGE = 2


def host_serial() -> int:
    """This host's serial when ``--serial`` is not given (see `polyptt.host`)."""
    from polyptt.host import serial_from_mac

    return serial_from_mac()


def sender_identity(caller_id: str | None, serial: int | None, console: Any) -> tuple[str, int]:
    """The caller id and serial a sending command pages under.

    The caller id is the one phones will show: a long ``--caller-id`` is cut with a
    warning on `console`, the default (this host's short name) silently, so that a cron
    job does not mail about it. The serial defaults to this host's.
    """
    from polyptt.protocol import fit_caller_id

    if caller_id is None:
        from polyptt.host import default_caller_id

        fitted = default_caller_id()
    else:
        try:
            fitted, was_cut = fit_caller_id(caller_id)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--caller-id'") from None
        if was_cut:
            console.warn(
                f"caller id {caller_id!r} is longer than 13 bytes; phones will show {fitted!r}"
            )
    return fitted, host_serial() if serial is None else serial


def choice(*values: str) -> click.Choice:
    """The choices of an option, in any case (``--codec G722``, ``POLYPTT_SEND_CODEC=G722``):
    the command receives them as listed here."""
    return click.Choice(values, case_sensitive=False)


def _check_frame_ms(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    if value % 10:
        raise click.BadParameter(f"{value} is not a multiple of 10 (10, 20, ... 80)")
    return value


#: ``--frame-ms`` of the commands that send (G.726QI's own 30 ms rule is theirs to check).
frame_ms_option = click.option(
    "--frame-ms",
    type=click.IntRange(10, 80),
    default=30,
    show_default=True,
    show_envvar=True,
    callback=_check_frame_ms,
    metavar="MS",
    help="Audio per packet in milliseconds, 10-80 in steps of 10 (g726qi: 30 only).",
)


#: ``--keep-pauses`` of the commands that page from a microphone (send --mic, loop).
keep_pauses_option = click.option(
    "--keep-pauses",
    is_flag=True,
    show_envvar=True,
    help="Send the microphone's pauses at full length. By default what is said during "
    "the alerts (0.93 s) is kept and the page catches up with the speaker by shortening "
    "pauses (never speech); with this flag it stays that far behind.",
)


def record_option(help: str) -> Callable[[F], F]:
    """``--record DIR`` of the commands that hear pages (listen, loop, relay), with their
    own `help`: every one writes what `polyptt.receive.recorder` writes."""
    return click.option(
        "--record",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        show_envvar=True,
        metavar="DIR",
        help=help,
    )


def sender_options(command: F) -> F:
    """The options of every command that pages, in ``--help`` order: ``--caller-id``,
    ``--serial``, ``--to``, ``--iface``, ``--ttl``."""
    for option in (ttl_option, iface_option, to_option, serial_option, caller_id_option):
        command = option(command)
    return command


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


def device_error(exc: Exception, option: str, given: str | None) -> click.ClickException:
    """An audio device that cannot be used, as one line and exit status 2.

    It names `option` only if the user gave it: a missing default microphone is no
    option's fault, and "Invalid value for '--input-device'" would send a user who never
    typed it looking for the wrong thing (nor is ``--help`` where the answer is).
    """
    if given is None:
        return UsageFailure(str(exc))
    return click.BadParameter(str(exc), param_hint=f"'{option}'")


def open_player(play: bool | None, console: Console, prefill_s: float = 0.04) -> Any:
    """The `Player` for ``listen``'s ``--play/--no-play`` (None: if an output device
    exists), or None; ``listen --relay``'s too, with a longer `prefill_s`.

    Without an output device, ``--play`` warns; the default (play where one exists) says
    why it does not play only with ``-v``: a machine without a speaker is no fault of a
    listener that was not asked to play, and a cron job should not mail about it.
    `prefill_s` is its jitter buffer's (see `polyptt.audio.playback`).
    """
    if play is False:
        return None
    from polyptt.audio.playback import PlaybackUnavailable, Player

    try:
        return Player.open(prefill_s=prefill_s)
    except PlaybackUnavailable as exc:
        if play:
            console.warn(f"{exc}; not playing, still reporting and recording")
        else:
            console.info(f"{exc}; not playing")
        return None


class RelayUrlType(click.ParamType):
    """A relay's URL: http:// or https://, a host, perhaps a port and a path."""

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from polyptt.remote.failures import relay_url

        try:
            return relay_url(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class ChannelType(click.ParamType):
    """A wire channel: ``1``-``50``, ``page:N`` (paging group N) or ``ptt:N``."""

    name = "channel"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        from polyptt.protocol import parse_channel

        try:
            return parse_channel(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class SerialType(click.ParamType):
    """A 32-bit host serial, decimal or ``0x`` hexadecimal."""

    name = "serial"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        from polyptt.protocol import parse_serial

        try:
            return parse_serial(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class DestinationType(click.ParamType):
    """``HOST[:PORT]``, resolved now so that a bad name fails before anything is sent."""

    name = "host[:port]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from polyptt.transport import Destination, NetworkError, parse_destination

        if isinstance(value, Destination):
            return value
        try:
            return parse_destination(str(value))
        except NetworkError as exc:
            raise NetworkFailure(str(exc)) from None
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class InterfaceType(click.ParamType):
    """An interface name or one of this host's IPv4 addresses, as an address."""

    name = "iface"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from polyptt.transport import interface_address

        try:
            return interface_address(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _shared(*decls: str, envvar: str, **attrs: Any) -> Callable[[F], F]:
    return click.option(*decls, envvar=envvar, show_envvar=True, **attrs)


def to_option(f: F) -> F:
    """``--to HOST[:PORT]`` ($POLYPTT_TO): a multicast group, or one phone's address."""
    from polyptt.transport import DEFAULT_DESTINATION

    return _shared(
        "--to",
        "destination",
        envvar="POLYPTT_TO",
        type=DestinationType(),
        default=DEFAULT_DESTINATION,
        show_default=True,
        metavar="HOST[:PORT]",
        help="Multicast group the phones listen on, or one phone's address (unicast). "
        "PORT defaults to 5001.",
    )(f)


def iface_option(f: F) -> F:
    """``--iface`` ($POLYPTT_IFACE): the interface multicast goes out of."""
    return _shared(
        "--iface",
        "interface",
        envvar="POLYPTT_IFACE",
        type=InterfaceType(),
        default=None,
        metavar="NAME|ADDRESS",
        help="Network interface (name or IPv4 address) for multicast; also the source "
        "address. Default: the system's route.",
    )(f)


def ttl_option(f: F) -> F:
    """``--ttl`` ($POLYPTT_TTL): how many routers multicast may cross."""
    from polyptt.transport import DEFAULT_TTL

    return _shared(
        "--ttl",
        envvar="POLYPTT_TTL",
        type=click.IntRange(0, 255),
        default=DEFAULT_TTL,
        metavar="N",
        show_default=True,
        help="IP time to live (0 keeps multicast on this host, 1 on the local network).",
    )(f)


def caller_id_option(f: F) -> F:
    """``--caller-id`` ($POLYPTT_CALLER_ID): the name phones show."""
    return _shared(
        "--caller-id",
        envvar="POLYPTT_CALLER_ID",
        default=None,
        metavar="TEXT",
        help="Name shown on the phones, at most 13 bytes of UTF-8 (longer is cut). "
        "Default: this host's name.",
    )(f)


def serial_option(f: F) -> F:
    """``--serial`` ($POLYPTT_SERIAL): the sender's 32-bit identity."""
    return _shared(
        "--serial",
        envvar="POLYPTT_SERIAL",
        type=SerialType(),
        default=None,
        metavar="N",
        help="Host serial, 32-bit, decimal or 0x-hex: the sender's identity on the wire. "
        "When two senders start on a channel at once, the lowest serial keeps it. Default: "
        "the last 4 bytes of this host's MAC address, shared by every polyptt on this host.",
    )(f)


def relay_option(f: F) -> F:
    """``--relay URL`` ($POLYPTT_RELAY): go through a remote ``polyptt relay``."""
    return _shared(
        "--relay",
        type=RelayUrlType(),
        envvar="POLYPTT_RELAY",
        default=None,
        metavar="URL",
        help="Page or listen through the polyptt relay at URL (https://host[:port], or "
        "http:// for a relay without TLS) instead of multicast: from outside the phones' "
        "network. Needs --token.",
    )(f)


def token_option(f: F) -> F:
    """``--token`` ($POLYPTT_TOKEN): the relay token."""
    return _shared(
        "--token",
        envvar="POLYPTT_TOKEN",
        default=None,
        metavar="TOKEN",
        help="Token for --relay (made by 'polyptt relay token add'); prefer the environment "
        "variable: a command line is visible to other users.",
    )(f)
