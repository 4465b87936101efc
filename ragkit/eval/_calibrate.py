"""`ragkit eval calibrate`: the measurements behind the answer settings, no language model run.

On SQuAD-format data (every paragraph indexed as in `ragkit eval qa`), for a seeded sample of
questions, one run prints:

- **abstention**: for each retrieval-confidence threshold (the best passage's cosine), the
  share of answerable and of unanswerable questions that would be declined without the
  model (``Config.min_similarity``);
- **prompt budget**: for each passage-token budget and passage count, how often a gold
  answer and its source paragraph reach the trimmed prompt, and the user message's mean
  tokens, which set time to first token on a CPU (``context_tokens``, ``prompt_passages``);
- **support check**: a claim made of the question and its gold answer, and a fabricated one
  with the answer swapped for another article's answer, each checked against the passages
  the model would be shown; the share of true claims passed and of fabricated ones flagged
  at each threshold (``support_threshold``).

The generator pack is loaded for its tokenizer only.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ragkit._config import Config
from ragkit._text import content_words
from ragkit._types import Passage
from ragkit.answer._prompt import Excerpt, trim_passages, user_message
from ragkit.answer._support import (
    ScoredSentence,
    _weights,
    score_sentences,
    support,
)
from ragkit.eval._qa import (
    SquadData,
    SquadQuestion,
    indexed,
    normalize_answer,
    sample_questions,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CalibrationReport", "evaluate_calibration"]

SIMILARITIES = (0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50)
BUDGETS = (120, 220, 320, 480)
PASSAGE_COUNTS = (2, 4, 6)
SUPPORT_THRESHOLDS = (0.55, 0.65, 0.75, 0.85, 0.95)


@dataclass
class CalibrationReport:
    """What each candidate abstention threshold, prompt budget and support threshold does on
    one sample of questions; ``current`` holds the configured values."""

    dataset: str
    answerable: int
    unanswerable: int
    seed: int
    current: dict[str, float]
    abstain: list[tuple[float, float, float | None]] = field(default_factory=list)
    """(threshold, share of answerable declined, share of unanswerable declined)."""
    budget: list[tuple[int, int, float, float, float]] = field(default_factory=list)
    """(budget, passages, answer in prompt, source in prompt, mean user-message tokens)."""
    support: list[tuple[float, float, float]] = field(default_factory=list)
    """(threshold, true claims passed, fabricated claims flagged)."""
    claims: int = 0

    def lines(self) -> list[str]:
        """A title line, then one line per figure; ``*`` marks the configured value."""

        def mark(value: float, setting: str) -> str:
            return "*" if abs(value - self.current[setting]) < 1e-9 else " "

        out = [
            f"{self.dataset}: {self.answerable} answerable + {self.unanswerable} unanswerable "
            f"questions (seed {self.seed}); * = current setting"
        ]
        for t, a, u in self.abstain:
            out.append(
                f"abstain below cosine {t:.2f}{mark(t, 'min_similarity')}  answerable "
                f"{a:.3f}  unanswerable {'-' if u is None else f'{u:.3f}'}"
            )
        for b, k, answer, source, tokens in self.budget:
            star = (
                "*"
                if (b, k) == (self.current["context_tokens"], self.current["prompt_passages"])
                else " "
            )
            out.append(
                f"budget {b:>3} tokens, {k} passages{star}  answer in prompt {answer:.3f}  "
                f"source in prompt {source:.3f}  user-message tokens {tokens:.0f}"
            )
        for t, passed, flagged in self.support:
            out.append(
                f"support threshold {t:.2f}{mark(t, 'support_threshold')}  true claims "
                f"passed {passed:.3f}  fabricated flagged {flagged:.3f}  "
                f"({self.claims} pairs)"
            )
        return out


@dataclass
class _Retrieved:
    question: SquadQuestion
    passages: list[Passage]
    scored: list[list[ScoredSentence]]


def evaluate_calibration(
    data: SquadData,
    config: Config,
    *,
    name: str = "dataset",
    n: int = 300,
    seed: int = 0,
    workdir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> CalibrationReport:
    """Index ``data`` into a temporary index and measure the settings on one sample."""
    questions = sample_questions(data.questions, n, seed)
    with indexed(data, config, workdir, progress) as kb:
        retrieved = []
        for done, q in enumerate(questions, start=1):
            passages = kb.search(q.question, k=config.ask_passages)
            texts = [p.text for p in passages]
            retrieved.append(
                _Retrieved(q, passages, score_sentences(q.question, texts, kb.encoder.encode))
            )
            if progress:
                progress("retrieving", done, len(questions))
        count = kb.generator.count_tokens
        report = CalibrationReport(
            name,
            sum(q.answerable for q in questions),
            sum(not q.answerable for q in questions),
            seed,
            {
                "min_similarity": config.min_similarity,
                "context_tokens": config.context_tokens,
                "prompt_passages": config.prompt_passages,
                "support_threshold": config.support_threshold,
            },
        )
        report.abstain = _abstention(retrieved, config)
        answerable = [r for r in retrieved if r.question.answerable]
        report.budget = _budgets(answerable, config, count)
        report.support, report.claims = _support(
            answerable, config, count, kb.encoder.encode, random.Random(seed)
        )
    return report


def _abstention(
    retrieved: Sequence[_Retrieved], config: Config
) -> list[tuple[float, float, float | None]]:
    best: dict[bool, list[float]] = {True: [], False: []}
    for r in retrieved:
        best[r.question.answerable].append(max((p.similarity for p in r.passages), default=-1.0))
    rows = []
    for t in sorted({*SIMILARITIES, config.min_similarity}):
        declined = {k: statistics.fmean(s < t for s in v) if v else None for k, v in best.items()}
        rows.append((t, declined[True] or 0.0, declined[False]))
    return rows


def _trim(
    r: _Retrieved, config: Config, count: Callable[[str], int], budget: int, passages: int
) -> list[Excerpt]:
    return trim_passages(
        r.passages,
        r.scored,
        budget=budget,
        max_passages=passages,
        per_passage=config.passage_sentences,
        count_tokens=count,
    )


def _holds_answer(text: str, answers: Sequence[str]) -> bool:
    haystack = normalize_answer(text)
    return any(normalize_answer(a) and normalize_answer(a) in haystack for a in answers)


def _budgets(
    answerable: Sequence[_Retrieved], config: Config, count: Callable[[str], int]
) -> list[tuple[int, int, float, float, float]]:
    settings = {(b, k) for b in BUDGETS for k in PASSAGE_COUNTS}
    settings.add((config.context_tokens, config.prompt_passages))
    rows = []
    for budget, passages in sorted(settings):
        answer, source, tokens = [], [], []
        for r in answerable:
            shown = [e.passage for e in _trim(r, config, count, budget, passages)]
            answer.append(any(_holds_answer(p.text, r.question.answers) for p in shown))
            source.append(any(p.path == r.question.source for p in shown))
            tokens.append(count(user_message(r.question.question, shown)))
        if tokens:
            rows.append(
                (
                    budget,
                    passages,
                    statistics.fmean(answer),
                    statistics.fmean(source),
                    statistics.fmean(tokens),
                )
            )
    return rows


def _support(
    answerable: Sequence[_Retrieved],
    config: Config,
    count: Callable[[str], int],
    encode: Callable[[Sequence[str]], np.ndarray],
    rng: random.Random,
) -> tuple[list[tuple[float, float, float]], int]:
    """Support of true and fabricated claims as :func:`check_claims` scores them: the best of
    the passages shown, since a supporting passage is cited when the model cited none."""
    pairs: list[tuple[str, str, _Retrieved, list[Excerpt]]] = []
    for r in answerable:
        shown = _trim(r, config, count, config.context_tokens, config.prompt_passages)
        if not any(_holds_answer(e.passage.text, r.question.answers) for e in shown):
            continue
        gold = r.question.answers[0]
        evidence = " ".join(e.passage.text for e in shown)
        fake = _fabricate(gold, r.question.source, answerable, evidence, rng)
        if fake is None:
            continue
        stem = r.question.question.strip().rstrip("?").strip()
        pairs.append((f"{stem}: {gold}.", f"{stem}: {fake}.", r, shown))
    if not pairs:
        return [], 0
    vectors = encode([claim for pair in pairs for claim in pair[:2]])
    true_scores: list[float] = []
    fake_scores: list[float] = []
    for i, (true, fake, r, shown) in enumerate(pairs):
        asked = content_words(r.question.question)
        for claim, vector, scores in (
            (true, vectors[2 * i], true_scores),
            (fake, vectors[2 * i + 1], fake_scores),
        ):
            scores.append(max(support(_weights(claim, asked), vector, e.sentences) for e in shown))
    rows = [
        (
            t,
            statistics.fmean(s >= t for s in true_scores),
            statistics.fmean(s < t for s in fake_scores),
        )
        for t in sorted({*SUPPORT_THRESHOLDS, config.support_threshold})
    ]
    return rows, len(pairs)


def _fabricate(
    gold: str, source: str, answerable: Sequence[_Retrieved], evidence: str, rng: random.Random
) -> str | None:
    """A wrong answer the passages shown do not hold: the gold answer with every digit
    shifted, or, without digits, an answer to a question on another article."""
    if any(c.isdigit() for c in gold):
        return "".join(str((int(c) + 3) % 10) if c.isdigit() else c for c in gold)
    article = source.split("#")[0]
    haystack = normalize_answer(evidence)
    others = [
        a
        for o in answerable
        if o.question.source.split("#")[0] != article
        for a in o.question.answers
        if normalize_answer(a) not in haystack
    ]
    return rng.choice(others) if others else None
