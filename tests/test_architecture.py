"""The dependency rules of the design, checked on the source: no import cycles, ingest and
store below the CLI, and a CLI that uses only the public SDK."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import ragkit

ROOT = Path(__file__).resolve().parent.parent
# Where each part of the ``ragkit`` import package lives (setuptools' package-dir mapping).
FOLDERS = {
    "ragkit": "ragkit",
    "ragkit.store": "store",
    "ragkit.ingest": "ingest",
    "ragkit.cli": "cli",
}
PUBLIC_MODULES = {
    "ragkit",
    "ragkit.eval",
    "ragkit.models",
    "ragkit.server",
    "ragkit.store",
    "ragkit.ingest",
}


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, function bodies included, except under ``if TYPE_CHECKING:`` (never run,
    so it cannot take part in an import cycle)."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for alternative in child.orelse:
                yield alternative
                yield from _runtime_nodes(alternative)
            continue
        yield child
        yield from _runtime_nodes(child)


def _imports(module: str) -> Iterator[tuple[str, str | None]]:
    """``(imported module, name taken from it or None)`` for each import in ``module``."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                yield base, alias.name


def _edges(module: str) -> set[str]:
    """The ragkit modules importing ``module`` runs: each one named, with the packages above
    it that ``module`` is not itself inside (their ``__init__`` runs first)."""
    targets = set()
    for base, name in _imports(module):
        target = f"{base}.{name}" if name and f"{base}.{name}" in MODULES else base
        if target not in MODULES:
            continue
        targets.add(target)
        parts = target.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if not (module == parent or module.startswith(parent + ".")):
                targets.add(parent)
    targets.discard(module)
    return targets


GRAPH = {module: _edges(module) for module in MODULES}


def _reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in GRAPH[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycle() -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for nxt in sorted(GRAPH[module]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[module] = 2
        path.pop()
        return None

    for module in sorted(GRAPH):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_the_graph_sees_the_known_edges() -> None:
    # Guards the parser: a graph with no edges would have no cycles either.
    assert "ragkit._assistant" in GRAPH["ragkit"]
    assert "ragkit.answer._chat" in GRAPH["ragkit._assistant"]
    assert "ragkit.ingest._load" in GRAPH["ragkit.ingest"]  # a relative import
    assert len(MODULES) > 40


def test_no_import_cycles() -> None:
    assert _cycle() is None, " -> ".join(_cycle() or [])


def test_ingest_and_store_never_import_the_cli_or_each_others_internals() -> None:
    for module in MODULES:
        if module.startswith(("ragkit.ingest", "ragkit.store")):
            reached = _reachable(module)
            assert not {m for m in reached if m.startswith("ragkit.cli")}, module
            other = "ragkit.store." if module.startswith("ragkit.ingest") else "ragkit.ingest."
            assert not {m for m in GRAPH[module] if m.startswith(other)}, module


def test_the_cli_uses_only_the_public_sdk() -> None:
    for module in (m for m in MODULES if m.startswith("ragkit.cli")):
        for base, name in _imports(module):
            if not base.startswith("ragkit") or base.startswith("ragkit.cli"):
                continue
            assert base in PUBLIC_MODULES, f"{module} imports the private {base}"
            if name is not None and f"{base}.{name}" not in PUBLIC_MODULES:
                exported = importlib.import_module(base).__all__
                assert name in exported, f"{module} imports {base}.{name}, not in __all__"


def test_the_cli_reads_only_public_attributes_of_ragkit() -> None:
    allowed = (
        set(ragkit.__all__)
        | {"__version__"}
        | {m.split(".")[1] for m in PUBLIC_MODULES if "." in m}
    )
    for module in (m for m in MODULES if m.startswith("ragkit.cli")):
        tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
        used = {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "ragkit"
        }
        assert used <= allowed, f"{module} uses ragkit.{sorted(used - allowed)}"
