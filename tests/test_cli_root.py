"""The root command: version, help, and how the installed script behaves."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

import polyptt
from polyptt.cli import cli


def test_version_option_prints_the_package_version() -> None:
    result = CliRunner().invoke(cli, ["--version"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output == f"polyptt, version {polyptt.__version__}\n"


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_lists_the_subcommands(flag: str) -> None:
    result = CliRunner().invoke(cli, [flag], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output.startswith("Usage: cli [OPTIONS] COMMAND [ARGS]...")
    assert "send" in result.output


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["shout"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "No such command 'shout'" in result.output


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "polyptt", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"polyptt, version {polyptt.__version__}\n"


def test_installed_script_runs() -> None:
    script = shutil.which("polyptt")
    if script is None:
        pytest.skip("the polyptt script is not on PATH (package not installed with pip)")
    done = subprocess.run([script, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: polyptt [OPTIONS] COMMAND [ARGS]...")
