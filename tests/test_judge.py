"""The judge with the real larger model on constructed cases: right number, wrong fact.

Each case is built from the sample documents: an answer that carries the right kind of fact
from the wrong passage (the backup period for a closed matter file, a review interval for
record keeping) and a paraphrase of the right passage. The lexical check passes all of them;
the judge must flag the first kind and pass the second. The verdicts are log-odds, and each
case clears the configured threshold (0.75) by at least half a unit (measured here: the
right answers +1.8..+2.3, "90 days" -0.3, "6 months" +0.2), so the same verdict holds on
every CPU. (Spelled out as whole sentences, the two wrong answers score +0.5 and +0.6:
closer to the line, which is why the threshold was set by measurement, not by them.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ragkit import Assistant, Config, ModelPacks, TextEncoder
from ragkit._config import LARGE_GENERATOR
from ragkit._types import AnswerSentence
from ragkit.answer._judge import judge_sentences
from ragkit.answer._support import passage_sentences
from ragkit.models import Generator
from ragkit.testing import Messages, ScriptedGenerator

from .helpers import passage as passage_of
from .helpers import passage_number

CLOSED_MATTER = "How long do we keep a closed client matter file before it can be shredded?"
ADULT_RECORDS = "How long does the clinic keep records of adult patients?"
BACKUPS = (
    "Email is kept in the archive for 6 years and then deleted automatically, unless a legal "
    "hold applies to it. The Deleted Items folder is emptied automatically after 30 days. "
    "Server and cloud backups are kept for 90 days."
)
SCHEDULE = (
    "Record Keep for. Closed client matter files 7 years after the file is closed. Files "
    "where the client was a minor 7 years after the client turns 18."
)
CONTROLLED = (
    "The maximum supply per prescription is 28 days. Patients on long-term controlled "
    "medicines sign a controlled substance agreement, which is reviewed every 6 months."
)
RETENTION = (
    "Retention of records: Adult patients: 10 years after the last visit. Patients who were "
    "minors when last seen: until the patient's 28th birthday, or 10 years after the last "
    "visit, whichever is later."
)


@pytest.fixture(scope="module")
def judge(config: Config) -> Generator:
    packs = ModelPacks(config)
    if not (packs.root / LARGE_GENERATOR).is_dir():
        pytest.fail(f"the judge's pack {LARGE_GENERATOR} is missing; run `make packs`.")
    return Generator(packs.get(LARGE_GENERATOR, "generator"), n_ctx=1024, threads=2)


def verdict(judge: Generator, config: Config, question: str, passage: str, text: str) -> bool:
    sentence = AnswerSentence(text=text, citations=(1,), support=1.2, supported=True)
    (judged,) = judge_sentences(
        judge, question, [sentence], [passage_of(1, passage)], threshold=config.judge_threshold
    )
    assert judged.verdict is not None
    return judged.supported


@pytest.mark.parametrize(
    ("question", "passage", "answer"),
    [
        (CLOSED_MATTER, BACKUPS, "90 days."),
        (ADULT_RECORDS, CONTROLLED, "6 months."),
    ],
    ids=["90-days", "6-months"],
)
def test_the_judge_flags_the_right_number_from_the_wrong_fact(
    judge: Generator, config: Config, question: str, passage: str, answer: str
) -> None:
    assert not verdict(judge, config, question, passage, answer)


@pytest.mark.parametrize(
    ("question", "passage", "answer"),
    [
        (
            CLOSED_MATTER,
            SCHEDULE,
            "A closed matter file is kept for seven years after it is closed.",
        ),
        (CLOSED_MATTER, SCHEDULE, "7 years after the file is closed."),
        (
            ADULT_RECORDS,
            RETENTION,
            "Adult patients' records are kept for ten years after their last visit.",
        ),
    ],
    ids=["7-years-paraphrase", "7-years", "10-years-paraphrase"],
)
def test_the_judge_passes_a_supported_paraphrase(
    judge: Generator, config: Config, question: str, passage: str, answer: str
) -> None:
    assert verdict(judge, config, question, passage, answer)


def test_an_unanswerable_question_with_a_close_distractor_abstains(
    samples_index: Path, config: Config, encoder: TextEncoder, judge: Generator
) -> None:
    # The documents say nothing of amoxicillin; the nearest passages are about prescription
    # refills, and a small model readily quotes one of their sentences as the answer.
    def distractor(messages: Messages) -> str:
        prompt = messages[-1]["content"]
        n = passage_number(prompt, "refill")
        quoted = next(s for s in passage_sentences(prompt) if "refill" in s and "[" not in s)
        return f"{quoted.rstrip('.')} [{n}]."

    model = ScriptedGenerator(distractor)
    kb = Assistant(samples_index, config, encoder=encoder, generator=model, judge=judge)
    answer = kb.ask("What is the dosage of amoxicillin for children?")
    assert model.calls, "the question must reach the model for the judge to be tested"
    assert answer.abstained and answer.citations == ()
    (sentence,) = answer.sentences
    assert sentence.verdict is not None and not sentence.supported
