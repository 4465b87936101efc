"""Which passage supports an answer sentence: word overlap first, vector similarity second."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["attribute", "sentences", "content_words"]

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*|\w+", re.UNICODE)
_STOP = frozenset(
    "a an and are as at be been by can could do does for from has have how i if in into is it "
    "its may must not of on or our over should so than that the their then there these they "
    "this to under up was we were what when where which who why will with you your".split()
)


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (a light splitter; answers are short)."""
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def content_words(text: str) -> set[str]:
    """Lower-cased words and numbers of ``text`` without stop words."""
    return {w for w in (t.lower() for t in _TOKEN.findall(text)) if w not in _STOP}


def attribute(
    answer: str,
    question: str,
    passages: Sequence[str],
    sentence_vectors: np.ndarray,
    passage_vectors: np.ndarray,
) -> list[int]:
    """The 1-based numbers of the passages that best support each sentence of ``answer``.

    An answer restates much of its question, so only the words it adds count as evidence;
    a number the answer shares with one passage alone is the strongest sign of its source.
    ``sentence_vectors`` holds one row per item of :func:`sentences` of ``answer``.
    """
    asked = content_words(question)
    words = [content_words(p) for p in passages]
    similarity = sentence_vectors @ passage_vectors.T
    chosen: list[int] = []
    for row, sentence in enumerate(sentences(answer)):
        novel = content_words(sentence) - asked
        if not novel:
            continue

        def weight(w: str) -> float:
            return 3.0 if w[0].isdigit() else 1.0

        total = sum(weight(w) for w in novel)
        scores = [
            sum(weight(w) for w in novel & words[i]) / total + 0.5 * float(similarity[row, i])
            for i in range(len(passages))
        ]
        best = int(np.argmax(scores))
        if best + 1 not in chosen:
            chosen.append(best + 1)
    return chosen
