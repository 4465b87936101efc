"""Sentences, their relevance to a question, and how well passages support an answer's claims.

Everything here is plain logic over texts and vectors; the encoder is passed in as a
function, so the Assistant decides when a model runs and tests can use a stand-in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ragkit._language import stopwords
from ragkit._text import STOPWORDS, content_words, sentences, stem, words
from ragkit._types import AnswerSentence, Passage

__all__ = [
    "MARKER",
    "VERBATIM_SUPPORT",
    "Encode",
    "ScoredSentence",
    "answer_sentences",
    "check_claims",
    "is_heading",
    "marker_numbers",
    "passage_sentences",
    "score_sentences",
    "support",
]

Encode = Callable[[Sequence[str]], np.ndarray]
"""Texts to L2-normalised vectors, one row each (``Encoder.encode``)."""

# A line that starts a list item, a heading or a numbered clause begins a new sentence even
# when the line before it has no full stop.
_ITEM = re.compile(r"^\s*(?:[-*•+]\s|#{1,6}\s|\d+(?:\.\d+)+\s|\d+[.)]\s|\(?[a-z0-9]\)\s)")
_RULE = re.compile(r"^[-=_+| ]{3,}$")
# Question words weigh this much against the encoder's cosine when ranking sentences: a
# sentence that repeats the question's rare words is usually the one that answers it.
_OVERLAP_WEIGHT = 0.5
# In a claim's support, the encoder's cosine counts this much beside word coverage.
_COSINE_WEIGHT = 0.5
VERBATIM_SUPPORT = 1.0 + _COSINE_WEIGHT
"""The support of a sentence quoted from the passage itself: every word, cosine 1."""


def passage_sentences(text: str) -> list[str]:
    """The sentences of a passage, undoing hard line wraps (PDF text) but keeping list
    items, headings, title lines and table rows apart."""
    blocks: list[list[str]] = []
    previous = ""
    table = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            previous, table = "", False
            continue
        if _RULE.match(stripped):
            # A ruled table: each row below the rule is a record of its own.
            previous, table = "", True
            continue
        if not blocks or not previous or table or is_heading(previous) or _ITEM.match(line):
            blocks.append([])
        blocks[-1].append(stripped)
        previous = stripped
    found = []
    for block in blocks:
        found.extend(sentences(" ".join(block).lstrip("#-*•+ ")))
    return found


def is_heading(line: str) -> bool:
    """Whether ``line`` reads as a heading: Markdown ``#`` or Title Case without a stop.

    PDF text wraps lines mid-sentence; this is how a title line is told apart.
    """
    if line.startswith("#"):
        return True
    lettered = [w for w in words(line) if w.isalpha()]
    long_words = [w for w in lettered if len(w) > 3]
    # One capitalised long word among short ones ("The Landlord may") is a wrapped sentence.
    enough = len(long_words) >= 2 or len(lettered) <= 2
    return (
        bool(long_words)
        and enough
        and line[-1] not in ".,;:!?"
        and all(w[0].isupper() for w in long_words)
    )


@dataclass(frozen=True)
class ScoredSentence:
    """One sentence of a passage with its relevance to the question."""

    passage: int
    """Index of the passage in the list that was scored."""
    position: int
    """Index of the sentence within its passage."""
    text: str
    score: float
    """Encoder cosine to the question plus a share of the question's words it contains."""
    vector: np.ndarray = field(repr=False, compare=False)


def score_sentences(
    question: str,
    passages: Sequence[str],
    encode: Encode,
    known: Sequence[str] = (),
    stop: frozenset[str] = STOPWORDS,
) -> list[list[ScoredSentence]]:
    """Every sentence of every passage, scored against ``question`` (one list per passage).

    ``known`` holds, per passage, what names its document and section (title, heading): a
    question's words found there say which document it is about, not which sentence
    answers it, so within that passage they earn no overlap (else "Riverbend Family Clinic
    - Staff Handbook" outranks "Friday: 8:00 a.m. to 4:00 p.m." for "When does Riverbend
    Family Clinic close on Fridays?"). ``stop`` holds the stop words of the passages'
    languages, which earn nothing."""
    split = [passage_sentences(p) or [p.strip()] for p in passages]
    flat = [s for group in split for s in group]
    vectors = encode([question, *flat])
    cosines = vectors[1:] @ vectors[0]
    asked = content_words(question, stop)
    scored: list[list[ScoredSentence]] = []
    row = 0
    for i, group in enumerate(split):
        scored.append([])
        distinctive = asked - content_words(known[i], stop) if i < len(known) else asked
        for j, text in enumerate(group):
            overlap = len(content_words(text, stop) & distinctive) / max(1, len(distinctive))
            score = float(cosines[row]) + _OVERLAP_WEIGHT * overlap
            scored[i].append(ScoredSentence(i, j, text, score, vectors[row + 1]))
            row += 1
    return scored


def score_passages(
    question: str, passages: Sequence[Passage], encode: Encode
) -> list[list[ScoredSentence]]:
    """:func:`score_sentences` of retrieved passages, each known by its title and heading."""
    return score_sentences(
        question,
        [p.text for p in passages],
        encode,
        [f"{p.title}\n{p.heading or ''}" for p in passages],
        stopwords(p.language for p in passages),
    )


def _weights(text: str, exclude: set[str], stop: frozenset[str] = STOPWORDS) -> dict[str, float]:
    """The content words of ``text`` not in ``exclude``, weighted by how much a wrong one
    costs: numbers 3, names (capitalised inside the sentence) 2, other words 1."""
    weights: dict[str, float] = {}
    for i, token in enumerate(words(text)):
        word = token.lower()
        if word in stop or stem(word) in exclude:
            continue
        weight = 3.0 if token[0].isdigit() else 2.0 if i and token[0].isupper() else 1.0
        weights[stem(word)] = max(weight, weights.get(stem(word), 0.0))
    return weights


def support(
    claim: dict[str, float], vector: np.ndarray, evidence: Sequence[ScoredSentence]
) -> float:
    """How well ``evidence`` (a passage's sentences) backs a claim.

    ``claim`` holds the claim's novel words (those not already in the question) with their
    weights; the support is the weighted share of them found in the passage plus half the
    encoder cosine of the claim (``vector``) to its closest sentence there. A claim that
    adds no word to its question asserts nothing new and is fully covered.
    """
    words = set().union(*(content_words(s.text) for s in evidence)) if evidence else set()
    total = sum(claim.values())
    covered = sum(w for word, w in claim.items() if word in words) / total if total else 1.0
    closest = max((float(vector @ s.vector) for s in evidence), default=0.0)
    return covered + _COSINE_WEIGHT * closest


def check_claims(
    answer: str,
    question: str,
    evidence: Sequence[Sequence[ScoredSentence]],
    encode: Encode,
    *,
    threshold: float,
    stop: frozenset[str] = STOPWORDS,
) -> list[AnswerSentence]:
    """Split ``answer`` into sentences and check each against the passages it cites.

    ``evidence[i]`` holds the sentences passage ``i + 1`` showed the model. A sentence keeps
    the model's citations when one of them supports it; otherwise (no marker, or markers to
    passages that do not back it while another does) the best supporting passage is cited
    instead and the sentence is marked ``inferred``. ``supported`` is whether the support
    reaches ``threshold``.

    An answer none of whose sentences adds a word to the question answers nothing, however
    well the passages cover it ("Welche Hymne schrieb Luther?" answered "Luthers Hymne.",
    XQuAD): its sentences are all unsupported. One such sentence beside others that do add
    something restates the question and stays covered. ``stop`` holds the stop words of the
    passages' languages, which claim nothing.
    """
    parts = answer_sentences(answer)
    if not parts or not evidence:
        return []
    texts = [text for text, _ in parts]
    vectors = encode(texts)
    asked = content_words(question, stop)
    claims = [_weights(text, asked, stop) for text in texts]
    answers = any(claims)
    checked = []
    for (text, markers), vector, novel in zip(parts, vectors, claims, strict=True):
        scores = [support(novel, vector, passage) if answers else 0.0 for passage in evidence]
        given = [n for n in markers if 1 <= n <= len(evidence)]
        best_given = max((scores[n - 1] for n in given), default=-1.0)
        best = int(np.argmax(scores)) + 1
        if given and (best_given >= threshold or scores[best - 1] < threshold):
            checked.append(
                AnswerSentence(
                    text=text,
                    citations=tuple(given),
                    support=best_given,
                    supported=best_given >= threshold,
                )
            )
        else:
            score = scores[best - 1]
            checked.append(
                AnswerSentence(
                    text=text,
                    citations=(best,),
                    support=score,
                    supported=score >= threshold,
                    inferred=True,
                )
            )
    return checked


MARKER = re.compile(r"(\s*)\[(\d+(?:\s*,\s*\d+)*)\]")
"""A ``[n]`` or ``[n, m]`` citation marker: group 1 the space before it, group 2 the numbers."""
_LEADING_MARKERS = re.compile(r"(?:\s*\[\d+(?:\s*,\s*\d+)*\])+[\s.]*")
# Markers written as a list ("[1], [2] and [3]"): removed whole, or their commas would stay.
_MARKER_RUN = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\](?:\s*(?:,|and|&)?\s*\[\d+(?:\s*,\s*\d+)*\])*")


def marker_numbers(text: str) -> list[int]:
    """Every number in the ``[n]`` markers of ``text``, in order, repeats included."""
    return [int(n) for m in MARKER.finditer(text) for n in m.group(2).split(",")]


def answer_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """The sentences of an answer, each without its ``[n]`` markers and with their numbers.

    A marker written after the full stop ("... in 1974. [1]") belongs to the sentence before.
    A line break ends a sentence even without a full stop (models write one claim a line),
    and a number cited twice is listed once.
    """
    found: list[tuple[str, list[int]]] = []
    for piece in (s for line in answer.splitlines() for s in sentences(line)):
        lead = _LEADING_MARKERS.match(piece)
        if found and lead:
            cited = found[-1][1]
            cited.extend(n for n in dict.fromkeys(marker_numbers(lead.group(0))) if n not in cited)
            piece = piece[lead.end() :]
        text = re.sub(r"\s+([.,;:!?])", r"\1", _MARKER_RUN.sub("", piece)).strip()
        if re.search(r"\w", text):
            found.append((text, list(dict.fromkeys(marker_numbers(piece)))))
    return found
