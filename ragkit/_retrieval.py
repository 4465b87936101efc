"""Hybrid retrieval: vector and BM25 candidates fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ragkit.store import Index
from ragkit._types import Passage

__all__ = ["hybrid_search", "rrf", "fit_budget"]


def rrf(rankings: Sequence[Sequence[int]], k: int) -> dict[int, float]:
    """Reciprocal rank fusion: each list adds ``1 / (k + rank)`` (rank from 1) to an id."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def hybrid_search(
    index: Index,
    query_vector: np.ndarray,
    question: str,
    *,
    k: int,
    candidates: int,
    rrf_k: int,
) -> list[Passage]:
    """The ``k`` best passages for ``question`` by fused vector and full-text rank."""
    dense = index.vector_search(query_vector, candidates)
    sparse = index.text_search(question, candidates)
    fused = rrf([[i for i, _ in dense], [i for i, _ in sparse]], rrf_k)
    best = sorted(fused, key=lambda i: (-fused[i], i))[:k]
    similarity = dict(dense)
    missing = [i for i in best if i not in similarity]
    # Full-text-only hits have no similarity yet; compute it from their stored vectors.
    for chunk_id, vector in index.vectors(missing).items():
        similarity[chunk_id] = float(vector @ query_vector)
    chunks = index.chunks(best)
    return [
        Passage(
            chunk_id=i,
            path=chunks[i].path,
            title=chunks[i].title,
            page=chunks[i].page,
            heading=chunks[i].heading,
            text=chunks[i].text,
            score=fused[i],
            similarity=similarity.get(i, 0.0),
        )
        for i in best
        if i in chunks
    ]


def fit_budget(
    passages: Sequence[Passage], budget: int, count_tokens: Callable[[str], int]
) -> list[Passage]:
    """The leading passages whose texts fit in ``budget`` tokens (at least the first one)."""
    kept, used = [], 0
    for passage in passages:
        cost = count_tokens(passage.text)
        if kept and used + cost > budget:
            break
        kept.append(passage)
        used += cost
    return kept
