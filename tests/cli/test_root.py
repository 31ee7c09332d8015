"""The root command: version, help, and how the installed script behaves."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

import polyptt
from polyptt import _codec
from polyptt.cli import cli
from polyptt.version import codec_build_description


def _expected_version_line() -> str:
    return f"polyptt {polyptt.__version__} (codecs: {codec_build_description(_codec._build)})\n"


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_option_prints_the_version_and_the_codec_build(flag: str) -> None:
    result = CliRunner().invoke(cli, [flag], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output == _expected_version_line()
    # The tests run an optimised release build (test_codecs_api insists): it says so.
    assert "(codecs: optimised, " in result.output


@pytest.mark.parametrize(
    ("build", "description"),
    [
        ({"optimized": True, "asserts": False, "compiler": "12.2.0"}, "optimised, gcc 12.2.0"),
        (
            {"optimized": True, "asserts": False, "compiler": "10.2.1 20210110"},
            "optimised, gcc 10.2.1 20210110",
        ),
        (
            {"optimized": False, "asserts": True, "compiler": "Debian Clang 14.0.6"},
            "unoptimised, asserts on, Debian Clang 14.0.6",
        ),
        ({}, "unoptimised, unknown compiler"),
    ],
)
def test_codec_build_description_names_the_compiler(
    build: dict[str, object], description: str
) -> None:
    # GCC's __VERSION__ is a bare version, Clang's names itself: both read as a compiler.
    assert codec_build_description(build) == description


def test_version_loads_no_heavy_module() -> None:
    """--version stays cheap: the extension only, not numpy or the audio and web stacks."""
    child = (
        "import sys\n"
        "from polyptt.cli import main\n"
        "sys.argv = ['polyptt', '--version']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as stop:\n"
        "    assert stop.code in (0, None), stop.code\n"
        "heavy = ('numpy', 'soundfile', 'soxr', 'sounddevice', 'aiohttp', 'polyptt.codecs')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == _expected_version_line() + "[]\n"


def test_version_still_answers_when_the_codecs_cannot_load() -> None:
    """A broken install still tells its version, and why the codecs are missing."""
    child = (
        "import sys\n"
        "sys.modules['polyptt._codec'] = None  # what a missing or unloadable .so looks like\n"
        "from polyptt.cli import main\n"
        "sys.argv = ['polyptt', '--version']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"polyptt {polyptt.__version__} (codecs: not loadable: ")
    assert done.stdout.count("\n") == 1
    assert done.stderr == ""


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
    assert done.stdout == _expected_version_line()


def test_installed_script_runs() -> None:
    script = shutil.which("polyptt")
    if script is None:
        pytest.skip("the polyptt script is not on PATH (package not installed with pip)")
    done = subprocess.run([script, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: polyptt [OPTIONS] COMMAND [ARGS]...")
