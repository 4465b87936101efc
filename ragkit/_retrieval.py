"""Hybrid retrieval: vector and BM25 candidates fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from ragkit.store import Filter, Index
from ragkit._types import Passage

__all__ = ["Mode", "rank", "search", "rrf", "fit_budget"]


def rrf(rankings: Sequence[Sequence[int]], k: int) -> dict[int, float]:
    """Reciprocal rank fusion: each list adds ``1 / (k + rank)`` (rank from 1) to an id."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


Mode = Literal["hybrid", "dense", "bm25"]


def rank(
    index: Index,
    query_vector: np.ndarray | None,
    question: str,
    *,
    mode: Mode,
    depth: int,
    rrf_k: int,
    exact: bool | None = None,
    where: Filter | None = None,
) -> list[tuple[int, float]]:
    """``(chunk_id, score)`` best first: cosine for dense, BM25 for bm25, RRF for hybrid.

    ``exact`` forces (True) or forbids (False) the exhaustive vector scan; by default the
    index chooses by its size. ``where`` restricts both rankings to matching documents.
    """
    if mode == "bm25":
        return index.text_search(question, depth, where=where)
    assert query_vector is not None
    if mode == "dense":
        return index.vector_search(query_vector, depth, exact=exact, where=where)
    dense = index.vector_search(query_vector, depth, exact=exact, where=where)
    sparse = index.text_search(question, depth, where=where)
    fused = rrf([[i for i, _ in dense], [i for i, _ in sparse]], rrf_k)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def search(
    index: Index,
    query_vector: np.ndarray,
    question: str,
    *,
    k: int,
    candidates: int,
    rrf_k: int,
    mode: Mode = "hybrid",
    where: Filter | None = None,
) -> list[Passage]:
    """The ``k`` best passages for ``question``; hybrid fuses vector and full-text ranks."""
    best = rank(index, query_vector, question, mode=mode, depth=max(candidates, k), rrf_k=rrf_k,
                where=where)[:k]
    ids = [i for i, _ in best]
    chunks = index.chunks(ids)
    vectors = index.vectors(ids)
    return [
        Passage(
            chunk_id=i,
            path=chunks[i].path,
            title=chunks[i].title,
            page=chunks[i].page,
            heading=chunks[i].heading,
            text=chunks[i].text,
            score=score,
            similarity=float(vectors[i] @ query_vector) if i in vectors else 0.0,
        )
        for i, score in best
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
