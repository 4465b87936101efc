"""The sample questions (samples/questions.jsonl): each one's source is retrieved, and the
extractive answer, which runs no model, cites it. How often a language model's answer cites
it is a measurement, `ragkit eval samples`, tested here for what it counts, not for a score."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Assistant, Config, ConfigError, TextEncoder
from ragkit.cli import main
from ragkit.eval import SampleQuestion, evaluate_samples, load_samples
from ragkit.testing import Messages, Script, ScriptedGenerator

from .helpers import QUESTIONS, SAMPLES, passage_number

CASES = load_samples(QUESTIONS)
IDS = [c.question[:40] for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_question_retrieves_its_source(
    samples_index: Path, config: Config, encoder: TextEncoder, case: SampleQuestion
) -> None:
    # The passages `ask` starts from: if the source is not among them no model can cite it.
    with Assistant(samples_index, config, encoder=encoder) as kb:
        passages = kb.search(case.question, k=config.ask_passages)
    located = [(Path(p.path).name, p.page) for p in passages]
    assert case.found_in(located), located


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_extractive_ask_cites_its_source(
    samples_index: Path, home: Path, case: SampleQuestion
) -> None:
    # No generator is named that exists: the extractive path must not need one.
    result = CliRunner().invoke(
        main,
        [
            "--home",
            str(home),
            "--generator",
            "no-such-pack",
            "--db",
            str(samples_index),
            "ask",
            "--extractive",
            "--json",
            case.question,
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["mode"] == "extractive" and not answer["abstained"]
    cited = {Path(c["path"]).name for c in answer["citations"]}
    assert case.source in cited, (answer["answer"], cited)


class SourceQuoter:
    """A scripted model that quotes the first sentence of the passage holding the asked
    question's source, citing it; it declines ``declined`` and questions whose source it
    was not shown. It notes which questions it cited correctly."""

    def __init__(self, cases: list[SampleQuestion], declined: str) -> None:
        self.cases = {c.question: c for c in cases}
        self.declined = declined
        self.cited: set[str] = set()

    def __call__(self, messages: Messages) -> str:
        prompt = messages[-1]["content"]
        question = prompt.rsplit("\nQuestion: ", 1)[1]
        case = self.cases[question]
        where = f"({case.source}" + (f", p. {case.page})" if case.page is not None else "")
        if question == self.declined or where not in prompt:
            return "I don't know."
        n = passage_number(prompt, where)
        first = prompt.split(f"[{n}] {where}", 1)[1].split("\n", 2)[1]
        self.cited.add(question)
        return f"{first.split('. ')[0].rstrip('.')} [{n}]."


def test_eval_samples_counts_what_each_answer_cites(
    samples_index: Path, config: Config, encoder: TextEncoder
) -> None:
    # One question of each document (PDF pages, Markdown, text) is enough to count.
    cases = [
        next(c for c in CASES if c.source == source)
        for source in dict.fromkeys(c.source for c in CASES)
    ]
    model = SourceQuoter(cases, declined=cases[0].question)
    with Assistant(
        samples_index, config, encoder=encoder, generator=ScriptedGenerator(model)
    ) as kb:
        report = evaluate_samples(kb, cases, name="questions.jsonl")
    assert [r.question for r in report.results] == [c.question for c in cases]
    assert all(r.retrieved for r in report.results) and report.retrieval_hit == 1.0
    cited = {r.question for r in report.results if r.generated_cites}
    assert cited == model.cited and len(cited) >= 2 and cases[0].question not in cited
    assert report.generate_citation_hit == pytest.approx(len(cited) / len(cases))
    abstained = {r.question for r in report.results if r.abstained}
    assert abstained == {c.question for c in cases} - model.cited
    assert report.abstentions == len(abstained)
    assert report.extractive_citation_hit == pytest.approx(
        sum(r.extractive_cites for r in report.results) / len(cases)
    )
    # The scripted model quotes the source's sentences, so an answer holds the expected
    # answer only where that sentence is quoted; every answer is written by "scripted".
    assert all(r.model == "scripted" and not r.escalated for r in report.results if not r.abstained)
    holding = [r.holds_answer for r in report.results if r.holds_answer is not None]
    assert report.generate_answer_hit == pytest.approx(sum(holding) / len(holding))
    assert report.generate_both == sum(
        bool(r.generated_cites and r.holds_answer) for r in report.results
    )
    assert not any(r.holds_answer for r in report.results if r.abstained)
    lines = report.lines()
    assert len(lines) == 1 + len(cases) + 7
    assert lines[1 + len(cases)].endswith("1.000")  # the retrieval hit line
    assert json.loads(json.dumps(dataclasses.asdict(report)))["passages"] == config.ask_passages


def test_load_samples_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "Q?", "source": "a.pdf", "page": 2}\n\n{"question": "R?"}\n')
    with pytest.raises(ConfigError, match=r"q\.jsonl, line 3"):
        load_samples(path)
    path.write_text("\n")
    with pytest.raises(ConfigError, match="no questions"):
        load_samples(path)


def test_eval_samples_command(
    tmp_path: Path, home: Path, scripted_cli: Callable[[Script], ScriptedGenerator]
) -> None:
    cases = [CASES[0], next(c for c in CASES if c.page is None)]
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(dataclasses.asdict(c)) + "\n" for c in cases))
    scripted_cli(SourceQuoter(cases, declined=""))
    args = [
        "--home",
        str(home),
        "eval",
        "samples",
        "--questions",
        str(questions),
        "--corpus",
        str(SAMPLES),
    ]
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [r["question"] for r in report["results"]] == [c.question for c in cases]
    assert report["retrieval_hit"] == 1.0 and report["questions"] == str(questions)
    assert report["generate_citation_hit"] == 1.0 and report["abstentions"] == 0
    missing = CliRunner().invoke(
        main, ["--home", str(home), "eval", "samples", "--questions", str(questions)]
    )
    assert missing.exit_code == 1 and "--corpus" in missing.output
