"""`ragkit eval scale`: vector search latency and recall on a synthetic index of N vectors.

The vectors are made to look like sentence embeddings rather than white noise: a low-rank
structure plus noise and a shared offset (real embeddings share a mean direction), and each
query is a perturbed copy of a stored vector, so it has a real neighbourhood to find.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ragkit.store import Index

__all__ = ["ScaleResult", "evaluate_scale", "summary", "synthetic_vectors"]

_BATCH = 1000


def synthetic_vectors(n: int, dims: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rank = 48
    basis = rng.normal(size=(rank, dims)).astype(np.float32)
    offset = rng.normal(size=dims).astype(np.float32) * 0.35
    out = np.empty((n, dims), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        block = rng.normal(size=(m, rank)).astype(np.float32) @ basis / np.sqrt(rank)
        block += 0.45 * rng.normal(size=(m, dims)).astype(np.float32) + offset
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


@dataclass(frozen=True)
class ScaleResult:
    n: int
    method: str
    candidates: int | None
    p50_ms: float
    p95_ms: float
    recall10: float


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def evaluate_scale(
    n: int,
    *,
    queries: int = 100,
    exact_queries: int = 20,
    depths: Sequence[int] = (100, 200, 400, 800),
    dims: int = 384,
    workdir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[ScaleResult]:
    """Build an index of ``n`` synthetic vectors and time exact and coarse-to-fine search."""
    data = synthetic_vectors(n, dims)
    rng = np.random.default_rng(1)
    picks = rng.choice(n, queries, replace=False)
    qs = data[picks] + 0.5 * rng.normal(size=(queries, dims)).astype(np.float32) / np.sqrt(dims)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)

    class _Row:
        def __init__(self, ordinal: int) -> None:
            self.text, self.ordinal, self.page, self.heading = "", ordinal, None, None
            self.start = self.end = self.n_tokens = 0

    rows = [_Row(i) for i in range(_BATCH)]
    results = []
    with tempfile.TemporaryDirectory(prefix="ragkit-scale-", dir=workdir) as tmp:
        with Index(Path(tmp) / "scale.db", fingerprint="synthetic", dims=dims) as index:
            for start in range(0, n, _BATCH):
                block = data[start : start + _BATCH]
                index.put_document(path=f"synthetic/{start}", title="", sha256="0" * 64, size=0,
                                   mtime=0.0, chunks=rows[: len(block)], vectors=block)
                if progress:
                    progress(f"building {n:,} vectors", start + len(block), n)
            first_id = index.conn.execute("select min(id) from chunks").fetchone()[0]
            # Ground truth by brute force in numpy: chunk ids were assigned in data order.
            truth = []
            for q in qs:
                sims = data @ q
                top = np.argpartition(-sims, 10)[:10]
                truth.append({int(i) + first_id for i in top})

            def measure(method: str, count: int, search, candidates: int | None) -> None:
                latencies, hits = [], 0
                for j, q in enumerate(qs[:count]):
                    started = time.perf_counter()
                    found = search(q)
                    latencies.append((time.perf_counter() - started) * 1000)
                    hits += len(truth[j] & {i for i, _ in found})
                    if progress:
                        progress(f"{method} search", j + 1, count)
                results.append(ScaleResult(n, method, candidates, _percentile(latencies, 0.5),
                                           _percentile(latencies, 0.95), hits / (10 * count)))

            index.coarse()  # loaded once per process; not part of a query's latency
            measure("exact-float (sqlite-vec)", min(exact_queries, queries),
                    lambda q: index.vector_search(q, 10, exact=True), None)
            for depth in depths:
                measure("coarse-bits+rescore", queries,
                        lambda q, d=depth: index.vector_search(q, 10, exact=False, candidates=d),
                        depth)
            measure("coarse-bits+rescore (default)", queries,
                    lambda q: index.vector_search(q, 10, exact=False), None)
    return results


def summary(results: Sequence[ScaleResult]) -> list[str]:
    """One line per figure, each coarse row compared with the exact scan of the same run."""
    exact = next(r for r in results if r.method.startswith("exact"))
    lines = []
    for r in results:
        depth = f" candidates={r.candidates}" if r.candidates else ""
        speed = "" if r is exact else f"  {exact.p50_ms / max(r.p50_ms, 1e-9):.1f}x faster than exact"
        lines.append(f"n={r.n:,} {r.method}{depth}: p50 {r.p50_ms:.1f} ms, p95 {r.p95_ms:.1f} ms, "
                     f"recall@10 {r.recall10:.3f}{speed}")
    return lines


