"""No import cycles in src/polyptt: not at run time, not for type checking, not in a function.

The graph is read from the source (every ``import`` and ``from ... import`` anywhere in a
module: at the top, under ``if TYPE_CHECKING:``, inside functions), so an import made
late to dodge a cycle still counts: layers stay layers. ``from package import name``
is an edge to the submodule ``package.name`` when there is one, else to the package.
Importing a submodule runs its package's ``__init__`` too, but that is no edge here
(as in import-linter): a package's ``__init__`` may re-export its own submodules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root: Path) -> dict[str, Path]:
    return {_module_name(root, path): path for path in sorted(root.rglob("*.py"))}


def _imported(name: str, path: Path, tree: ast.AST) -> Iterator[tuple[str, list[str]]]:
    """(module named, names taken from it) for every import statement in `tree`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, [alias.name for alias in node.names]


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules under `root` it imports, anywhere in its source."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for base, names in _imported(name, path, tree):
            targets = [f"{base}.{n}" for n in names if f"{base}.{n}" in modules]
            if len(targets) < len(names) or not names:
                targets.append(base)  # names defined in `base` itself, or `import base`
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``a -> b -> ... -> a``) through each strongly connected component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, set(component)) for component in components]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for other in sorted(graph[node] & component):
                if other == start:
                    return [*paths[node], start]
                if other not in paths:
                    paths[other] = [*paths[node], other]
                    following.append(other)
        frontier = following
    raise AssertionError(f"no cycle in {sorted(component)}")  # pragma: no cover


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    """Top-level, TYPE_CHECKING, function-level and relative imports are all edges."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from pkg.sub import c\n")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n"
    )
    (package / "b.py").write_text("def f():\n    from . import a\n")
    (package / "sub" / "c.py").write_text("from ..a import x\nimport pkg.b\n")
    graph = import_graph(tmp_path)
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.a"},
        "pkg.sub": {"pkg.sub.c"},
        "pkg.sub.c": {"pkg.a", "pkg.b"},
    }
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_src_has_no_import_cycle() -> None:
    found = cycles(import_graph(SRC))
    if found:
        pytest.fail(
            "import cycles in src/polyptt:\n" + "\n".join(" -> ".join(c) for c in found),
            pytrace=False,
        )


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph[node])
    return seen


def test_the_relay_client_needs_nothing_of_the_server() -> None:
    """polyptt.remote shares only the wire facts with the relay: no hub, nothing of the
    server, in its source or at run time. It records with listen's recorder and captures
    and reads with the audio package's one microphone and raw reader, not copies."""
    graph = import_graph(SRC)
    remote = [name for name in graph if name.startswith("polyptt.remote")]
    assert len(remote) >= 4
    reached = set().union(*(_reachable(graph, name) for name in remote))
    assert {n for n in reached if n.startswith("polyptt.relay")} == {"polyptt.relay.wire"}
    assert {"polyptt.receive.recorder", "polyptt.audio.live"} <= reached
    child = (
        "import sys\n"
        f"for name in {sorted(remote)!r}:\n"
        "    __import__(name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('polyptt.relay')))\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    assert done.stderr == ""
    assert done.stdout == "['polyptt.relay', 'polyptt.relay.wire']\n"
