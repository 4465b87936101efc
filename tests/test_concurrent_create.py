"""Two processes creating the same new index at the same moment (issue 10, item 7).

One writer wins and the other opens what it made: both succeed with the same encoder, and
with two different encoders exactly one binds the index while the other is refused with
:class:`~ragkit.EncoderMismatchError`. Two long-lived worker processes (spawned once for the
module) are released together by a barrier for each trial; each trial uses a new path whose
folder does not exist yet, so the folder, the file, WAL, the schema and the encoder binding
are all raced. Only outcomes are asserted, never timings.
"""

from __future__ import annotations

import multiprocessing
import queue
import sqlite3
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ragkit import EncoderMismatchError
from ragkit.store import SCHEMA_VERSION, Index

from .helpers import rows, unit

DIMS = 384
RECIPE = "test-recipe"
# Seconds a worker waits for the other at the barrier, and the parent for a result: only a
# guard against hanging forever when a worker dies, never part of what is asserted.
GUARD = 120.0


@dataclass(frozen=True)
class Outcome:
    """What one worker saw in one trial: ``ok``, ``mismatch`` or ``error`` (with details)."""

    worker: int
    kind: str
    fingerprint: str
    doc: str
    detail: str = ""


def _worker(number: int, barrier: Any, tasks: Any, results: Any) -> None:
    """Create/open the index of each task as soon as the other worker is ready too, and add
    one document to it. Runs until it receives ``None``."""
    while (task := tasks.get()) is not None:
        path, fingerprint, doc = task
        try:
            barrier.wait(GUARD)
            with Index(path, fingerprint=fingerprint, dims=DIMS, recipe=RECIPE) as index:
                index.put_document(
                    path=doc,
                    title=doc,
                    sha256="s" * 64,
                    size=1,
                    mtime=0.0,
                    chunks=rows(f"text of {doc}"),
                    vectors=unit(1, dims=DIMS, seed=number),
                )
        except EncoderMismatchError as exc:
            results.put(Outcome(number, "mismatch", fingerprint, doc, str(exc)))
        except BaseException:
            results.put(Outcome(number, "error", fingerprint, doc, traceback.format_exc()))
        else:
            results.put(Outcome(number, "ok", fingerprint, doc))


class Pair:
    """Two worker processes driven by queues, released together for each trial."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        # Kept referenced: a spawned child unpickles it after start() returns, and a
        # collected barrier's semaphores are gone by then.
        self.barrier = ctx.Barrier(2)
        self.results: Any = ctx.Queue()
        self.tasks: list[Any] = [ctx.Queue(), ctx.Queue()]
        self.procs = [
            ctx.Process(target=_worker, args=(n, self.barrier, self.tasks[n], self.results))
            for n in range(2)
        ]
        for proc in self.procs:
            proc.start()

    def run(self, path: Path, fingerprints: tuple[str, str]) -> list[Outcome]:
        for n in range(2):
            self.tasks[n].put((str(path), fingerprints[n], f"/doc-{n}.txt"))
        outcomes = [self._result() for _ in range(2)]
        return sorted(outcomes, key=lambda o: o.worker)

    def _result(self) -> Outcome:
        deadline = time.monotonic() + GUARD
        while time.monotonic() < deadline:
            try:
                outcome: Outcome = self.results.get(timeout=0.5)
                return outcome
            except queue.Empty:
                dead = [p.exitcode for p in self.procs if not p.is_alive()]
                if dead:
                    raise AssertionError(f"a worker process died (exit codes {dead})") from None
        raise AssertionError(f"no result from the workers within {GUARD:g} s")

    def close(self) -> None:
        for tasks in self.tasks:
            tasks.put(None)
        for proc in self.procs:
            proc.join(30)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    workers = Pair()
    try:
        yield workers
    finally:
        workers.close()


def _contents(path: Path) -> tuple[list[str], dict[str, str], int]:
    """The documents, meta and schema version in ``path``, read with plain sqlite3."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        docs = [r[0] for r in conn.execute("select path from documents order by path")]
        meta = dict(conn.execute("select key, value from meta").fetchall())
        version = conn.execute("pragma user_version").fetchone()[0]
    finally:
        conn.close()
    return docs, meta, version


def _check_file(path: Path, docs: list[str], fingerprint: str) -> list[str]:
    found, meta, version = _contents(path)
    problems = []
    if found != docs:
        problems.append(f"documents {found}, expected {docs}")
    if meta.get("encoder_fingerprint") != fingerprint:
        problems.append(f"encoder_fingerprint {meta.get('encoder_fingerprint')!r}")
    if (meta.get("dims"), meta.get("encoder_recipe")) != (str(DIMS), RECIPE):
        problems.append(f"meta {meta}")
    if version != SCHEMA_VERSION or meta.get("schema_version") != str(SCHEMA_VERSION):
        problems.append(f"schema version {version} / {meta.get('schema_version')}")
    return problems


SAME_TRIALS = 50
DIFFERENT_TRIALS = 20


def test_same_encoder_both_create_and_both_documents_land(pair: Pair, tmp_path: Path) -> None:
    failures = []
    for trial in range(SAME_TRIALS):
        path = tmp_path / f"t{trial}" / "index.db"
        outcomes = pair.run(path, ("enc-same", "enc-same"))
        problems = [f"worker {o.worker}: {o.kind} {o.detail}" for o in outcomes if o.kind != "ok"]
        if not problems:
            problems = _check_file(path, ["/doc-0.txt", "/doc-1.txt"], "enc-same")
        if problems:
            failures.append(f"trial {trial}: " + "; ".join(problems))
    assert not failures, f"{len(failures)}/{SAME_TRIALS} trials failed:\n" + "\n".join(failures)


def test_different_encoders_exactly_one_binds(pair: Pair, tmp_path: Path) -> None:
    failures = []
    for trial in range(DIFFERENT_TRIALS):
        path = tmp_path / f"t{trial}" / "index.db"
        outcomes = pair.run(path, ("enc-a", "enc-b"))
        kinds = sorted(o.kind for o in outcomes)
        if kinds != ["mismatch", "ok"]:
            details = "; ".join(f"worker {o.worker}: {o.kind} {o.detail}" for o in outcomes)
            failures.append(f"trial {trial}: {kinds}: {details}")
            continue
        winner = next(o for o in outcomes if o.kind == "ok")
        problems = _check_file(path, [winner.doc], winner.fingerprint)
        if problems:
            failures.append(f"trial {trial} (winner {winner.fingerprint}): " + "; ".join(problems))
    assert not failures, f"{len(failures)}/{DIFFERENT_TRIALS} trials failed:\n" + "\n".join(
        failures
    )
