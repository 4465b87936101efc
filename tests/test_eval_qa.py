"""`ragkit eval qa`: SQuAD normalisation and metrics against known values, sampling, and a
real run of the command on a tiny constructed SQuAD file with the tiny SmolLM2 pack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Config, ConfigError
from ragkit.cli import main
from ragkit.eval import calibrate_judge
from ragkit.eval._qa import (
    SquadQuestion,
    _Result,
    _row,
    exact_match,
    load_squad,
    normalize_answer,
    sample_questions,
    token_f1,
)

ARTICLES = [
    (
        "Riverbend_Clinic",
        [
            (
                "Riverbend Family Clinic opens at 8:00 a.m. on weekdays and closes at 4:00 p.m. on "
                "Fridays. The clinic is closed on public holidays.",
                [
                    ("When does the clinic close on Fridays?", ["4:00 p.m."]),
                    ("When does the clinic close on Sundays?", []),
                ],
            ),
            (
                "Vaccines are stored in a refrigerator kept between 2 and 8 degrees Celsius. The "
                "temperature is logged twice a day by the duty nurse.",
                [
                    (
                        "Who logs the vaccine refrigerator temperature?",
                        ["the duty nurse", "duty nurse"],
                    )
                ],
            ),
        ],
    ),
    (
        "Harbor_Street_Lease",
        [
            (
                "The tenant pays a security deposit of $19,350.00 on signing the lease. "
                "The deposit is returned within 60 days after the end of the term.",
                [
                    ("How much is the security deposit?", ["$19,350.00"]),
                    ("How much is the pet deposit?", []),
                ],
            ),
        ],
    ),
]


def write_squad(path: Path, version: str = "v2.0") -> Path:
    data = []
    for title, paragraphs in ARTICLES:
        paras = []
        for p, (context, qas) in enumerate(paragraphs):
            paras.append(
                {
                    "context": context,
                    "qas": [
                        {
                            "id": f"{title}-{p}-{i}",
                            "question": q,
                            "is_impossible": not answers,
                            "answers": [
                                {"text": a, "answer_start": context.find(a)} for a in answers
                            ],
                        }
                        for i, (q, answers) in enumerate(qas)
                    ],
                }
            )
        data.append({"title": title, "paragraphs": paras})
    path.write_text(json.dumps({"version": version, "data": data}))
    return path


def test_squad_normalisation_and_metrics_match_known_values() -> None:
    assert normalize_answer("The  Cat, sat on a mat!") == "cat sat on mat"
    assert normalize_answer("An $19,350.00 deposit") == "1935000 deposit"
    assert exact_match("the Cat.", ["cat"]) == 1.0 and exact_match("cats", ["cat"]) == 0.0
    # pred [cat, sat, on, mat] vs gold [cat, on, mat]: P 3/4, R 1 -> F1 6/7.
    assert token_f1("The cat sat on the mat", ["cat on mat"]) == pytest.approx(6 / 7)
    assert token_f1("dog", ["cat on mat", "dog"]) == 1.0  # the best gold counts
    assert token_f1("", ["cat"]) == 0.0 and token_f1("cat", ["the"]) == 0.0
    # SQuAD's own example: repeated tokens count once per match.
    assert token_f1("a a b", ["a b b"]) == pytest.approx(2 / 3)


def test_load_squad_indexes_paragraphs_and_marks_unanswerable(tmp_path: Path) -> None:
    data = load_squad(write_squad(tmp_path / "s.json"))
    assert [p[0] for p in data.paragraphs] == [
        "Riverbend_Clinic#p0",
        "Riverbend_Clinic#p1",
        "Harbor_Street_Lease#p0",
    ]
    assert data.paragraphs[0][2] == "Riverbend Clinic"
    nurse = next(q for q in data.questions if q.question.startswith("Who logs"))
    assert nurse.answers == ("the duty nurse", "duty nurse") and nurse.source.endswith("#p1")
    assert sum(not q.answerable for q in data.questions) == 2
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"bad\.json"):
        load_squad(tmp_path / "bad.json")


def test_sampling_draws_answerable_and_unanswerable_separately() -> None:
    questions = [SquadQuestion(str(i), "q", ("a",) if i < 10 else (), "s") for i in range(13)]
    chosen = sample_questions(questions, 2, seed=1)
    assert sum(q.answerable for q in chosen) == 2 and sum(not q.answerable for q in chosen) == 2
    assert chosen == sample_questions(questions, 2, seed=1)
    assert len(sample_questions(questions, 50, seed=1)) == 13


def test_row_aggregates_as_defined() -> None:
    a = SquadQuestion("1", "q", ("Paris",), "T#p0")
    b = SquadQuestion("2", "q", ("blue whale",), "T#p1")
    u = SquadQuestion("3", "q", (), "T#p2")
    results = [
        _Result(a, "It is Paris [1].", False, {"T#p0"}, {"T#p0"}, 100, 1.0, 30.0),
        _Result(b, "I don't know.", True, set(), {"T#p1"}, 120, 2.0, None),
        _Result(u, "I don't know.", True, set(), set(), 80, 3.0, 40.0),
    ]
    row = _row("ragkit", results)
    # "it is paris" vs "paris": P 1/3, R 1 -> F1 1/2; the abstention scores 0.
    assert row.exact_match == 0.0 and row.f1 == pytest.approx(0.25)
    assert row.citation_hit == 1.0  # of the one answered answerable question
    assert row.source_in_prompt == 1.0
    assert row.abstain_answerable == 0.5 and row.abstain_unanswerable == 1.0
    assert row.ttft_p50 == 2.0 and row.tokens_per_s == 35.0 and row.prompt_tokens == 100
    # "it is paris" holds the gold answer; the abstention holds nothing.
    assert row.contains_gold == 0.5 and row.unflagged_wrong == 0.0


def test_unflagged_wrong_counts_wrong_answers_that_look_checked() -> None:
    a = SquadQuestion("1", "q", ("Paris",), "T#p0")
    results = [
        _Result(a, "Lyon [1].", False, {"T#p0"}, {"T#p0"}, 1, 1.0, 1.0, flagged=False),
        _Result(a, "Lyon [1].", False, {"T#p0"}, {"T#p0"}, 1, 1.0, 1.0, flagged=True),
        _Result(a, "Paris [1].", False, {"T#p0"}, {"T#p0"}, 1, 1.0, 1.0, flagged=False),
        _Result(a, "Parisian wine [1].", False, {"T#p0"}, {"T#p0"}, 1, 1.0, 1.0),
    ]
    row = _row("ragkit", results)
    # Wrong and unflagged: the first Lyon only; "Parisian" does not hold the word "Paris".
    assert row.unflagged_wrong == 0.5 and row.contains_gold == 0.25


def test_calibrate_judge_prints_the_trade_off_and_cross_validates_by_article() -> None:
    def record(article: str, gold: list[str], verdict: float, text: str = "Paris.") -> dict:
        sentence = {"text": text, "citations": [1], "verdict": verdict, "supported": True}
        return {
            "pipeline": "ragkit",
            "source": f"{article}#p0",
            "gold": gold,
            "abstained": False,
            "sentences": [sentence],
        }

    records = [
        # In each article: right answers judged high, unanswerable ones judged low.
        *(record(a, ["Paris"], 2.2) for a in ("A", "B", "C") for _ in range(3)),
        *(record(a, [], -0.5) for a in ("A", "B", "C") for _ in range(3)),
        record("A", ["Rome"], 0.8),  # answered wrong, judged in between
        {"pipeline": "baseline", "source": "A#p0", "gold": [], "abstained": False},
    ]
    report = calibrate_judge(records, Config(judge_threshold=1.0))
    assert set(report.curves) == {"ragkit"}
    rows = {t: (a, u, gold, wrong) for t, a, u, gold, wrong in report.curves["ragkit"]}
    assert rows[1.0] == (pytest.approx(1 / 10), 1.0, 1.0, 0.0)
    # At -1 nothing is declined, and the wrong answer goes through unflagged.
    assert rows[-1.0] == (0.0, 0.0, pytest.approx(9 / 10), pytest.approx(1 / 10))
    chosen, answerable, unanswerable = report.held_out["ragkit"]
    assert len(chosen) == 3 and unanswerable == 1.0 and answerable <= 0.1
    lines = report.lines()
    assert any("leave-one-article-out" in line for line in lines)
    assert any(line.startswith("ragkit judge +1.00*") for line in lines)


def test_eval_qa_runs_end_to_end_with_the_tiny_model(tmp_path: Path, home: Path) -> None:
    dataset = write_squad(tmp_path / "tiny-squad.json")
    args = [
        "--home",
        str(home),
        "--generator",
        "smollm2-135m-q4_1",
        "eval",
        "qa",
        "--dataset",
        str(dataset),
        "--n",
        "3",
        "--seed",
        "7",
    ]
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["paragraphs"] == 3 and report["answerable"] == 3
    assert report["unanswerable"] == 2
    rows = {r["pipeline"]: r for r in report["rows"]}
    assert set(rows) == {"ragkit", "baseline", "extractive"}
    for row in rows.values():
        for name in ("exact_match", "f1", "citation_hit", "abstain_answerable"):
            assert 0.0 <= row[name] <= 1.0
        assert row["abstain_unanswerable"] is not None
    assert rows["baseline"]["ttft_p50"] > 0 and rows["extractive"]["ttft_p50"] is None
    # Three paragraphs hold every answer: the extractive quotes find each one.
    assert rows["extractive"]["source_in_prompt"] == 1.0
    assert rows["ragkit"]["prompt_tokens"] < rows["baseline"]["prompt_tokens"] * 2
    details = tmp_path / "details.jsonl"
    text = CliRunner().invoke(
        main, [*args, "--pipeline", "extractive", "--details", str(details)], catch_exceptions=False
    )
    assert "token F1 (answerable)" in text.output and "extractive" in text.output
    assert "unflagged wrong" in text.output and "answer contains gold" in text.output
    records = [json.loads(line) for line in details.read_text().splitlines()]
    assert len(records) == 5 and {r["pipeline"] for r in records} == {"extractive"}
    for r in records:
        assert set(r) >= {"question", "gold", "answer", "sentences", "abstained", "model", "ttft"}
    bad = CliRunner().invoke(main, [*args, "--pipeline", "nonsense"])
    assert bad.exit_code == 1 and "ragkit:PACK" in bad.output


def test_eval_calibrate_measures_each_setting(tmp_path: Path, home: Path) -> None:
    dataset = write_squad(tmp_path / "tiny-squad.json")
    args = [
        "--home",
        str(home),
        "--generator",
        "smollm2-135m-q4_1",
        "eval",
        "calibrate",
        "--dataset",
        str(dataset),
        "--n",
        "3",
    ]
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["answerable"] == 3 and report["unanswerable"] == 2
    declined = [(a, u) for _, a, u in report["abstain"]]
    # A higher threshold never declines fewer questions; these answerable ones sit close to
    # their paragraphs, the unanswerable ones further away.
    assert declined == sorted(declined) and declined[-1] == (0.0, 0.5)
    rows = {(b, k): (answer, source) for b, k, answer, source, _ in report["budget"]}
    # Three small paragraphs: every budget holds the best sentence, which holds the answer.
    assert rows[(220, 4)] == (1.0, 1.0)
    # The two answers with digits get a fabricated twin (digits shifted); "the duty nurse" has
    # no answer from another article that the passages shown do not already hold.
    assert report["claims"] == 2
    passed = [p for _, p, _ in report["support"]]
    flagged = [f for _, _, f in report["support"]]
    assert passed == sorted(passed, reverse=True) and flagged == sorted(flagged)
    default = next(r for r in report["support"] if r[0] == 0.75)
    assert default[1] == 1.0 and default[2] == 1.0
    text = CliRunner().invoke(main, args, catch_exceptions=False).output
    assert "abstain below cosine 0.35*" in text and "support threshold 0.75*" in text
