"""Self-checks behind `ragkit doctor`: what works on this machine and what does not."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass

from ragkit.models._build import quantization_target
from ragkit._config import Config
from ragkit._errors import RagkitError

__all__ = ["Check", "doctor"]


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str


def _sqlite() -> list[Check]:
    from ragkit.store import connect, sqlite_library

    try:
        lib = sqlite_library()
        conn = connect(":memory:")
        vec = conn.execute("select vec_version()").fetchone()[0]
        sqlite_version = conn.execute("select sqlite_version()").fetchone()[0]
        conn.execute("create virtual table t using fts5(x, tokenize='porter unicode61')")
        conn.close()
    except (RagkitError, ImportError) as exc:
        return [Check("sqlite + sqlite-vec", False, str(exc))]
    return [
        Check("sqlite extension loading", True, f"{lib.__name__} (SQLite {sqlite_version})"),
        Check("sqlite-vec", True, vec),
        Check("fts5", True, "porter unicode61 tokenizer available"),
    ]


def _runtimes() -> list[Check]:
    checks = []
    try:
        import onnxruntime

        checks.append(Check("onnxruntime", True, onnxruntime.__version__))
    except ImportError as exc:
        checks.append(Check("onnxruntime", False, f"not importable: {exc}"))
    try:
        import llama_cpp

        checks.append(Check("llama-cpp-python", True, llama_cpp.__version__))
    except ImportError as exc:
        checks.append(Check("llama-cpp-python", False, f"not importable: {exc}"))
    return checks


def _cpu() -> Check:
    detail = f"{platform.machine()}, int8 preset {quantization_target()}"
    return Check("cpu", True, detail)


def _packs(config: Config) -> list[Check]:
    from ragkit.models._packs import ModelPacks

    packs = ModelPacks(config)
    checks = []
    for name, kind in ((config.encoder, "encoder"), (config.generator, "generator")):
        try:
            pack = packs.get(name, kind)  # type: ignore[arg-type]
            checks.append(Check(f"{kind} pack", True, f"{pack.name} verified ({pack.path})"))
        except RagkitError as exc:
            checks.append(Check(f"{kind} pack", False, str(exc)))
    return checks


def doctor(config: Config | None = None) -> list[Check]:
    """Run every check and return the results; nothing here touches the network."""
    config = config or Config()
    python_ok = sys.version_info >= (3, 10)
    checks = [Check("python", python_ok, platform.python_version())]
    checks += _sqlite() + _runtimes() + [_cpu()] + _packs(config)
    checks.append(Check("home", True, str(config.home)))
    return checks
