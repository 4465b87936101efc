"""Extractive answers: the documents' own best sentences, quoted with citations, no model."""

from __future__ import annotations

from collections.abc import Sequence

from ragkit._text import content_words
from ragkit._types import AnswerSentence, Passage
from ragkit.answer._support import VERBATIM_SUPPORT, ScoredSentence, is_heading

__all__ = ["best_score", "extract"]

# A runner-up sentence is quoted too only when it scores nearly as well as the best one;
# further down it is more often a neighbouring fact than part of the answer.
_MARGIN = 0.1
# Headings and clause titles ("2.3 Reduction.") score well on words alone and say nothing.
_MIN_WORDS = 4


def _informative(sentence: ScoredSentence) -> bool:
    return len(content_words(sentence.text)) >= _MIN_WORDS and not is_heading(sentence.text)


def _ranked(scored: Sequence[Sequence[ScoredSentence]]) -> list[ScoredSentence]:
    """Informative sentences best first (every sentence when none is informative)."""
    return sorted(
        (s for group in scored for s in group if _informative(s)),
        key=lambda s: -s.score,
    ) or sorted((s for group in scored for s in group), key=lambda s: -s.score)


def best_score(scored: Sequence[Sequence[ScoredSentence]]) -> float:
    """The score of the sentence an extractive answer would quote first (-1 with none)."""
    ranked = _ranked(scored)
    return ranked[0].score if ranked else -1.0


def extract(
    passages: Sequence[Passage],
    scored: Sequence[Sequence[ScoredSentence]],
    max_sentences: int,
    *,
    min_score: float,
) -> tuple[tuple[Passage, ...], tuple[AnswerSentence, ...]]:
    """The best sentences (at most ``max_sentences``, best first) and the passages they come
    from, numbered in order of first use; nothing when even the best sentence scores below
    ``min_score`` (no sentence answers the question: quoting the nearest would mislead)."""
    ranked = _ranked(scored)
    if not ranked or ranked[0].score < min_score:
        return (), ()
    picked: list[ScoredSentence] = []
    for sentence in ranked:
        if len(picked) == max_sentences or sentence.score < ranked[0].score - _MARGIN:
            break
        if all(sentence.text != p.text for p in picked):
            picked.append(sentence)
    order = list(dict.fromkeys(s.passage for s in picked))
    shown = tuple(passages[i] for i in order)
    quoted = tuple(
        AnswerSentence(
            text=s.text,
            citations=(order.index(s.passage) + 1,),
            support=VERBATIM_SUPPORT,
            supported=True,
        )
        for s in picked
    )
    return shown, quoted
