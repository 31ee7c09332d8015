"""Conventions every command keeps, checked over all of them (so a new option or command
is held to them too): choices in any case, environment variables named
POLYPTT_<COMMAND>_<OPTION>, help that renders as plain text, exit statuses listed whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from polyptt.cli import cli

#: The names every command shares (see `polyptt.cli.options`), and the relay's config,
#: which the relay and its token commands read alike.
SHARED = {
    "POLYPTT_TO",
    "POLYPTT_IFACE",
    "POLYPTT_CALLER_ID",
    "POLYPTT_SERIAL",
    "POLYPTT_TTL",
    "POLYPTT_RELAY",
    "POLYPTT_TOKEN",
    "POLYPTT_RELAY_CONFIG",
}


def commands() -> Iterator[tuple[list[str], click.Command]]:
    """Every subcommand, nested ones included, with its path below ``polyptt``."""

    def walk(path: list[str], command: click.Command, ctx: click.Context):
        yield path, command
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                yield from walk([*path, name], sub, click.Context(sub, parent=ctx, info_name=name))

    root = click.Context(cli, info_name="polyptt")
    for path, command in walk([], cli, root):
        if path:
            yield path, command


COMMANDS = dict((" ".join(path), command) for path, command in commands())


def env_names(path: list[str], option: click.Option) -> list[str]:
    """The variables `option` is read from, in order: its own, then Click's automatic one."""
    own = [option.envvar] if isinstance(option.envvar, str) else list(option.envvar or ())
    automatic = "_".join(["POLYPTT", *path, str(option.name)]).upper()
    return [*own, automatic] if option.allow_from_autoenv else own


def rule_name(path: list[str], option: click.Option) -> str:
    flag = max((o for o in option.opts if o.startswith("--")), key=len)
    return "_".join(["POLYPTT", *path, flag[2:]]).upper().replace("-", "_")


def test_the_commands_are_all_walked() -> None:
    assert set(COMMANDS) == {
        "bridge",
        "send",
        "listen",
        "loop",
        "relay",
        "relay token",
        "relay token add",
        "relay token list",
        "relay token revoke",
        "relay schedule",
        "relay schedule list",
        "relay schedule next",
    }


@pytest.mark.parametrize("name", COMMANDS)
def test_environment_variables_follow_the_documented_rule(name: str) -> None:
    """The first variable an option reads (the one its help shows) is
    POLYPTT_<COMMAND>_<OPTION>, or one of the names every command shares."""
    path = name.split()
    for option in COMMANDS[name].params:
        if isinstance(option, click.Option) and option.name != "help":
            first = env_names(path, option)[0]
            assert first in SHARED or first == rule_name(path, option), option.opts


def _params(path: list[str], args: list[str], env: dict[str, str], mp) -> dict:
    """What the command at `path` parses from `args` with `env` set (no side effects)."""
    for key, value in env.items():
        mp.setenv(key, value)
    ctx = click.Context(cli, info_name="polyptt", auto_envvar_prefix="POLYPTT")
    for part in path[:-1]:
        ctx = click.Context(ctx.command.get_command(ctx, part), parent=ctx, info_name=part)
    command = ctx.command.get_command(ctx, path[-1])
    return command.make_context(path[-1], args, parent=ctx).params


@pytest.mark.parametrize(
    ("path", "args", "param", "rule", "old", "value", "parsed"),
    [
        (["send"], ["-"], "raw_rate", "POLYPTT_SEND_RAW", "POLYPTT_SEND_RAW_RATE", "8000", 8000),
        (["loop"], [], "vox_db", "POLYPTT_LOOP_VOX", "POLYPTT_LOOP_VOX_DB", "-30", -30.0),
    ],
)
def test_renamed_variables_work_by_both_names(
    monkeypatch: pytest.MonkeyPatch,
    path: list[str],
    args: list[str],
    param: str,
    rule: str,
    old: str,
    value: str,
    parsed: object,
) -> None:
    with monkeypatch.context() as mp:
        assert _params(path, args, {rule: value}, mp)[param] == parsed
    with monkeypatch.context() as mp:
        assert _params(path, args, {old: value}, mp)[param] == parsed  # the old name
    with monkeypatch.context() as mp:  # both: the documented name wins
        assert _params(path, args, {rule: value, old: "12000"}, mp)[param] == parsed
    help_text = CliRunner().invoke(cli, [*path, "--help"], prog_name="polyptt").output
    assert f"env var: {rule}" in help_text.replace("\n", " ").replace("  ", " ")
    assert old not in help_text


@pytest.mark.parametrize("name", COMMANDS)
def test_every_choice_takes_any_case(name: str) -> None:
    for param in COMMANDS[name].params:
        if isinstance(param.type, click.Choice):
            assert not param.type.case_sensitive, (name, param.name)


def test_codec_in_capitals_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    soundfile.write(tmp_path / "a.wav", np.zeros(800, np.int16), 8000)
    capture = ["--pcap", str(tmp_path / "a.pcap"), "--json", str(tmp_path / "a.wav")]
    result = CliRunner().invoke(cli, ["send", "--codec", "G711U", *capture], prog_name="polyptt")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["codec"] == "g711u"
    monkeypatch.setenv("POLYPTT_SEND_CODEC", "G726QI")
    result = CliRunner().invoke(cli, ["send", *capture], prog_name="polyptt")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["codec"] == "g726qi"
    with monkeypatch.context() as mp:
        assert _params(["loop"], ["--codec", "G722"], {}, mp)["codec"] == "g722"


def test_token_scopes_in_capitals_work(monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as mp:
        params = _params(["relay", "token", "add"], ["Front", "--can", "Listen,TALK"], {}, mp)
    assert params["scopes"] == frozenset({"listen", "talk"})


@pytest.mark.parametrize("name", COMMANDS)
def test_help_is_plain_text(name: str) -> None:
    """Docstrings are reStructuredText for the API docs; ``--help`` shows them raw, so a
    command's help must not use RST markup."""
    result = CliRunner().invoke(cli, [*name.split(), "--help"], prog_name="polyptt")
    assert result.exit_code == 0
    assert "``" not in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_exit_status_lists_start_with_success(name: str) -> None:
    result = CliRunner().invoke(cli, [*name.split(), "--help"], prog_name="polyptt")
    text = " ".join(result.output.split())
    if "Exit status:" in text:
        assert "Exit status: 0 " in text
