"""`ragkit eval retrieval`: BM25, dense and hybrid retrieval measured on any BEIR-layout folder.

The corpus is indexed into a temporary ragkit index through the public ingest path, and
every mode runs the same queries against the same index, so the rows are comparable.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from ragkit._config import Config
from ragkit._errors import ConfigError
from ragkit._types import IngestProgress, SearchMode

__all__ = [
    "BeirData",
    "RetrievalRow",
    "RetrievalSummary",
    "evaluate_retrieval",
    "load_beir",
    "mrr_at",
    "ndcg_at",
    "recall_at",
    "summarize_retrieval",
]

MODES: tuple[SearchMode, ...] = ("bm25", "dense", "hybrid")


def _is_mode(value: str) -> TypeGuard[SearchMode]:
    return value in MODES


@dataclass(frozen=True)
class BeirData:
    """A BEIR data set: corpus ``{id: (title, text)}``, queries ``{id: text}``, qrels."""

    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise ConfigError(f"{path}:{number}: not valid JSON ({exc}).") from exc


def load_beir(folder: str | Path, split: str = "test") -> BeirData:
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` from ``folder``.

    Only queries with relevance judgements are kept, as BEIR's own evaluation does.
    """
    root = Path(folder)
    paths = [root / "corpus.jsonl", root / "queries.jsonl", root / "qrels" / f"{split}.tsv"]
    for path in paths:
        if not path.is_file():
            raise ConfigError(
                f"{path} is missing; a BEIR dataset is a folder with corpus.jsonl, "
                f"queries.jsonl and qrels/{split}.tsv."
            )
    corpus = {str(d["_id"]): (d.get("title") or "", d.get("text") or "") for d in _jsonl(paths[0])}
    qrels: dict[str, dict[str, int]] = {}
    with paths[2].open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) < 3 or parts[0] == "query-id":
                continue
            try:
                score = int(parts[2])
            except ValueError:
                continue
            if score > 0:
                qrels.setdefault(parts[0], {})[parts[1]] = score
    queries = {str(q["_id"]): q["text"] for q in _jsonl(paths[1]) if str(q["_id"]) in qrels}
    if not queries:
        raise ConfigError(f"{paths[2]} judges no query of {paths[1]}; nothing to evaluate.")
    return BeirData(corpus, queries, {q: qrels[q] for q in queries})


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    """nDCG@k with graded gains (as BEIR / pytrec_eval compute it)."""
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    return len(set(ranked[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    for i, d in enumerate(ranked[:k]):
        if d in relevant:
            return 1.0 / (i + 1)
    return 0.0


@dataclass(frozen=True)
class RetrievalRow:
    """One mode's figures."""

    encoder: str
    mode: str
    ndcg10: float
    recall100: float
    mrr10: float
    p50_ms: float
    p95_ms: float
    queries: int
    dataset: str = ""
    language: str = ""
    """The language most of the data set's documents were detected in at ingest."""
    load: float = 0.0
    """CPU cores other processes kept busy, on average, while this mode's queries were timed
    (0 on an idle machine): latencies on a loaded machine are not an idle one's. Where the
    system's CPU times cannot be read (no ``/proc/stat``), the one-minute load average less
    the benchmark's own core."""
    backend: str = "sqlite"
    """Where the index was kept: ``"sqlite"`` (a file) or ``"postgresql"``."""
    approximate_recall10: float | None = None
    """For ``dense``: the share of the exact search's 10 nearest chunks that the approximate
    search (pgvector's HNSW; on SQLite the coarse index) also returns, over the queries."""


@dataclass(frozen=True)
class RetrievalSummary:
    """One encoder and mode over several data sets: the mean and the worst nDCG@10."""

    encoder: str
    mode: str
    datasets: int
    mean_ndcg10: float
    worst_dataset: str
    worst_ndcg10: float
    backend: str = "sqlite"
    """Where the indexes were kept (see :attr:`RetrievalRow.backend`)."""


def summarize_retrieval(rows: Sequence[RetrievalRow]) -> list[RetrievalSummary]:
    """Per encoder, mode and backend, in the order of ``rows``, the mean and worst over data
    sets."""
    groups: dict[tuple[str, str, str], list[RetrievalRow]] = {}
    for row in rows:
        groups.setdefault((row.encoder, row.mode, row.backend), []).append(row)
    summaries = []
    for (encoder, mode, backend), group in groups.items():
        worst = min(group, key=lambda r: r.ndcg10)
        summaries.append(
            RetrievalSummary(
                encoder,
                mode,
                len(group),
                statistics.fmean(r.ndcg10 for r in group),
                worst.dataset,
                worst.ndcg10,
                backend,
            )
        )
    return summaries


def _cpu_times() -> tuple[float, float, float] | None:
    """(seconds the machine's CPUs were busy, seconds this process ran, monotonic time), or
    None without ``/proc/stat``."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal, then guest and guest_nice, which user
    # and nice already hold: of the first eight, all but idle and iowait is work.
    busy = sum(fields[:8]) - sum(fields[3:5])
    own = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), own.user + own.system, time.monotonic()


def _other_load(before: tuple[float, float, float] | None) -> float:
    """Cores other processes kept busy since ``before`` (:func:`_cpu_times`), on average.

    The one-minute load average answers too late: after the benchmark's own indexing it
    still reads ~2 on an idle machine."""
    after = _cpu_times()
    if before is None or after is None or after[2] <= before[2]:
        return max(0.0, os.getloadavg()[0] - 1)
    busy, own, wall = (a - b for a, b in zip(after, before, strict=True))
    return max(0.0, (busy - own) / wall)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def evaluate_retrieval(
    data: BeirData,
    config: Config,
    *,
    encoders: Sequence[str] = (),
    modes: Sequence[str] = MODES,
    max_queries: int | None = None,
    workdir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    name: str = "",
    postgres: str | None = None,
) -> list[RetrievalRow]:
    """Index ``data.corpus`` once per encoder pack and measure each mode on its queries.

    ``name`` labels the rows (the data set's folder name, say). ``postgres`` (a database
    URL) indexes into a new schema of that database instead of a temporary file, dropped
    afterwards.
    """
    from ragkit._assistant import Assistant

    unknown = [m for m in modes if not _is_mode(m)]
    if unknown:
        raise ConfigError(f"unknown retrieval mode(s) {unknown}; choose from {', '.join(MODES)}.")
    checked = [m for m in modes if _is_mode(m)]
    query_ids = sorted(data.queries)[: max_queries or None]
    rows = []
    for encoder in encoders or (config.encoder_pack(),):
        with tempfile.TemporaryDirectory(prefix="ragkit-eval-", dir=workdir) as tmp:
            location = _scratch_schema(postgres) if postgres is not None else Path(tmp) / "eval.db"
            kb = Assistant(location, config.replace(encoder=encoder))
            texts = [(f"{doc_id}", text, title) for doc_id, (title, text) in data.corpus.items()]

            def tick(p: IngestProgress, encoder: str = encoder) -> None:
                if progress:
                    progress(f"indexing with {encoder}", p.files_done, p.files_total)

            kb.add_texts(texts, progress=tick)
            languages = Counter(d.language for d in kb.documents())
            language = languages.most_common(1)[0][0] if languages else ""
            # Read once, outside the timed searches: turning chunks into documents is the
            # benchmark's bookkeeping, not search.
            paths = kb._open(with_encoder=True, create=False).chunk_paths()
            for mode in checked:
                scores: dict[str, list[float]] = {"ndcg": [], "recall": [], "mrr": []}
                latencies = []
                before = _cpu_times()
                for n, qid in enumerate(query_ids, start=1):
                    started = time.perf_counter()
                    # Documents hold several chunks: 300 chunks fill the 100 documents scored.
                    chunks = kb._rank_chunks(data.queries[qid], mode=mode, depth=300)
                    latencies.append((time.perf_counter() - started) * 1000)
                    ranked = list(dict.fromkeys(paths[i] for i in chunks if i in paths))[:100]
                    relevant = data.qrels[qid]
                    scores["ndcg"].append(ndcg_at(ranked, relevant, 10))
                    scores["recall"].append(recall_at(ranked, relevant, 100))
                    scores["mrr"].append(mrr_at(ranked, relevant, 10))
                    if progress:
                        progress(f"{encoder} {mode}", n, len(query_ids))
                rows.append(
                    RetrievalRow(
                        encoder,
                        mode,
                        statistics.fmean(scores["ndcg"]),
                        statistics.fmean(scores["recall"]),
                        statistics.fmean(scores["mrr"]),
                        percentile(latencies, 0.5),
                        percentile(latencies, 0.95),
                        len(query_ids),
                        name,
                        language,
                        _other_load(before),
                        "postgresql" if postgres is not None else "sqlite",
                        _approximate_recall(kb, [data.queries[q] for q in query_ids])
                        if mode == "dense"
                        else None,
                    )
                )
            kb.close()
            if postgres is not None:
                from ragkit.store import PostgresIndex

                with PostgresIndex(str(location)) as scratch:
                    scratch.drop()
    return rows


def _scratch_schema(url: str) -> str:
    """``url`` naming a new schema of its own, for one run."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}schema=ragkit_eval_{secrets.token_hex(4)}"


def _approximate_recall(kb: Any, queries: Sequence[str]) -> float:
    """How many of the exact vector search's 10 nearest chunks the approximate one finds."""
    index = kb._open(with_encoder=True, create=False)
    found = []
    for vector in kb._encode_queries(list(queries)):
        exact = {i for i, _ in index.vector_search(vector, 10, exact=True)}
        approximate = {i for i, _ in index.vector_search(vector, 10, exact=False)}
        found.append(len(exact & approximate) / max(1, len(exact)))
    return statistics.fmean(found)
