"""The public namespace: ``__all__`` lists exactly what is public, and all of it is documented."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import itertools
import types
from pathlib import Path
from typing import get_args, get_origin

import pytest

import ragkit

ROOT = Path(__file__).resolve().parent.parent
SUBPACKAGES = ["ragkit.eval", "ragkit.models", "ragkit.server", "ragkit.store", "ragkit.ingest"]
# Result types are read, not built, by users: keyword-only construction lets fields be added
# or reordered without silently shifting positional arguments.
RESULTS = [
    "Answer",
    "AnswerSentence",
    "AuditEntry",
    "Check",
    "Citation",
    "Conflict",
    "DocumentInfo",
    "IngestFailure",
    "IngestProgress",
    "IngestReport",
    "LoadedConfig",
    "Passage",
    "Turn",
]


def _public_names(module: types.ModuleType) -> set[str]:
    return {
        name
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)
    }


def _attribute_docstrings() -> dict[str, str]:
    """Module-level ``NAME = ...`` followed by a string, as Sphinx reads them: the only place
    a type alias such as ``AskMode`` can carry its documentation."""
    found: dict[str, str] = {}
    for folder in ("ragkit", "store", "ingest"):
        for path in (ROOT / folder).rglob("*.py"):
            body = ast.parse(path.read_text(encoding="utf-8")).body
            for node, after in itertools.pairwise(body):
                targets = (
                    node.targets
                    if isinstance(node, ast.Assign)
                    else ([node.target] if isinstance(node, ast.AnnAssign) else [])
                )
                if (
                    isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                ):
                    for target in targets:
                        if isinstance(target, ast.Name):
                            found[target.id] = after.value.value
    return found


def _documented(name: str, obj: object, attributes: dict[str, str]) -> bool:
    if get_origin(obj) is not None:  # a type alias such as Literal[...]
        return bool(attributes.get(name))
    if inspect.isclass(obj):
        doc = vars(obj).get("__doc__")
        # A dataclass without a docstring gets its signature as one.
        return bool(doc) and not doc.startswith(f"{obj.__name__}(")
    if callable(obj):
        return bool(getattr(obj, "__doc__", None))
    return bool(attributes.get(name))


def test_all_is_exactly_the_public_namespace() -> None:
    assert len(ragkit.__all__) == len(set(ragkit.__all__))
    assert set(ragkit.__all__) == _public_names(ragkit)


def test_every_public_name_has_a_docstring() -> None:
    attributes = _attribute_docstrings()
    undocumented = [n for n in ragkit.__all__ if not _documented(n, getattr(ragkit, n), attributes)]
    assert not undocumented


@pytest.mark.parametrize("module_name", SUBPACKAGES)
def test_subpackages_export_what_they_hold(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__doc__ and module.__all__
    assert len(module.__all__) == len(set(module.__all__))
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing
    # Classes and functions are documented; constants may be plain values.
    undocumented = [
        n
        for n in module.__all__
        if (inspect.isclass(getattr(module, n)) or inspect.isfunction(getattr(module, n)))
        and not _documented(n, getattr(module, n), {})
    ]
    assert not undocumented


def test_literals_of_public_signatures_are_exported() -> None:
    assert get_args(ragkit.AskMode) == ("generate", "extractive")
    assert get_args(ragkit.SearchMode) == ("hybrid", "dense", "bm25")
    assert get_args(ragkit.Rewrite) == ("words", "model", "off")
    assert get_args(ragkit.PackKind) == ("encoder", "generator")


@pytest.mark.parametrize("name", RESULTS)
def test_result_dataclasses_are_keyword_only(name: str) -> None:
    cls = getattr(ragkit, name)
    fields = dataclasses.fields(cls)
    assert fields and all(f.kw_only for f in fields), name


def test_py_typed_ships_with_the_package() -> None:
    assert (Path(ragkit.__file__).parent / "py.typed").is_file()
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'ragkit = ["py.typed"]' in pyproject
