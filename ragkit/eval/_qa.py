"""`ragkit eval qa`: answer quality, citations, abstention and speed on SQuAD-format data.

Every paragraph of the data set is indexed as a document (``Title#p12``), a seeded sample of
questions is asked, and each pipeline answers the same questions in the same run:

- ``ragkit``: :meth:`Assistant.ask` as a user gets it (trimmed prompt, checked citations,
  abstention) with the configured model (``auto``, the ladder, by default);
- ``ragkit:PACK``: the same with one generator pack alone (no ladder), e.g. each rung;
- ``baseline``: the naive recipe: the top-5 raw chunks stuffed into a plain prompt, no
  trimming, no worked example, no abstention threshold, the model's own markers taken as
  they are;
- ``extractive``: :meth:`Assistant.ask` with ``mode="extractive"`` (no language model).

The model pipelines alternate question by question, each on its own llama.cpp instances, so
each keeps its own KV prefix and all see the same machine load. ``details`` receives one
JSON line per question and pipeline, so any figure can be audited.
"""

from __future__ import annotations

import collections
import contextlib
import json
import random
import re
import statistics
import string
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ragkit._config import LADDERS, Config
from ragkit._errors import ConfigError
from ragkit._types import Answer, IngestProgress
from ragkit.answer._prompt import is_abstention, parse_citations, user_message
from ragkit.answer._support import MARKER
from ragkit.eval._retrieval import percentile
from ragkit.models._generator import Generator

if TYPE_CHECKING:
    from ragkit._assistant import Assistant

__all__ = [
    "PIPELINES",
    "QaReport",
    "QaRow",
    "SquadData",
    "SquadQuestion",
    "contains_gold",
    "default_pipelines",
    "evaluate_qa",
    "exact_match",
    "indexed",
    "load_squad",
    "mean_or_zero",
    "normalize_answer",
    "sample_questions",
    "token_f1",
]

PIPELINES = ("ragkit", "baseline", "extractive")
"""The fixed pipelines; ``ragkit:PACK`` names ragkit with one generator pack alone."""

BASELINE_SYSTEM = (
    "Answer the question using the passages below. Cite the passages you use as [1], [2], etc. "
    "If the passages do not contain the answer, say that you don't know."
)
BASELINE_PASSAGES = 5


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    """Gold answers; empty for an unanswerable question."""
    source: str
    """The paragraph the question was written on, as indexed: ``Title#p12``."""

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True)
class SquadData:
    """A SQuAD-format data set: its paragraphs to index and its questions."""

    paragraphs: list[tuple[str, str, str]]
    """``(source, text, title)`` for every paragraph."""
    questions: list[SquadQuestion]


def load_squad(path: str | Path) -> SquadData:
    """Read a SQuAD v1.1 or v2.0 JSON file (v2's ``is_impossible`` questions have no answers)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        articles = data["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a SQuAD JSON file ({exc}).") from exc
    paragraphs, questions = [], []
    for article in articles:
        title = str(article.get("title", "")).replace("_", " ")
        for i, paragraph in enumerate(article.get("paragraphs", [])):
            source = f"{article.get('title', '')}#p{i}"
            paragraphs.append((source, paragraph["context"], title))
            for qa in paragraph.get("qas", []):
                answers = (
                    ()
                    if qa.get("is_impossible")
                    else tuple(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                )
                questions.append(SquadQuestion(str(qa["id"]), qa["question"], answers, source))
    if not questions:
        raise ConfigError(f"{path}: holds no questions.")
    return SquadData(paragraphs, questions)


_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(c for c in text.lower() if c not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def contains_gold(answer: str, golds: Sequence[str]) -> bool:
    """Whether a normalised gold answer appears, as whole words, in the normalised answer
    (its ``[n]`` markers left out)."""
    said = f" {normalize_answer(MARKER.sub('', answer))} "
    return any(f" {normalize_answer(g)} " in said for g in golds)


def mean_or_zero(values: Sequence[float]) -> float:
    """The mean of ``values`` (of booleans: the share that hold), 0.0 when there are none."""
    return statistics.fmean(values) if values else 0.0


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """The best token-overlap F1 of ``prediction`` against any gold answer (SQuAD's)."""
    best = 0.0
    predicted = normalize_answer(prediction).split()
    for gold in golds:
        expected = normalize_answer(gold).split()
        if not predicted or not expected:
            best = max(best, float(predicted == expected))
            continue
        common = sum((collections.Counter(predicted) & collections.Counter(expected)).values())
        if common:
            precision, recall = common / len(predicted), common / len(expected)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


@dataclass
class _Result:
    question: SquadQuestion
    text: str
    abstained: bool
    cited: set[str]
    given: set[str]
    prompt_tokens: int
    ttft: float | None
    tokens_per_s: float | None
    flagged: bool = False
    """Some sentence of the answer failed its check (shown with a warning)."""
    model: str | None = None
    escalated: bool = False
    answer: Answer | None = None

    @property
    def prediction(self) -> str:
        return "" if self.abstained else MARKER.sub("", self.text).strip()

    @property
    def contains_gold(self) -> bool:
        return contains_gold(self.prediction, self.question.answers)

    def details(self, pipeline: str) -> dict[str, object]:
        """One JSON line of ``--details``: everything a figure is computed from."""
        sentences = self.answer.sentences if self.answer is not None else ()
        return {
            "pipeline": pipeline,
            "id": self.question.id,
            "question": self.question.question,
            "gold": list(self.question.answers),
            "source": self.question.source,
            "answer": self.text,
            "abstained": self.abstained,
            "cited": sorted(self.cited),
            "given": sorted(self.given),
            "sentences": [
                {
                    "text": s.text,
                    "citations": list(s.citations),
                    "support": round(s.support, 4),
                    "verdict": None if s.verdict is None else round(s.verdict, 4),
                    "supported": s.supported,
                }
                for s in sentences
            ],
            "flagged": self.flagged,
            "model": self.model,
            "escalated": self.escalated,
            "f1": token_f1(self.prediction, self.question.answers)
            if self.question.answerable
            else None,
            "contains_gold": self.contains_gold if self.question.answerable else None,
            "ttft": self.ttft,
            "prompt_tokens": self.prompt_tokens,
        }


@dataclass(frozen=True)
class QaRow:
    """One pipeline's figures (``None`` where a figure does not apply)."""

    pipeline: str
    exact_match: float
    f1: float
    citation_hit: float
    """Share of answered answerable questions citing their source paragraph."""
    source_in_prompt: float
    """Share of answerable questions whose source paragraph was among the passages given."""
    abstain_unanswerable: float | None
    abstain_answerable: float
    ttft_p50: float | None
    ttft_p95: float | None
    tokens_per_s: float | None
    prompt_tokens: float | None
    contains_gold: float = 0.0
    """Share of answerable questions whose answer contains a (normalised) gold answer."""
    unflagged_wrong: float = 0.0
    """Share of answered answerable questions answered without any gold answer and without
    any sentence flagged: wrong answers that look checked."""
    escalated: float | None = None
    """Share of questions a model answered where a larger model took over."""


@dataclass
class QaReport:
    """Answer quality, citations, abstention and speed of each pipeline on one sample."""

    dataset: str
    paragraphs: int
    answerable: int
    unanswerable: int
    seed: int
    rows: list[QaRow] = field(default_factory=list)

    _FIGURES = (
        ("exact match (answerable)", "exact_match", "{:.3f}"),
        ("token F1 (answerable)", "f1", "{:.3f}"),
        ("answer contains gold (answerable)", "contains_gold", "{:.3f}"),
        ("unflagged wrong (answered answerable)", "unflagged_wrong", "{:.3f}"),
        ("citation hit (answered answerable)", "citation_hit", "{:.3f}"),
        ("source paragraph in prompt", "source_in_prompt", "{:.3f}"),
        ("abstain on unanswerable", "abstain_unanswerable", "{:.3f}"),
        ("abstain on answerable", "abstain_answerable", "{:.3f}"),
        ("time to first token p50 (s)", "ttft_p50", "{:.2f}"),
        ("time to first token p95 (s)", "ttft_p95", "{:.2f}"),
        ("escalated to a larger model", "escalated", "{:.3f}"),
        ("generation tokens/s", "tokens_per_s", "{:.1f}"),
        ("mean prompt tokens", "prompt_tokens", "{:.0f}"),
    )

    def lines(self) -> list[str]:
        """A title line, then one line per figure with every pipeline side by side."""
        out = [
            f"{self.dataset}: {self.paragraphs} paragraphs indexed; {self.answerable} "
            f"answerable + {self.unanswerable} unanswerable questions (seed {self.seed})"
        ]
        for label, name, fmt in self._FIGURES:
            values = []
            for row in self.rows:
                value = getattr(row, name)
                values.append(f"{row.pipeline} {'-' if value is None else fmt.format(value):>6}")
            out.append(f"{label:<38} " + "   ".join(values))
        return out


def sample_questions(questions: Sequence[SquadQuestion], n: int, seed: int) -> list[SquadQuestion]:
    """Up to ``n`` answerable and ``n`` unanswerable questions, drawn separately with
    ``seed``, in one seeded shuffled order."""
    rng = random.Random(seed)
    answerable = [q for q in questions if q.answerable]
    unanswerable = [q for q in questions if not q.answerable]
    chosen = rng.sample(answerable, min(n, len(answerable)))
    chosen += rng.sample(unanswerable, min(n, len(unanswerable)))
    rng.shuffle(chosen)
    return chosen


def _timed(
    pieces: Iterator[str], count_tokens: Callable[[str], int], started: float
) -> tuple[str, float | None, float | None]:
    """Consume a stream: its text, seconds from ``started`` (when the question was asked) to
    its first piece, and generated tokens per second."""
    first = ended = None
    text = []
    for piece in pieces:
        # The last piece's time, not the stream's end: checks run after the last piece.
        ended = time.perf_counter()
        if first is None:
            first = ended
        text.append(piece)
    written = "".join(text)
    if first is None or ended is None:
        return written, None, None
    tokens = count_tokens(written)
    rate = (tokens - 1) / (ended - first) if tokens > 1 and ended > first else None
    return written, first - started, rate


@contextlib.contextmanager
def indexed(
    data: SquadData,
    config: Config,
    workdir: Path | None,
    progress: Callable[[str, int, int], None] | None,
) -> Iterator[Assistant]:
    """An assistant over a temporary index holding every paragraph of ``data``."""
    from ragkit._assistant import Assistant

    def tick(p: IngestProgress) -> None:
        if progress:
            progress("indexing paragraphs", p.files_done, p.files_total)

    with (
        tempfile.TemporaryDirectory(prefix="ragkit-eval-qa-", dir=workdir) as tmp,
        Assistant(Path(tmp) / "qa.db", config) as kb,
    ):
        kb.add_texts(data.paragraphs, progress=tick)
        yield kb


def default_pipelines(config: Config) -> list[str]:
    """ragkit as configured, the ladder climbed and each of its generators alone (those
    that are not what ragkit is configured with), the baseline, extractive."""
    if config.generator not in LADDERS or len(config.ladder) < 2:
        variants = []
    else:
        alone = [f"ragkit:{name}" for name in config.ladder]
        configured = "ragkit:ladder" if config.generator == "ladder" else alone[-1]
        variants = [p for p in ["ragkit:ladder", *alone] if p != configured]
    return ["ragkit", *variants, "baseline", "extractive"]


def _check_pipelines(pipelines: Sequence[str]) -> None:
    unknown = [p for p in pipelines if p not in PIPELINES and not p.startswith("ragkit:")]
    if unknown:
        raise ConfigError(
            f"unknown pipeline(s) {unknown}; choose from {', '.join(PIPELINES)} or ragkit:PACK "
            "(ragkit with one generator pack alone)."
        )


def evaluate_qa(
    data: SquadData,
    config: Config,
    *,
    name: str = "dataset",
    n: int = 200,
    seed: int = 0,
    pipelines: Sequence[str] = PIPELINES,
    workdir: Path | None = None,
    details: Callable[[dict[str, object]], None] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> QaReport:
    """Index ``data`` into a temporary index and measure each pipeline on one sample;
    ``details`` receives one record per question and pipeline."""
    from ragkit._assistant import Assistant

    _check_pipelines(pipelines)
    questions = sample_questions(data.questions, n, seed)
    results: dict[str, list[_Result]] = {p: [] for p in pipelines}
    with indexed(data, config, workdir, progress) as kb, contextlib.ExitStack() as stack:
        # Each ragkit pipeline gets its own Assistant (and so its own llama.cpp instances and
        # KV prefixes) over the one index and encoder.
        assistants = {
            p: kb
            if p == "ragkit"
            else stack.enter_context(
                Assistant(
                    kb.db_path,
                    config.replace(generator=p.removeprefix("ragkit:")),
                    encoder=kb.encoder,
                )
            )
            for p in pipelines
            if p.startswith("ragkit")
        }
        baseline = None
        if "baseline" in pipelines:
            # Its own llama.cpp instance keeps its own KV prefix (the weights are mmapped once).
            baseline = Generator(
                kb.packs.get(kb.ladder()[0], "generator"),
                n_ctx=config.n_ctx,
                threads=config.n_threads,
            )
        for done, question in enumerate(questions, start=1):
            for pipeline in pipelines:
                if pipeline in assistants:
                    result = _ask_ragkit(assistants[pipeline], question)
                elif pipeline == "baseline" and baseline is not None:
                    result = _ask_baseline(kb, baseline, question, config)
                else:
                    answer = kb.ask(question.question, mode="extractive")
                    result = _result(question, answer, None, None)
                results[pipeline].append(result)
                if details:
                    details(result.details(pipeline))
            if progress:
                progress("asking", done, len(questions))
    report = QaReport(
        name,
        len(data.paragraphs),
        sum(q.answerable for q in questions),
        sum(not q.answerable for q in questions),
        seed,
    )
    report.rows = [_row(p, results[p]) for p in pipelines]
    return report


def _ask_ragkit(kb: Assistant, question: SquadQuestion) -> _Result:
    started = time.perf_counter()
    stream = kb.ask_stream(question.question)
    count = kb.generator.count_tokens if kb.ladder() else len
    _, ttft, rate = _timed(iter(stream), count, started)
    answer = stream.answer
    called = answer.model is not None
    # A lower rung's answer is shown whole once checked: no writing speed to measure.
    streamed = called and answer.model == kb.ladder()[-1]
    return _result(question, answer, ttft if called else None, rate if streamed else None)


def _result(
    question: SquadQuestion, answer: Answer, ttft: float | None, rate: float | None
) -> _Result:
    return _Result(
        question,
        answer.text,
        answer.abstained,
        {c.path for c in answer.citations},
        {p.path for p in answer.passages},
        answer.prompt_tokens,
        ttft,
        rate,
        flagged=bool(answer.unsupported),
        model=answer.model,
        escalated=answer.escalated,
        answer=answer,
    )


def _ask_baseline(
    kb: Assistant, generator: Generator, question: SquadQuestion, config: Config
) -> _Result:
    started = time.perf_counter()
    passages = kb.search(question.question, k=BASELINE_PASSAGES)
    messages = [
        {"role": "system", "content": BASELINE_SYSTEM},
        {"role": "user", "content": user_message(question.question, passages)},
    ]
    pieces = generator.stream(
        messages, max_tokens=config.max_answer_tokens, temperature=config.temperature
    )
    text, ttft, rate = _timed(pieces, generator.count_tokens, started)
    cited = {passages[n - 1].path for n in parse_citations(text) if 1 <= n <= len(passages)}
    return _Result(
        question,
        text,
        is_abstention(text),
        cited,
        {p.path for p in passages},
        generator.prompt_tokens(messages),
        ttft,
        rate,
        model=generator.name,
    )


def _row(pipeline: str, results: list[_Result]) -> QaRow:
    answerable = [r for r in results if r.question.answerable]
    unanswerable = [r for r in results if not r.question.answerable]
    answered = [r for r in answerable if not r.abstained]
    modelled = [r for r in results if r.model is not None]

    ttfts = [r.ttft for r in results if r.ttft is not None]
    rates = [r.tokens_per_s for r in results if r.tokens_per_s is not None]
    prompts = [r.prompt_tokens for r in results if r.prompt_tokens]
    return QaRow(
        pipeline=pipeline,
        exact_match=mean_or_zero(
            [exact_match(r.prediction, r.question.answers) for r in answerable]
        ),
        f1=mean_or_zero([token_f1(r.prediction, r.question.answers) for r in answerable]),
        citation_hit=mean_or_zero([float(r.question.source in r.cited) for r in answered]),
        source_in_prompt=mean_or_zero([float(r.question.source in r.given) for r in answerable]),
        abstain_unanswerable=mean_or_zero([float(r.abstained) for r in unanswerable])
        if unanswerable
        else None,
        abstain_answerable=mean_or_zero([float(r.abstained) for r in answerable]),
        ttft_p50=percentile(ttfts, 0.5) if ttfts else None,
        ttft_p95=percentile(ttfts, 0.95) if ttfts else None,
        tokens_per_s=statistics.median(rates) if rates else None,
        prompt_tokens=mean_or_zero(prompts) if prompts else None,
        contains_gold=mean_or_zero([float(r.contains_gold) for r in answerable]),
        unflagged_wrong=mean_or_zero(
            [float(not r.contains_gold and not r.flagged) for r in answered]
        ),
        escalated=mean_or_zero([float(r.escalated) for r in modelled]) if modelled else None,
    )
