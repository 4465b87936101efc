"""`ragkit eval samples`: per sample question, is its source retrieved, and cited by each answer?

A questions file holds one JSON object a line: ``question``, ``source`` (the file name that
answers it), optionally ``page`` and ``answer`` (``samples/questions.jsonl`` is the demo's).
Each question is asked of an index of the questions' corpus three ways:

- retrieval: is the source file (and page, when given) among the ``Config.ask_passages``
  passages :meth:`Assistant.search` returns? No language model runs, so the test suite
  gates on this;
- generate: does the answer :meth:`Assistant.ask` writes with the generator cite it, or
  does the model abstain? This depends on the model and, for a greedy small model, on the
  CPU's arithmetic: a figure to watch, not a verdict;
- extractive: does ``mode="extractive"`` (quoted sentences, no model) cite it?
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ragkit._errors import ConfigError
from ragkit.eval._qa import contains_gold, mean_or_zero

if TYPE_CHECKING:
    from ragkit._assistant import Assistant

__all__ = ["SampleQuestion", "SampleResult", "SamplesReport", "evaluate_samples", "load_samples"]


@dataclass(frozen=True)
class SampleQuestion:
    """A question and the file (and page) that answers it."""

    question: str
    source: str
    """The file name (not a path) of the document that answers it."""
    page: int | None = None
    answer: str | None = None
    """The expected answer, for people reading the report."""

    def found_in(self, located: Iterable[tuple[str, int | None]]) -> bool:
        """Whether ``(path, page)`` pairs include this question's source (and page)."""
        return any(
            Path(path).name == self.source and (self.page is None or page == self.page)
            for path, page in located
        )


def load_samples(path: str | Path) -> list[SampleQuestion]:
    """Read a questions file: JSON lines with ``question``, ``source``, optional ``page``."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the questions file ({exc.strerror or exc})."
        ) from exc
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            questions.append(
                SampleQuestion(
                    question=str(item["question"]),
                    source=str(item["source"]),
                    page=None if item.get("page") is None else int(item["page"]),
                    answer=None if item.get("answer") is None else str(item["answer"]),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f'{path}, line {number}: not a question object with "question" and '
                f'"source" ({exc}).'
            ) from exc
    if not questions:
        raise ConfigError(f"{path}: holds no questions.")
    return questions


@dataclass(frozen=True)
class SampleResult:
    """How one question fared."""

    question: str
    source: str
    page: int | None
    retrieved: bool
    """The source was among the passages searched for the question."""
    generated_cites: bool
    """The generated answer cites the source."""
    abstained: bool
    """The generated answer declined (the model, or ragkit finding nothing relevant)."""
    extractive_cites: bool
    """The extractive answer cites the source."""
    answer: str
    """The generated answer's text."""
    holds_answer: bool | None = None
    """The generated answer contains the expected answer (normalised as SQuAD does);
    ``None`` when the question gives none."""
    model: str | None = None
    """The generator that wrote the answer."""
    escalated: bool = False


@dataclass
class SamplesReport:
    """Every question's result and the shares over all of them."""

    questions: str
    """Where the questions came from."""
    generator: str
    passages: int
    """How many passages were searched per question (``Config.ask_passages``)."""
    results: list[SampleResult] = field(default_factory=list)
    retrieval_hit: float = 0.0
    generate_citation_hit: float = 0.0
    generate_answer_hit: float = 0.0
    """Share of questions with an expected answer whose generated answer contains it."""
    generate_both: int = 0
    """Questions answered citing the source and containing the expected answer."""
    extractive_citation_hit: float = 0.0
    abstentions: int = 0
    escalations: int = 0

    def lines(self) -> list[str]:
        """A title, one line per question, then one line per figure."""

        def mark(hit: bool) -> str:
            return "yes" if hit else "no "

        n = len(self.results)
        out = [
            f"{self.questions}: {n} questions, {self.passages} passages searched each, "
            f"generator {self.generator}"
        ]
        for r in self.results:
            where = f"{r.source}" + (f" p. {r.page}" if r.page is not None else "")
            generated = "abstained" if r.abstained else f"cites {mark(r.generated_cites)}"
            holds = "-  " if r.holds_answer is None else mark(r.holds_answer)
            by = f"{r.model}{' (escalated)' if r.escalated else ''}" if r.model else "no model"
            out.append(
                f"retrieved {mark(r.retrieved)}  generate {generated:<9} answer {holds} "
                f"extractive cites {mark(r.extractive_cites)}  {r.question} ({where}; {by})"
            )
        out += [
            f"retrieval hit (source among the passages)  {self.retrieval_hit:.3f}",
            f"generate citation hit                      {self.generate_citation_hit:.3f}",
            f"generate answer holds the expected answer  {self.generate_answer_hit:.3f}",
            f"generate cites the source and holds it     {self.generate_both} of {n}",
            f"extractive citation hit                    {self.extractive_citation_hit:.3f}",
            f"generate abstentions                       {self.abstentions} of {n}",
            f"escalated to a larger model                {self.escalations} of {n}",
        ]
        return out


def evaluate_samples(
    kb: Assistant,
    questions: Sequence[SampleQuestion],
    *,
    name: str = "questions",
    progress: Callable[[str, int, int], None] | None = None,
) -> SamplesReport:
    """Ask each question of ``kb`` (an Assistant over the questions' corpus, with the
    generator to measure) and check where the answers' sources come from."""
    passages = kb.config.ask_passages
    ladder = " then ".join(kb.ladder()) or "none installed"
    report = SamplesReport(name, ladder, passages)
    for done, case in enumerate(questions, start=1):
        searched = kb.search(case.question, k=passages)
        generated = kb.ask(case.question)
        extractive = kb.ask(case.question, mode="extractive")
        report.results.append(
            SampleResult(
                question=case.question,
                source=case.source,
                page=case.page,
                retrieved=case.found_in((p.path, p.page) for p in searched),
                generated_cites=case.found_in((c.path, c.page) for c in generated.citations),
                abstained=generated.abstained,
                extractive_cites=case.found_in((c.path, c.page) for c in extractive.citations),
                answer=generated.text,
                holds_answer=None
                if case.answer is None
                else not generated.abstained and contains_gold(generated.text, [case.answer]),
                model=generated.model,
                escalated=generated.escalated,
            )
        )
        if progress:
            progress("asking", done, len(questions))

    report.retrieval_hit = mean_or_zero([r.retrieved for r in report.results])
    report.generate_citation_hit = mean_or_zero([r.generated_cites for r in report.results])
    report.generate_answer_hit = mean_or_zero(
        [r.holds_answer for r in report.results if r.holds_answer is not None]
    )
    report.generate_both = sum(bool(r.generated_cites and r.holds_answer) for r in report.results)
    report.extractive_citation_hit = mean_or_zero([r.extractive_cites for r in report.results])
    report.abstentions = sum(r.abstained for r in report.results)
    report.escalations = sum(r.escalated for r in report.results)
    return report
