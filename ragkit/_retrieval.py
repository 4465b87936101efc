"""Hybrid retrieval: vector and BM25 candidates fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ragkit._text import words
from ragkit._types import Passage, SearchMode
from ragkit.store import Filter, Index, StoredChunk

__all__ = ["rank", "rrf", "search"]


def rrf(rankings: Sequence[Sequence[int]], k: int) -> dict[int, float]:
    """Reciprocal rank fusion: each list adds ``1 / (k + rank)`` (rank from 1) to an id."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def rank(
    index: Index,
    query_vector: np.ndarray | None,
    question: str,
    *,
    mode: SearchMode,
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


# Passages whose word sets overlap this much (Jaccard) say the same thing: the same text
# filed twice, or a document saved in two formats. Chunk overlap alone stays far below it.
DUPLICATE_JACCARD = 0.8


def _words(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in words(text))


def search(
    index: Index,
    query_vector: np.ndarray,
    question: str,
    *,
    k: int,
    candidates: int,
    rrf_k: int,
    mode: SearchMode = "hybrid",
    where: Filter | None = None,
    expand: int = 0,
) -> list[Passage]:
    """The ``k`` best passages for ``question``; hybrid fuses vector and full-text ranks.

    Near-duplicates of a better passage are skipped (the next best takes their place), and
    with ``expand`` each passage's text is widened by that many neighbouring chunks of its
    document on each side, for context.
    """
    ranked = rank(
        index, query_vector, question, mode=mode, depth=max(candidates, k), rrf_k=rrf_k, where=where
    )
    chunks = index.chunks([i for i, _ in ranked[: 3 * k]])
    kept: list[tuple[int, float]] = []
    seen: list[frozenset[str]] = []
    for chunk_id, score in ranked[: 3 * k]:
        if chunk_id not in chunks:
            continue
        words = _words(chunks[chunk_id].text)
        if any(len(words & other) >= DUPLICATE_JACCARD * len(words | other) for other in seen):
            continue
        kept.append((chunk_id, score))
        seen.append(words)
        if len(kept) == k:
            break
    vectors = index.vectors([i for i, _ in kept])
    return [
        Passage(
            chunk_id=i,
            path=chunks[i].path,
            title=chunks[i].title,
            page=chunks[i].page,
            heading=chunks[i].heading,
            text=_expanded(index, chunks[i], expand) if expand else chunks[i].text,
            rank_score=score,
            similarity=float(vectors[i] @ query_vector) if i in vectors else 0.0,
        )
        for i, score in kept
    ]


def _expanded(index: Index, chunk: StoredChunk, span: int) -> str:
    """The chunk's text joined with its neighbours' in the same page or section.

    Neighbouring chunks share overlap sentences; only the part past the previous chunk's end
    is appended, so nothing is repeated.
    """
    text, end = "", None
    for other in index.neighbours(chunk, span):
        if (other.page, other.heading) != (chunk.page, chunk.heading):
            continue
        if end is None or other.start >= end:
            text = f"{text}\n\n{other.text}" if text else other.text
        else:
            # Offsets index the section text and each chunk is exactly section[start:end].
            text += " " + other.text[end - other.start :].lstrip()
        end = other.end if end is None else max(end, other.end)
    return text.strip()
