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

With the records of ``ragkit eval qa --details``, :func:`calibrate_judge` prints the judge
threshold's whole trade-off (abstention on answerable and unanswerable questions, answers
holding a gold answer, wrong answers left unflagged) and the threshold chosen by
leave-one-article-out cross-validation, without running a model again.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ragkit._config import Config
from ragkit._errors import ConfigError
from ragkit._text import content_words
from ragkit._types import Passage
from ragkit.answer._extractive import best_score
from ragkit.answer._prompt import Excerpt, trim_passages, user_message
from ragkit.answer._support import (
    ScoredSentence,
    _weights,
    score_passages,
    support,
)
from ragkit.eval._qa import (
    SquadData,
    SquadQuestion,
    contains_gold,
    indexed,
    mean_or_zero,
    normalize_answer,
    sample_questions,
)
from ragkit.eval._retrieval import _jsonl

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "CalibrationReport",
    "JudgeCalibration",
    "calibrate_judge",
    "evaluate_calibration",
    "load_details",
]

SIMILARITIES = (0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50)
BUDGETS = (120, 220, 320, 480)
PASSAGE_COUNTS = (2, 4, 6)
SUPPORT_THRESHOLDS = (0.55, 0.65, 0.75, 0.85, 0.95)
EXTRACT_SCORES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


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
    extract: list[tuple[float, float, float | None]] = field(default_factory=list)
    """(extract_min_score, share of answerable declined, share of unanswerable declined)."""

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
        for t, a, u in self.extract:
            out.append(
                f"extractive abstains below score {t:.2f}{mark(t, 'extract_min_score')}  "
                f"answerable {a:.3f}  unanswerable {'-' if u is None else f'{u:.3f}'}"
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
            retrieved.append(
                _Retrieved(q, passages, score_passages(q.question, passages, kb._encode_queries))
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
                "extract_min_score": config.extract_min_score,
            },
        )
        report.abstain = _declined(
            retrieved,
            lambda r: max((p.similarity for p in r.passages), default=-1.0),
            sorted({*SIMILARITIES, config.min_similarity}),
        )
        # Extractive answers are quoted only for questions retrieval did not decline.
        kept = [
            r
            for r in retrieved
            if max((p.similarity for p in r.passages), default=-1.0) >= config.min_similarity
        ]
        report.extract = _declined(
            kept,
            lambda r: best_score(r.scored),
            sorted({*EXTRACT_SCORES, config.extract_min_score}),
        )
        answerable = [r for r in retrieved if r.question.answerable]
        report.budget = _budgets(answerable, config, count)
        report.support, report.claims = _support(
            answerable, config, count, kb._encode_queries, random.Random(seed)
        )
    return report


def _declined(
    retrieved: Sequence[_Retrieved],
    score: Callable[[_Retrieved], float],
    thresholds: Sequence[float],
) -> list[tuple[float, float, float | None]]:
    """For each threshold, the share of answerable and of unanswerable questions whose
    ``score`` falls below it."""
    best: dict[bool, list[float]] = {True: [], False: []}
    for r in retrieved:
        best[r.question.answerable].append(score(r))
    rows = []
    for t in thresholds:
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


JUDGE_THRESHOLDS = (-1.0, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5)
# Cross-validation picks the threshold that abstains on the most unanswerable questions while
# abstaining on at most this share of the answerable ones in the other articles.
MAX_ANSWERABLE_ABSTAIN = 0.10


@dataclass(frozen=True)
class _Judged:
    """One question's answer from ``eval qa --details``, as the judge threshold reshapes it."""

    article: str
    answerable: bool
    golds: tuple[str, ...]
    declined: bool
    """The model said it did not know, or nothing was relevant: no threshold changes that."""
    sentences: tuple[tuple[str, float | None], ...]
    """Each sentence's text and judge verdict (``None``: it failed the lexical check)."""

    def outcome(self, threshold: float) -> tuple[bool, bool, bool]:
        """(abstains, holds a gold answer, has a flagged sentence) at ``threshold``."""
        passed = [v is not None and v >= threshold for _, v in self.sentences]
        if self.declined or not any(passed):
            return True, False, False
        gold = contains_gold(" ".join(t for t, _ in self.sentences), self.golds)
        return False, gold, not all(passed)


@dataclass(frozen=True)
class _Climbed:
    """A question as the ladder would answer it at a threshold: the first rung's answer
    when it passes (answered, nothing flagged), else the next rung's."""

    rungs: tuple[_Judged, ...]
    accept: float
    """A lower rung's answer stands only when it passes at this threshold too
    (``Config.escalate_below``)."""

    @property
    def article(self) -> str:
        return self.rungs[0].article

    @property
    def answerable(self) -> bool:
        return self.rungs[0].answerable

    def outcome(self, threshold: float) -> tuple[bool, bool, bool]:
        for rung in self.rungs[:-1]:
            abstains, gold, flagged = rung.outcome(max(threshold, self.accept))
            if not abstains and not flagged:
                return abstains, gold, flagged
        return self.rungs[-1].outcome(threshold)


def _judged(record: dict[str, object]) -> _Judged:
    sentences = record.get("sentences") or []
    assert isinstance(sentences, list)
    golds = record.get("gold") or []
    assert isinstance(golds, list)
    return _Judged(
        article=str(record.get("source", "")).split("#")[0],
        answerable=bool(golds),
        golds=tuple(str(g) for g in golds),
        declined=bool(record.get("abstained")) and not sentences,
        sentences=tuple((str(s["text"]), s.get("verdict")) for s in sentences),
    )


@dataclass
class JudgeCalibration:
    """The judge threshold's trade-off on recorded answers, per pipeline, with the threshold
    cross-validation across articles would choose and what it gives on held-out articles."""

    current: float
    escalate_below: float
    curves: dict[str, list[tuple[float, float, float, float, float]]] = field(default_factory=dict)
    """Per pipeline: (threshold, answerable abstained, unanswerable abstained, answer holds
    gold of answered answerable, unflagged wrong of answered answerable)."""
    held_out: dict[str, tuple[list[float], float, float]] = field(default_factory=dict)
    """Per pipeline: (threshold chosen per held-out article, answerable abstained and
    unanswerable abstained over the held-out articles)."""

    def lines(self) -> list[str]:
        out = [
            f"judge threshold (log-odds of yes), * = current {self.current:+.2f}; "
            f"ladder-replayed = the ladder replayed from each rung alone, a lower rung's "
            f"answer standing at {self.escalate_below:+.2f} or more"
        ]
        for pipeline, rows in self.curves.items():
            for t, a, u, gold, wrong in rows:
                star = "*" if abs(t - self.current) < 1e-9 else " "
                out.append(
                    f"{pipeline} judge {t:+.2f}{star}  abstain answerable {a:.3f}  "
                    f"unanswerable {u:.3f}  answered holding gold {gold:.3f}  "
                    f"unflagged wrong {wrong:.3f}"
                )
            if pipeline in self.held_out:
                chosen, a, u = self.held_out[pipeline]
                picks = ", ".join(f"{t:+.2f}" for t in chosen)
                out.append(
                    f"{pipeline} leave-one-article-out (abstain answerable <= "
                    f"{MAX_ANSWERABLE_ABSTAIN:.2f} in the others): chose {picks}; held out: "
                    f"abstain answerable {a:.3f}  unanswerable {u:.3f}"
                )
        return out


def _curve(
    answers: Sequence[_Judged | _Climbed], thresholds: Sequence[float]
) -> list[tuple[float, float, float, float, float]]:
    rows = []
    for t in thresholds:
        outcomes = [(a, a.outcome(t)) for a in answers]
        answerable = [o for a, o in outcomes if a.answerable]
        unanswerable = [o for a, o in outcomes if not a.answerable]
        answered = [o for o in answerable if not o[0]]
        rows.append(
            (
                t,
                mean_or_zero([o[0] for o in answerable]),
                mean_or_zero([o[0] for o in unanswerable]),
                mean_or_zero([o[1] for o in answered]),
                mean_or_zero([not o[1] and not o[2] for o in answered]),
            )
        )
    return rows


def _leave_one_article_out(
    answers: Sequence[_Judged | _Climbed], thresholds: Sequence[float]
) -> tuple[list[float], float, float] | None:
    articles = sorted({a.article for a in answers})
    if len(articles) < 2:
        return None
    chosen, held = [], []
    for article in articles:
        train = [a for a in answers if a.article != article]
        fits = [row for row in _curve(train, thresholds) if row[1] <= MAX_ANSWERABLE_ABSTAIN]
        # The most unanswerable questions declined; on a tie, the lower threshold.
        best = max(fits, key=lambda row: (row[2], -row[0]), default=None)
        threshold = best[0] if best else min(thresholds)
        chosen.append(threshold)
        held += [(a, a.outcome(threshold)[0]) for a in answers if a.article == article]
    answerable = [d for a, d in held if a.answerable]
    unanswerable = [d for a, d in held if not a.answerable]
    return (
        chosen,
        mean_or_zero(answerable),
        mean_or_zero(unanswerable),
    )


def load_details(path: str | Path) -> list[dict[str, object]]:
    """The records :func:`~ragkit.eval.evaluate_qa` gave its ``details`` callback, as the CLI
    writes them: one JSON object a line."""
    try:
        return list(_jsonl(Path(path)))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the question-answering records ({exc}).") from exc


def calibrate_judge(records: Sequence[dict[str, object]], config: Config) -> JudgeCalibration:
    """The judge threshold's trade-off from ``ragkit eval qa --details`` records: for each
    pipeline whose answers were judged, what each threshold would abstain on and let through,
    and the threshold leave-one-article-out cross-validation picks. With every rung of
    ``Config.ladder`` measured alone (``ragkit:PACK`` pipelines), the ladder is replayed at
    each threshold too; a recorded ``ragkit`` run escalated at its own threshold only."""
    by_pipeline: dict[str, list[_Judged | _Climbed]] = {}
    by_id: dict[str, dict[str, _Judged]] = {}
    for record in records:
        sentences = record.get("sentences") or []
        pipeline = str(record.get("pipeline"))
        if pipeline in ("baseline", "extractive") or not isinstance(sentences, list):
            continue
        judged = _judged(record)
        by_pipeline.setdefault(pipeline, []).append(judged)
        by_id.setdefault(str(record.get("id")), {})[pipeline] = judged
    # The ladder's answers at every threshold, from each rung's answers alone: a recorded
    # ladder run escalated at one threshold only.
    solo = [f"ragkit:{name}" for name in config.ladder]
    if len(solo) > 1 and all(p in by_pipeline for p in solo):
        climbed: list[_Judged | _Climbed] = [
            _Climbed(tuple(found[p] for p in solo), config.escalate_below)
            for found in by_id.values()
            if all(p in found for p in solo)
        ]
        by_pipeline["ladder-replayed"] = climbed
    thresholds = sorted({*JUDGE_THRESHOLDS, config.judge_threshold})
    report = JudgeCalibration(config.judge_threshold, config.escalate_below)
    for pipeline, answers in by_pipeline.items():
        report.curves[pipeline] = _curve(answers, thresholds)
        held = _leave_one_article_out(answers, thresholds)
        if held is not None:
            report.held_out[pipeline] = held
    return report
