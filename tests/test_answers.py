"""Checked answers on the samples index: support per sentence, citations that hold, strict
mode, extractive answers. The language model is replaced by a scripted one where a test
needs to control exactly what the model "writes"; everything else is real."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ragkit import Assistant, Config
from ragkit.testing import Messages

from .helpers import Scripted, passage_number

DEPOSIT = "How large is the security deposit the tenant pays when signing the lease?"


def test_a_list_with_an_invalid_number_keeps_the_valid_one(scripted: Scripted) -> None:
    def write(messages: Messages) -> str:
        n = passage_number(messages[-1]["content"], "$19,350.00")
        return f"The deposit is $19,350.00 [{n}, 7]. It equals three months of rent [7]."

    kb = scripted(write)
    stream = kb.ask_stream(DEPOSIT)
    shown = "".join(stream)
    answer = stream.answer
    n = passage_number(kb.generator.last_call.prompt, "$19,350.00")  # type: ignore[attr-defined]
    assert shown == f"The deposit is $19,350.00 [{n}]. It equals three months of rent."
    assert answer.invalid_citations == (7,)
    assert answer.text == (
        f"The deposit is $19,350.00 [{n}]. It equals three months of rent [{n}]."
    )
    # The claim cited only to a passage that was not given is attributed to the one that
    # supports it.
    first, second = answer.sentences
    assert first.citations == (n,) and not first.inferred
    assert second.citations == (n,) and second.inferred and second.supported


def test_a_wrong_citation_is_moved_to_the_supporting_passage(scripted: Scripted) -> None:
    def write(messages: Messages) -> str:
        prompt = messages[-1]["content"]
        right = passage_number(prompt, "14 characters")
        wrong = 1 if right != 1 else 2
        return f"Passwords must be at least 14 characters long [{wrong}]."

    kb = scripted(write)
    answer = kb.ask("What is the minimum length for a password at Harbor Street Legal?")
    right = passage_number(kb.generator.last_call.prompt, "14 characters")  # type: ignore[attr-defined]
    (sentence,) = answer.sentences
    assert sentence.citations == (right,) and sentence.supported and sentence.inferred
    (citation,) = answer.citations
    assert Path(citation.path).name == "office-policy.md" and citation.inferred


def test_prompt_is_trimmed_to_the_budget(scripted: Scripted, config: Config) -> None:
    kb = scripted("The deposit is $19,350.00 [1].", context_tokens=60)
    answer = kb.ask(DEPOSIT)
    prompt = kb.generator.last_call.prompt  # type: ignore[attr-defined]
    assert "$19,350.00" in prompt and 1 <= len(answer.passages) <= config.prompt_passages
    # The scripted model counts words as tokens: each passage's header "[n] (file, p. 2)"
    # costs 4, and the best sentence is kept even if it alone is over the budget.
    passages_words = sum(len(p.text.split()) for p in answer.passages)
    assert passages_words <= 60 + 4 * len(answer.passages)


def test_extractive_quotes_the_documents_without_a_model(
    samples_copy: Path, config: Config
) -> None:
    with Assistant(samples_copy, config.replace(generator="no-such-pack")) as kb:
        answer = kb.ask(DEPOSIT, mode="extractive")
    assert answer.mode == "extractive" and not answer.abstained and not answer.note
    assert "$19,350.00" in answer.text
    assert Path(answer.citations[0].path).name == "office-lease.pdf"
    for sentence in answer.sentences:
        source = " ".join(answer.passages[sentence.citations[0] - 1].text.split())
        assert sentence.supported and sentence.text in source


def test_extractive_abstains_when_no_sentence_answers(samples_copy: Path, config: Config) -> None:
    # Nothing in the documents is about amoxicillin; the closest sentences are about
    # prescription refills and vaccine prices, and quoting them would answer what the
    # documents do not say.
    with Assistant(samples_copy, config.replace(generator="no-such-pack")) as kb:
        answer = kb.ask("What is the dosage of amoxicillin for children?", mode="extractive")
    assert answer.abstained and answer.mode == "extractive"
    assert answer.citations == () and answer.sentences == () and answer.passages
    assert "don't know" in answer.text


def test_no_generator_pack_falls_back_to_extractive(
    tmp_path: Path, samples_index: Path, config: Config
) -> None:
    # A home holding only the encoder pack: no generator of any kind is installed.
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    shutil.copytree(
        config.models_dir / config.encoder_pack(), home / "models" / config.encoder_pack()
    )
    db = tmp_path / "i.db"
    shutil.copyfile(samples_index, db)
    with Assistant(db, config.replace(home=home)) as kb:
        answer = kb.ask(DEPOSIT)
    assert answer.mode == "extractive" and "build_packs" in answer.note
    assert "$19,350.00" in answer.text and answer.citations


@pytest.mark.parametrize(
    "question",
    [
        "Which team won the 1954 football world cup final?",
    ],
)
def test_abstention_shows_the_closest_passages(
    samples_copy: Path, config: Config, question: str
) -> None:
    with Assistant(samples_copy, config.replace(generator="no-such-pack")) as kb:
        answer = kb.ask(question)
    assert answer.abstained and answer.passages and not answer.citations
