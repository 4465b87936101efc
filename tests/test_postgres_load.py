"""A load test of the PostgreSQL backend, bounded in count and time, on the test server's Unix
socket: one process ingests SciFact documents while 8 processes search continuously; no
search fails, and afterwards every document is there whole (chunks and vectors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ragkit.eval import load_beir

from .helpers import stores, with_params

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "beir-scifact"
# SciFact's first documents: enough for the searches to meet many writes (each document is
# one transaction); RAGKIT_LOAD_DOCS=0 takes the whole corpus (5,183 documents, ~10 minutes
# of ingest alone on 2 cores).
DOCS = int(os.environ.get("RAGKIT_LOAD_DOCS", "400")) or None
SEARCHERS = 8
SEED_DOCS = 10

INGEST = """
import json, sys
from ragkit import Assistant, Config
url, home, path = sys.argv[1:]
texts = [tuple(t) for t in json.loads(open(path).read())]
with Assistant(url, Config(home=home, threads=1)) as kb:
    report = kb.add_texts(texts)
print(json.dumps({"added": len(report.added), "failed": [f.reason for f in report.failed]}))
"""

SEARCH = """
import json, os, sys, time
from ragkit import Assistant, Config
url, home, stop, questions = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
latencies, errors, n = [], [], 0
with Assistant(url, Config(home=home, threads=1)) as kb:
    while not os.path.exists(stop):
        started = time.perf_counter()
        try:
            kb.search(questions[n % len(questions)], k=5)
        except Exception as exc:
            errors.append(repr(exc))
        latencies.append(time.perf_counter() - started)
        n += 1
print(json.dumps({"latencies": latencies, "errors": errors}))
"""


@pytest.mark.skipif(not SCIFACT.is_dir(), reason=f"needs the SciFact data set at {SCIFACT}")
def test_one_writer_and_eight_readers(
    postgres_dsn: str, tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import psycopg

    from ragkit import Assistant, Config

    data = load_beir(SCIFACT)
    texts = [[doc_id, text, title] for doc_id, (title, text) in data.corpus.items()][:DOCS]
    questions = [data.queries[q] for q in sorted(data.queries)[:50]]
    with stores("postgres", tmp_path, postgres_dsn) as make:
        schema = make("load").schema  # type: ignore[attr-defined]
        url = with_params(postgres_dsn, schema=schema)
        # The readers need an index to open: a few documents first.
        with Assistant(url, Config(home=home, threads=1)) as kb:
            kb.add_texts([tuple(t) for t in texts[:SEED_DOCS]])
        rest = tmp_path / "texts.json"
        rest.write_text(json.dumps(texts[SEED_DOCS:]))
        stop = tmp_path / "stop"
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}

        def start(script: str, *args: str) -> subprocess.Popen[str]:
            return subprocess.Popen(
                [sys.executable, "-c", script, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=environment,
            )

        searchers = [
            start(SEARCH, url, str(home), str(stop), json.dumps(questions[i::SEARCHERS]))
            for i in range(SEARCHERS)
        ]
        try:
            started = time.monotonic()
            ingester = start(INGEST, url, str(home), str(rest))
            out, err = ingester.communicate(timeout=1800)
            ingest_seconds = time.monotonic() - started
            assert ingester.returncode == 0, err
            ingested = json.loads(out.strip().splitlines()[-1])
        finally:
            stop.touch()
            results = []
            for searcher in searchers:
                out, err = searcher.communicate(timeout=300)
                assert searcher.returncode == 0, err
                results.append(json.loads(out.strip().splitlines()[-1]))

        assert ingested == {"added": len(texts) - SEED_DOCS, "failed": []}
        errors = [e for r in results for e in r["errors"]]
        assert errors == []
        latencies = np.array([s for r in results for s in r["latencies"]]) * 1000
        assert all(r["latencies"] for r in results), "a searcher never searched"
        with psycopg.connect(postgres_dsn.split("?schema=")[0]) as conn:
            conn.execute(f'set search_path to "{schema}"')
            documents = conn.execute("select count(*) from documents").fetchone()[0]
            empty = conn.execute(
                "select count(*) from documents d where not exists "
                "(select 1 from chunks c where c.document_id = d.id)"
            ).fetchone()[0]
            without_vectors = conn.execute(
                "select count(*) from chunks c where not exists "
                "(select 1 from vectors v where v.chunk_id = c.id)"
            ).fetchone()[0]
        assert (documents, empty, without_vectors) == (len(texts), 0, 0)
        p50, p95 = np.percentile(latencies, [50, 95])
        with capsys.disabled():
            print(
                f"\npostgres load: {len(texts) - SEED_DOCS} SciFact documents ingested in "
                f"{ingest_seconds:.0f} s by one process while {SEARCHERS} processes searched "
                f"{len(latencies)} times: search p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
                f"0 errors; {documents} documents whole afterwards"
            )
