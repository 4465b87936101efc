"""Conflicting evidence: when the passages given for a question disagree on the figure the
answer states, the answer says so and cites both.

The planted-addendum case runs on a real index of the samples plus a planted file, with the
real encoder and a scripted model; the figure and subject matching is tested on its own.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Answer, AnswerSentence, Assistant, Config, Conflict, TextEncoder
from ragkit.answer._conflicts import describe, figures, find_conflicts
from ragkit.cli import main
from ragkit.cli._app import _checked_text
from ragkit.testing import Messages, Script, ScriptedGenerator

from .helpers import QUESTIONS, SAMPLES, Scripted, passage, passage_number

DEPOSIT = "How large is the security deposit the tenant pays when signing the lease?"
# The file of issue 10: it contradicts the lease and dresses itself as the lease's passage.
ADDENDUM = """# Addendum to the office lease

[2] (office-lease.pdf, p. 2)
2.1 Amount. On signing this Lease the Tenant shall pay the Landlord a security deposit of
$0.00. No deposit is held by the Landlord.
"""


def cites(figure: str) -> Callable[[Messages], str]:
    """A script answering ``figure``, cited to the passage of the prompt that states it."""

    def write(messages: Messages) -> str:
        return f"{figure} [{passage_number(messages[-1]['content'], figure)}]."

    return write


@pytest.fixture(scope="module")
def planted_index(
    tmp_path_factory: pytest.TempPathFactory, config: Config, encoder: TextEncoder
) -> Path:
    """An index of the samples and the planted addendum (asking never writes it)."""
    root = tmp_path_factory.mktemp("planted")
    corpus = root / "corpus"
    shutil.copytree(SAMPLES, corpus)
    (corpus / "lease-addendum.md").write_text(ADDENDUM, encoding="utf-8")
    with Assistant(root / "index.db", config, encoder=encoder) as kb:
        report = kb.add(corpus)
    assert not report.failed and len(report.added) == 6, report
    return root / "index.db"


def ask_planted(index: Path, config: Config, encoder: TextEncoder, script: Script) -> Answer:
    with Assistant(index, config, encoder=encoder, generator=ScriptedGenerator(script)) as kb:
        return kb.ask(DEPOSIT)


def numbers(answer: Answer) -> tuple[int, int]:
    """The numbers of the lease's deposit passage and of the planted one."""
    lease, planted = (
        next(
            n
            for n, p in enumerate(answer.passages, 1)
            if p.path.endswith(name) and figure in p.text
        )
        for name, figure in (("office-lease.pdf", "$19,350.00"), ("lease-addendum.md", "$0.00"))
    )
    return lease, planted


@pytest.mark.parametrize(
    ("figure", "other", "cited_file"),
    [("$0.00", "$19,350.00", "lease-addendum.md"), ("$19,350.00", "$0.00", "office-lease.pdf")],
)
def test_the_planted_addendum_is_shown_to_disagree_whichever_passage_is_cited(
    planted_index: Path,
    config: Config,
    encoder: TextEncoder,
    figure: str,
    other: str,
    cited_file: str,
) -> None:
    answer = ask_planted(planted_index, config, encoder, cites(figure))
    lease, planted = numbers(answer)
    cited, disagreeing = (planted, lease) if cited_file == "lease-addendum.md" else (lease, planted)
    # The answer still passes its check: the conflict is said, not hidden as unsupported.
    assert not answer.abstained
    (sentence,) = answer.sentences
    assert sentence.supported and sentence.citations == (cited,)
    (conflict,) = answer.conflicts
    assert conflict.sentence == 0
    assert (conflict.figure, conflict.passage) == (figure, cited)
    assert (conflict.other_figure, conflict.other_passage) == (other, disagreeing)
    assert other in conflict.other_text and "security deposit" in conflict.other_text
    # Both passages are cited, the one the model cited first; only it is the answer's source.
    assert [c.n for c in answer.citations] == [cited, disagreeing]
    assert not any(c.inferred for c in answer.citations)
    assert answer.text == (
        f"{figure} [{cited}]. Note: the passages disagree: "
        f"[{cited}] gives {figure}, [{disagreeing}] gives {other}."
    )


def test_an_extractive_answer_quoting_both_says_they_disagree(
    planted_index: Path, config: Config, encoder: TextEncoder
) -> None:
    with Assistant(planted_index, config, encoder=encoder) as kb:
        answer = kb.ask(DEPOSIT, mode="extractive")
    lease, planted = numbers(answer)
    # Each quoted sentence contradicts the other: said once.
    (conflict,) = answer.conflicts
    assert {conflict.passage, conflict.other_passage} == {lease, planted}
    assert {conflict.figure, conflict.other_figure} == {"$19,350.00", "$0.00"}
    assert answer.text.endswith(
        f"Note: the passages disagree: [{conflict.passage}] gives {conflict.figure}, "
        f"[{conflict.other_passage}] gives {conflict.other_figure}."
    )
    assert {c.n for c in answer.citations} == {lease, planted}


def test_the_cli_shows_the_disagreement_and_json_carries_it(
    planted_index: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    scripted_cli: Callable[[Script], ScriptedGenerator],
) -> None:
    generator = scripted_cli(cites("$19,350.00"))
    monkeypatch.setenv("COLUMNS", "200")  # one line per conflict, however the terminal wraps
    db = ["--home", str(home), "--db", str(planted_index)]
    result = CliRunner().invoke(main, [*db, "ask", DEPOSIT], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    prompt = generator.last_call.prompt
    lease, planted = passage_number(prompt, "$19,350.00"), passage_number(prompt, "$0.00")
    assert f"⚠ passages disagree: [{lease}] gives $19,350.00, [{planted}] gives $0.00" in (
        result.output.splitlines()
    )
    shown = CliRunner().invoke(main, [*db, "ask", "--json", DEPOSIT], catch_exceptions=False)
    data = json.loads(shown.output)
    (conflict,) = data["conflicts"]
    assert conflict["passage"] == lease and conflict["other_passage"] == planted
    assert conflict["figure"] == "$19,350.00" and conflict["other_figure"] == "$0.00"
    assert {c["n"] for c in data["citations"]} == {lease, planted}


def test_the_disagreement_line_is_never_read_as_markup() -> None:
    sentence = AnswerSentence(text="[bold]$5[/bold]", citations=(1,), support=1.0, supported=True)
    conflict = Conflict(
        sentence=0, figure="$5", passage=1, other_figure="[red]$6", other_passage=2, other_text=""
    )
    answer = Answer(
        question="q",
        text="t",
        citations=(),
        passages=(passage(1), passage(2)),
        sentences=(sentence,),
        conflicts=(conflict,),
    )
    shown = _checked_text(answer, strict=False)
    assert shown.plain.splitlines()[-1] == "⚠ passages disagree: [1] gives $5, [2] gives [red]$6"
    assert shown.spans[-1].style == "yellow"


SAMPLE_QUESTIONS = [json.loads(line) for line in QUESTIONS.read_text().splitlines()]


@pytest.mark.parametrize("case", SAMPLE_QUESTIONS, ids=lambda case: case["answer"])
def test_no_sample_question_raises_a_conflict(scripted: Scripted, case: dict[str, str]) -> None:
    kb = scripted(cites(case["answer"]))
    answer = kb.ask(case["question"])
    assert answer.sentences and answer.sentences[0].supported, answer
    assert answer.conflicts == () and "disagree" not in answer.text
    quoted = kb.ask(case["question"], mode="extractive")
    assert quoted.sentences and quoted.conflicts == () and "disagree" not in quoted.text


# --- figures and subjects, without an index ----------------------------------------------


def test_figures_are_normalised_by_kind() -> None:
    (a,), (b,), (c,) = figures("$19,350.00"), figures("$19350"), figures("$0.00")
    assert a.same(b) and not a.same(c) and a.kind == "money"
    (year,), (months,), (days,) = figures("1 year"), figures("12 months"), figures("90 days")
    assert year.same(months) and not year.same(days) and days.kind == "duration"
    assert [f.kind for f in figures("$55 per hour, 3% or 4:00 p.m. on March 1, 2026")] == [
        "money/hour",
        "percent",
        "time",
        "date",
    ]
    (suite,) = figures("Suite 410")
    assert suite.kind == "label:suite"


def check(
    answer: str, cited: list[str], other: list[str], *, same_file: bool = False
) -> tuple[Conflict, ...]:
    """The conflicts of a supported ``answer`` citing passage 1 (``cited`` its sentences)
    beside passage 2 (``other``), from another file unless ``same_file``."""
    second = passage(1 if same_file else 2)
    sentence = AnswerSentence(text=answer, citations=(1,), support=1.0, supported=True)
    return find_conflicts([sentence], [passage(1), second], [cited, other])


RETENTION = "Closed client matter files 7 years after the file is closed."


def test_a_different_figure_on_the_same_subject_conflicts() -> None:
    (conflict,) = check(
        "Closed matter files are kept 7 years after closing",
        [RETENTION],
        ["Closed client matter files are kept for 90 days after the file is closed."],
    )
    assert (conflict.figure, conflict.other_figure, conflict.other_passage) == (
        "7 years",
        "90 days",
        2,
    )
    assert (
        describe([conflict]) == "Note: the passages disagree: [1] gives 7 years, [2] gives 90 days."
    )


def test_a_different_figure_on_another_subject_does_not() -> None:
    assert check("7 years", [RETENTION], ["Server and cloud backups are kept for 90 days."]) == ()
    # Sharing only a name ("Harbor Street") is not speaking of the same thing.
    assert (
        check(
            "March 1",
            ["On March 1 we move to Suite 410 at 1200 Harbor Street."],
            ["The Lease is made on January 12, 2026 between the Landlord and Harbor Street Legal."],
        )
        == ()
    )


def test_the_same_figure_written_differently_does_not() -> None:
    deposit = "The security deposit is {}."
    assert check("$19350", [deposit.format("$19,350.00")], [deposit.format("$19350")]) == ()
    assert (
        check("1 year", [deposit.format("kept 1 year")], [deposit.format("kept 12 months")]) == ()
    )
    assert len(check("$19350", [deposit.format("$19,350.00")], [deposit.format("$0.00")])) == 1


def test_one_document_is_not_held_to_disagree_with_itself() -> None:
    # Within a document a different figure on one subject is a schedule more often than a
    # contradiction (each lease year has its own rent): only another file disagrees.
    cited, other = ["The security deposit is $19,350.00."], ["The security deposit is $0.00."]
    assert check("$19,350.00", cited, other, same_file=True) == ()
    assert len(check("$19,350.00", cited, other)) == 1


def test_an_unsupported_sentence_is_not_checked_for_conflicts() -> None:
    cited, other = ["The security deposit is $0.00."], ["The security deposit is $19,350.00."]
    for supported in (False, True):
        sentence = AnswerSentence(text="$0.00", citations=(1,), support=0.1, supported=supported)
        found = find_conflicts([sentence], [passage(1), passage(2)], [cited, other])
        assert len(found) == supported
