"""The command line stays thin (issue 17): argument parsing and wiring, nothing more.

What a command does lives in its package (`polyptt.send.job`, `polyptt.receive.job`,
`polyptt.loop.job`, `polyptt.relay.job`, `polyptt.remote`); `polyptt.cli` reads options
and turns outcomes into exit statuses. These limits fail a change that grows it back.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

CLI = Path(__file__).resolve().parents[2] / "src" / "polyptt" / "cli"

#: ``wc -l src/polyptt/cli/*.py`` at most: what a command does lives in its package
#: (the send job, `polyptt.send.usage`, `polyptt.remote.options`, `polyptt.relay.bells`,
#: `polyptt.bridge`...); the CLI only parses and wires.
MAX_LINES = 1200
#: Lines of any one function (decorators excluded, docstring included).
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(CLI.glob("*.py"))


def _per_module() -> list[Any]:
    """Each module of the CLI as a case."""
    return [pytest.param(path, id=path.name) for path in _modules()]


def function_lengths(source: str) -> dict[str, int]:
    """Every function and method of `source` (nested ones too), by qualified name."""
    lengths: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = prefix
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}."
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert child.end_lineno is not None
                lengths[name[:-1]] = child.end_lineno - child.lineno + 1
            visit(child, name)

    visit(ast.parse(source), "")
    return lengths


def test_the_cli_is_at_most_max_lines() -> None:
    counts = {path.name: len(path.read_bytes().splitlines()) for path in _modules()}
    assert sum(counts.values()) <= MAX_LINES, counts


@pytest.mark.parametrize("module", _per_module())
def test_no_cli_function_is_over_60_lines(module: Path) -> None:
    lengths = function_lengths(module.read_text())
    assert {name: n for name, n in lengths.items() if n > MAX_FUNCTION_LINES} == {}


#: The modules of the subcommands: the group imports them by name when they run.
COMMANDS = {
    "polyptt.cli.send",
    "polyptt.cli.listen",
    "polyptt.cli.loop",
    "polyptt.cli.relay",
    "polyptt.cli.bridge",
}


def imported_modules(source: str) -> set[str]:
    """The modules `source` imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("module", _per_module())
def test_no_cli_module_imports_a_subcommand(module: Path) -> None:
    """What two commands share is in `polyptt.cli.options` or below the CLI, so a
    subcommand's module is never another's library (``cli/relay`` once took
    ``parse_channels`` from ``cli/listen``)."""
    assert imported_modules(module.read_text()) & COMMANDS == set()


def test_function_lengths_count_nested_functions_and_methods() -> None:
    """The measure itself: a method and a function nested in one are seen, by their
    lines from ``def`` to the last line of the body."""
    source = "class A:\n    def f(self):\n        def g():\n            pass\n        return g\n"
    assert function_lengths(source) == {"A.f": 4, "A.f.g": 2}
