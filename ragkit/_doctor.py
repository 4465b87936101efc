"""Self-checks behind `ragkit doctor`: what works on this machine and what does not."""

from __future__ import annotations

import os
import platform
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ragkit import ingest
from ragkit._assistant import Assistant
from ragkit._config import Config
from ragkit._errors import RagkitError
from ragkit.store import is_url

if TYPE_CHECKING:
    from ragkit.models import ModelPacks

__all__ = ["Check", "doctor"]


@dataclass(frozen=True, kw_only=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str


def _sqlite() -> list[Check]:
    from ragkit.store import cipher_version, connect, sqlite_library
    from ragkit.store._schema import FTS_TOKENIZER

    try:
        lib = sqlite_library()
        conn = connect(":memory:")
        vec = conn.execute("select vec_version()").fetchone()[0]
        sqlite_version = conn.execute("select sqlite_version()").fetchone()[0]
        try:
            # The full-text table as the schema makes it: contentless_delete needs 3.43.
            conn.execute(
                "create virtual table t using fts5(x, content='', contentless_delete=1, "
                f'tokenize="{FTS_TOKENIZER}")'
            )
            fts = Check(
                name="fts5", ok=True, detail=f"contentless tables, tokenizer {FTS_TOKENIZER}"
            )
        except lib.Error as exc:
            fts = Check(
                name="fts5",
                ok=False,
                detail=f"SQLite {sqlite_version} cannot make ragkit's full-text table ({exc}); "
                "SQLite 3.43 or newer is needed",
            )
        conn.close()
        cipher = cipher_version()
    except (RagkitError, ImportError) as exc:
        return [Check(name="sqlite + sqlite-vec", ok=False, detail=str(exc))]
    encryption = (
        f"SQLCipher {cipher}: indexes can be encrypted"
        if cipher
        else "not installed (pip install 'ragkit[encryption]'); indexes are plain SQLite"
    )
    return [
        Check(
            name="sqlite extension loading",
            ok=True,
            detail=f"{lib.__name__} (SQLite {sqlite_version})",
        ),
        Check(name="sqlite-vec", ok=True, detail=vec),
        fts,
        Check(name="encryption", ok=True, detail=encryption),
    ]


def _runtimes() -> list[Check]:
    checks = []
    try:
        import onnxruntime

        checks.append(Check(name="onnxruntime", ok=True, detail=onnxruntime.__version__))
    except ImportError as exc:
        checks.append(Check(name="onnxruntime", ok=False, detail=f"not importable: {exc}"))
    try:
        import llama_cpp

        checks.append(Check(name="llama-cpp-python", ok=True, detail=llama_cpp.__version__))
    except ImportError as exc:
        checks.append(Check(name="llama-cpp-python", ok=False, detail=f"not importable: {exc}"))
    # Optional, so never a failed check: without it scanned pages are reported, not read.
    missing = ingest.ocr_unavailable()
    checks.append(
        Check(
            name="ocr",
            ok=True,
            detail=missing or "PP-OCRv6 models read scanned PDF pages (Config.ocr)",
        )
    )
    return checks


def _cpu(cpuinfo: str | None = None, machine: str | None = None) -> Check:
    """Whether the CPU has the vector instructions onnxruntime's int8 kernels and llama.cpp
    need for usable speed (AVX2 on x86-64; arm64 always has NEON)."""
    machine = (machine or platform.machine()).lower()
    if machine in ("arm64", "aarch64"):
        return Check(name="cpu", ok=True, detail=f"{machine} (NEON)")
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return Check(
                name="cpu", ok=True, detail=f"{machine} (features unknown: no /proc/cpuinfo)"
            )
    flags = {f for line in cpuinfo.splitlines() if line.startswith("flags") for f in line.split()}
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni")
    present = [f for f in wanted if f in flags]
    if "avx2" not in flags:
        return Check(
            name="cpu",
            ok=False,
            detail=f"{machine} without AVX2: the encoder and generator will be "
            "very slow or fail on this CPU",
        )
    return Check(name="cpu", ok=True, detail=f"{machine}, {' '.join(present)}")


def _packs(config: Config) -> list[Check]:
    from ragkit.models import ModelPacks, PackKind
    from ragkit.models._build import PINNED_ENCODER_SHA256

    packs = ModelPacks(config)
    checks = []
    # The generators that answer, chosen as the Assistant chooses them: for "auto" the
    # default pack, else the largest of the ladder's, else the only one installed.
    assistant = Assistant(config=config)
    generators = assistant.ladder()
    wanted: tuple[tuple[str, PackKind], ...] = (
        (config.encoder_pack(), "encoder"),
        *((name, "generator") for name in generators),
    )
    for name, kind in wanted:
        try:
            pack = packs.get(name, kind)
        except RagkitError as exc:
            checks.append(Check(name=f"{kind} pack", ok=False, detail=str(exc)))
            continue
        checks.append(
            Check(name=f"{kind} pack", ok=True, detail=f"{pack.name} verified ({pack.path})")
        )
        if kind != "encoder":
            continue
        model_sha = next(f["sha256"] for f in pack.manifest["files"] if f["role"] == "model")
        pinned = PINNED_ENCODER_SHA256.get(pack.name)
        how = pack.recipe
        if pinned is None:
            checks.append(
                Check(
                    name="encoder recipe",
                    ok=True,
                    detail=f"{how}; a pack of your own (model sha256 {model_sha[:16]}…)",
                )
            )
        elif model_sha == pinned:
            checks.append(
                Check(
                    name="encoder recipe",
                    ok=True,
                    detail=f"{how}; model sha256 {model_sha[:16]}… as pinned, so indexes "
                    "built on any machine open here",
                )
            )
        else:
            checks.append(
                Check(
                    name="encoder recipe",
                    ok=False,
                    detail=f"model sha256 {model_sha[:16]}… is not the pinned "
                    f"{pinned[:16]}…: indexes built elsewhere will be refused; "
                    "rebuild the pack with the pinned build versions",
                )
            )
    if not generators:
        checks.append(_no_generator(assistant))
    elif config.generator == "ladder":
        # A larger rung left out (models build --no-large) only makes the ladder shorter.
        checks += [
            Check(
                name="generator pack",
                ok=True,
                detail=f"{name} is not installed; questions are answered without it "
                "(ragkit models build --only large adds it).",
            )
            for name in config.ladder
            if name not in generators
        ]
    checks.append(_judge(config, packs))
    return checks


def _no_generator(assistant: Assistant) -> Check:
    """The failed check when no generator pack would answer: the Assistant's own error,
    which says what to install or choose. With no pack to answer, asking for its generator
    raises that error before any model is loaded."""
    try:
        assistant.generator  # noqa: B018
    except RagkitError as exc:
        return Check(name="generator pack", ok=False, detail=str(exc))
    raise AssertionError("a generator answers, though the Assistant's ladder is empty")


def _judge(config: Config, packs: ModelPacks) -> Check:
    """Which model judges answers (``Config.judge``), or that only words are checked."""
    if config.judge == "off":
        return Check(name="judge", ok=True, detail="off: answers get the lexical check alone")
    installed = {p.name for p in packs.list() if p.kind == "generator"}
    name = config.judge_pack(installed)
    if name in installed:
        return Check(name="judge", ok=True, detail=f"{name} judges every answer sentence")
    return Check(
        name="judge",
        ok=config.judge == "auto",
        detail=f"{name or config.ladder[-1]} is not installed, so answers get the lexical "
        "check alone (ragkit models build --only large adds it)",
    )


def _index_permissions(db: Path, *, given: bool) -> Check:
    """Whether users other than the index's owner can read or change it, its ``-wal`` and
    ``-shm`` files, or list its folder (ragkit makes all of them private)."""
    name = "index permissions"
    if os.name == "nt":
        return Check(name=name, ok=True, detail="not checked on Windows (no POSIX modes)")
    if not db.is_file():
        if given:
            return Check(name=name, ok=False, detail=f"{db} does not exist")
        return Check(name=name, ok=True, detail=f"no index yet at {db}")
    exposed = []
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), db.parent):
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue  # no -wal/-shm while no connection is open
        if mode & 0o066:
            exposed.append(f"{path} ({mode:04o})")
    if exposed:
        return Check(
            name=name,
            ok=False,
            detail="other users can read or change "
            + ", ".join(exposed)
            + f"; make them private: chmod 600 '{db}'* && chmod 700 '{db.parent}'",
        )
    from ragkit.store import is_encrypted

    state = "encrypted" if is_encrypted(db) else "not encrypted"
    return Check(
        name=name, ok=True, detail=f"{db} ({state}) and its folder are private to their owner"
    )


def _postgres_index(url: str, config: Config) -> list[Check]:
    """The PostgreSQL index at ``url``: the server and pgvector, what the index holds, and
    what the connecting role may do with it."""
    from ragkit.store import PostgresIndex, redacted

    try:
        with PostgresIndex(url, create=False, busy_timeout=config.busy_timeout) as index:
            meta, counts = index.meta(), index.counts()
            version, may = index.server_version(), index.privileges()
            audited = index.audit_enabled()
    except (RagkitError, ImportError) as exc:
        return [Check(name="postgresql index", ok=False, detail=str(exc))]
    location, schema = redacted(url), index.schema
    checks = [
        Check(
            name="postgresql",
            ok=True,
            detail=f"server {version}, pgvector {meta.get('pgvector_version', 'not used yet')}",
        ),
        Check(
            name="postgresql index",
            ok=True,
            detail=f"{location}: {counts['documents']:,} documents, {counts['chunks']:,} chunks, "
            f"encoder {meta.get('encoder_pack', 'none yet')}",
        ),
    ]
    if may["write"]:
        detail = "this role may search, add and remove documents"
    elif may["search"]:
        detail = "this role may search but not change the index"
    else:
        detail = f"this role may not search: GRANT SELECT ON ALL TABLES IN SCHEMA {schema} to it"
    ok = may["search"]
    if audited:
        ok = ok and may["log"]
        detail += (
            "; the audit log is on and it may add to it"
            if may["log"]
            else "; the audit log is on but it may not add to it, so its searches are refused: "
            f"GRANT INSERT ON {schema}.audit_log TO it"
        )
    return [*checks, Check(name="postgresql role", ok=ok, detail=detail)]


def doctor(config: Config | None = None, db: str | Path | None = None) -> list[Check]:
    """Run every check and return the results; nothing here touches the network but the
    PostgreSQL server a ``postgresql://`` ``db`` names.

    ``db`` is the index checked: for a file whether it and its folder are private (default:
    ``config.default_db``, where a missing index is no failure), for a URL the server, the
    index and what the connecting role may do with it. Nothing is created or changed.
    """
    config = config or Config()
    python_ok = sys.version_info >= (3, 10)
    checks = [Check(name="python", ok=python_ok, detail=platform.python_version())]
    checks += _sqlite() + _runtimes() + [_cpu()] + _packs(config)
    checks.append(Check(name="home", ok=True, detail=str(config.home)))
    if isinstance(db, str) and is_url(db):
        return checks + _postgres_index(db, config)
    target = Path(db).expanduser() if db is not None else config.default_db
    checks.append(_index_permissions(target, given=db is not None))
    return checks
