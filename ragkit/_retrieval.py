"""Hybrid retrieval: vector and BM25 candidates fused by their standardised scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher

import numpy as np

from ragkit._language import UNDETERMINED
from ragkit._text import MONTH_ABBREVIATIONS, MONTHS, WEEKDAYS, sentences, words
from ragkit._types import Passage, SearchMode
from ragkit.store import Filter, Store, StoredChunk

__all__ = ["fuse", "identifiers", "near_duplicates", "rank", "search", "trusted_dense_weight"]


def _standardised(scores: np.ndarray, window: int) -> np.ndarray:
    """Each score as a z-score among the first ``window`` (a fixed number, so a deeper
    ranking fuses its head the same way)."""
    head = scores[:window]
    spread = float(head.std())
    return (scores - head.mean()) / spread if spread > 0 else np.zeros_like(scores)


def fuse(
    dense: Sequence[tuple[int, float]],
    sparse: Sequence[tuple[int, float]],
    dense_weight: float,
    window: int = 40,
) -> list[tuple[int, float]]:
    """Hybrid ranking, ``(item, score)`` best first (ties by item): the vector z-score times
    ``dense_weight`` plus the BM25 z-score times the rest.

    Each ranking's scores are standardised among its first ``window`` candidates, so a
    candidate counts by how far it stands out from the others in that ranking's own spread,
    not by its place: a passage far ahead of the rest (BM25 on an exact match of rare words)
    outweighs one barely ahead in the other ranking. A candidate missing from one ranking
    gets that ranking's lowest z-score. Reciprocal rank fusion, which this replaced, gave
    each ranking's first place the same weight, and so let a weaker ranking pull a strong
    one down (README, "Hybrid retrieval").
    """
    position = {
        item: n for n, item in enumerate(dict.fromkeys(i for r in (dense, sparse) for i, _ in r))
    }
    items = np.fromiter(position, dtype=np.int64, count=len(position))
    fused = np.zeros(len(items))
    for ranking, weight in ((dense, dense_weight), (sparse, 1.0 - dense_weight)):
        if not ranking:
            continue
        z = _standardised(np.array([score for _, score in ranking], dtype=np.float64), window)
        column = np.full(len(items), z.min())
        column[[position[item] for item, _ in ranking]] = z
        fused += weight * column
    order = np.lexsort((items, -fused))
    return list(zip(items[order].tolist(), fused[order].tolist(), strict=True))


def trusted_dense_weight(
    configured: float, encoder_languages: frozenset[str] | None, documents: Mapping[str, int]
) -> float:
    """The vector ranking's share in hybrid fusion for an index holding ``documents`` (a
    count per detected language): ``configured`` times the share of the documents written
    in a language the encoder was trained on (all of them when it does not say, and those
    whose language could not be told).

    An encoder ranks text in a language it never saw no better than chance (all-MiniLM-L6-v2
    on Russian or Chinese XQuAD: nDCG@10 0.20 and 0.29, against BM25's 0.85), and standing
    out among chance scores is no evidence; so hybrid search there is full text alone.
    """
    total = sum(documents.values())
    if encoder_languages is None or not total:
        return configured
    known = encoder_languages | {UNDETERMINED}
    return configured * sum(n for language, n in documents.items() if language in known) / total


def rank(
    index: Store,
    query_vector: np.ndarray | None,
    question: str,
    *,
    mode: SearchMode,
    depth: int,
    dense_weight: float,
    window: int,
    exact: bool | None = None,
    where: Filter | None = None,
) -> list[tuple[int, float]]:
    """``(chunk_id, score)`` best first: cosine for dense, BM25 for bm25, :func:`fuse` for
    hybrid (``dense_weight`` the vector ranking's share, z-scores over ``window``
    candidates; with no share, the BM25 ranking alone).

    ``exact`` forces (True) or forbids (False) the exhaustive vector scan; by default the
    index chooses by its size. ``where`` restricts both rankings to matching documents.
    """
    if mode == "bm25":
        return index.text_search(question, depth, where=where)
    assert query_vector is not None
    if mode == "dense":
        return index.vector_search(query_vector, depth, exact=exact, where=where)
    sparse = index.text_search(question, depth, where=where)
    if dense_weight == 0:
        return sparse
    dense = index.vector_search(query_vector, depth, exact=exact, where=where)
    return fuse(dense, sparse, dense_weight, window)


# Passages whose word sets overlap this much (Jaccard) say the same thing: the same text
# filed twice, or a document saved in two formats. Chunk overlap alone stays far below it.
DUPLICATE_JACCARD = 0.8

# Month and day names say which date a text is about, even when they start a sentence
# ("May" is not among them: it starts sentences as a verb as often).
_CALENDAR = frozenset(MONTHS) - {"may"} | MONTH_ABBREVIATIONS | frozenset(WEEKDAYS)


def _words(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in words(text))


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Each word of ``text`` in order, lower-cased, with whether it identifies something.

    A word identifies when it holds a digit (a date, an amount, an id), is a month or day
    name (written with a capital), or is capitalised but does not start a sentence or a line
    (a name, "Ms", "HN-"): the parts of a templated text that change from copy to copy.
    """
    tokens: list[tuple[str, bool]] = []
    for line in text.splitlines():
        for sentence in sentences(line):
            for n, word in enumerate(words(sentence)):
                lower = word.lower()
                # Capitals at a sentence or line start say nothing; the pronoun "I" neither.
                capitalised = word[0].isupper() and word != "I"
                start = n == 0 and lower not in _CALENDAR
                identifying = any(c.isdigit() for c in word) or (capitalised and not start)
                tokens.append((lower, identifying))
    return tokens


def identifiers(text: str) -> set[str]:
    """The words of ``text`` that identify (see :func:`_tokens`), lower-cased."""
    return {word for word, identifying in _tokens(text) if identifying}


def _substitutes_identifiers(a: list[tuple[str, bool]], b: list[tuple[str, bool]]) -> bool:
    """Whether ``b`` puts other names, numbers or dates where ``a`` has some.

    The word sequences are aligned (difflib); a stretch of ``a`` replaced by a different
    stretch of ``b`` with identifying words on both sides is a substitution: the same
    template filled in for another person, day or amount. Words only added or removed are
    not, and neither is a replaced stretch at either end unless both sides are nothing but
    identifying words: there two chunks of one text cut at different places differ (the
    previous or the next sentence), which says nothing new.
    """
    matcher = SequenceMatcher(None, [w for w, _ in a], [w for w, _ in b], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "replace":
            continue
        left, right = [f for _, f in a[i1:i2]], [f for _, f in b[j1:j2]]
        if _spelled(a[i1:i2]) == _spelled(b[j1:j2]):
            continue  # the same characters split otherwise: "Har-bour", "1,000" and "1000"
        if (i1 == 0 and j1 == 0) or (i2 == len(a) and j2 == len(b)):
            if all(left) and all(right):
                return True
        elif any(left) and any(right):
            return True
    return False


def _spelled(tokens: list[tuple[str, bool]]) -> str:
    return "".join(c for word, _ in tokens for c in word if c.isalnum())


def near_duplicates(a: str, b: str) -> bool:
    """Whether passages ``a`` and ``b`` say the same thing, so only the better one is shown.

    Their word sets must overlap by at least :data:`DUPLICATE_JACCARD` and neither may
    substitute names, numbers or dates for the other's: four copies of a follow-up letter
    to four patients share nearly every word yet are four different letters.
    """
    return _repeats(a, b, _words(a), _words(b))


def _repeats(a: str, b: str, a_words: frozenset[str], b_words: frozenset[str]) -> bool:
    """:func:`near_duplicates` given each text's word set (a search reuses them)."""
    # The cheap word-set test first; only texts close by it (rare) are aligned word by word
    # to see whether they differ in who, when or how much.
    if len(a_words & b_words) < DUPLICATE_JACCARD * len(a_words | b_words):
        return False
    return not _substitutes_identifiers(_tokens(a), _tokens(b))


def search(
    index: Store,
    query_vector: np.ndarray,
    question: str,
    *,
    k: int,
    candidates: int,
    dense_weight: float,
    mode: SearchMode = "hybrid",
    where: Filter | None = None,
    expand: int = 0,
) -> list[Passage]:
    """The ``k`` best passages for ``question``; hybrid fuses vector and full-text scores.

    Near-duplicates of a better passage are skipped (the next best takes their place) unless
    they differ in names, numbers or dates (see :func:`near_duplicates`), and
    with ``expand`` each passage's text is widened by that many neighbouring chunks of its
    document on each side, for context.
    """
    ranked = rank(
        index,
        query_vector,
        question,
        mode=mode,
        depth=max(candidates, k),
        dense_weight=dense_weight,
        window=candidates,
        where=where,
    )
    chunks = index.chunks([i for i, _ in ranked[: 3 * k]])
    kept: list[tuple[int, float]] = []
    seen: list[tuple[str, frozenset[str]]] = []
    for chunk_id, score in ranked[: 3 * k]:
        if chunk_id not in chunks:
            continue
        text = chunks[chunk_id].text
        words = _words(text)
        if any(_repeats(text, other, words, other_words) for other, other_words in seen):
            continue
        kept.append((chunk_id, score))
        seen.append((text, words))
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
            ocr=chunks[i].ocr,
            language=chunks[i].language,
        )
        for i, score in kept
    ]


def _expanded(index: Store, chunk: StoredChunk, span: int) -> str:
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
