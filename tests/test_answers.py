"""Checked answers on the samples index: support per sentence, citations that hold, strict
mode, extractive answers. The language model is replaced by a scripted one where a test
needs to control exactly what the model "writes"; everything else is real."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from ragkit import Assistant, Config

DEPOSIT = "How large is the security deposit the tenant pays when signing the lease?"


class ScriptedGenerator:
    """Writes a fixed text, word by word, whatever it is asked."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.prompts: list[Sequence[dict[str, str]]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> int:
        return sum(self.count_tokens(m["content"]) for m in messages)

    def stream(self, messages: Sequence[dict[str, str]], *, max_tokens: int,
               temperature: float) -> Iterator[str]:
        self.prompts.append(messages)
        yield from re.findall(r"\S+\s*", self.text)


def scripted(kb: Assistant, text: str) -> ScriptedGenerator:
    generator = ScriptedGenerator(text)
    kb._generator = generator  # type: ignore[assignment]
    return generator


def test_fabricated_sentence_is_flagged_and_supported_one_is_not(samples_copy: Path,
                                                                 config: Config) -> None:
    with Assistant(samples_copy, config) as kb:
        scripted(kb, "The tenant pays a security deposit of $19,350.00 when signing [1]. "
                     "The clinic offers free helicopter transport to Paris [1].")
        answer = kb.ask(DEPOSIT)
    real, fabricated = answer.sentences
    assert real.supported and real.citations == (1,) and not real.inferred
    assert not fabricated.supported and fabricated.support < real.support
    assert answer.unsupported == (fabricated,)
    assert Path(answer.citations[0].path).name == "office-lease.pdf"
    assert "helicopter" in answer.text  # shown (the CLI marks it) unless strict


def test_strict_drops_unsupported_sentences(samples_copy: Path, config: Config) -> None:
    with Assistant(samples_copy, config) as kb:
        scripted(kb, "The deposit is $19,350.00 [1]. The clinic offers free helicopter "
                     "transport to Paris [1].")
        answer = kb.ask(DEPOSIT, strict=True)
        assert answer.text == "The deposit is $19,350.00 [1]." and not answer.abstained
        assert len(answer.sentences) == 2  # what was left out stays inspectable
        scripted(kb, "The clinic offers free helicopter transport to Paris.")
        nothing = kb.ask(DEPOSIT, strict=True)
    assert nothing.abstained and "don't know" in nothing.text and not nothing.citations


def test_citation_outside_the_passages_never_reaches_the_user(samples_copy: Path,
                                                              config: Config) -> None:
    with Assistant(samples_copy, config) as kb:
        scripted(kb, "The deposit is $19,350.00 [1, 7]. It equals three months of rent [7].")
        stream = kb.ask(DEPOSIT, stream=True)
        shown = "".join(stream)
        answer = stream.answer
    assert "7" not in shown and "[1]" in shown
    assert "7" not in answer.text and answer.invalid_citations == (7,)
    assert all(1 <= c.n <= len(answer.passages) for c in answer.citations)
    assert all(1 <= n <= len(answer.passages) for s in answer.sentences for n in s.citations)
    # The uncited (invalidly cited) claim is attributed to the passage that supports it.
    assert answer.sentences[1].inferred and answer.sentences[1].supported


def test_a_wrong_citation_is_moved_to_the_supporting_passage(samples_copy: Path,
                                                             config: Config) -> None:
    with Assistant(samples_copy, config) as kb:
        scripted(kb, "Passwords must be at least 14 characters long.")
        answer = kb.ask("What is the minimum length for a password at Harbor Street Legal?")
    (sentence,) = answer.sentences
    assert sentence.supported and sentence.inferred
    assert Path(answer.citations[0].path).name == "office-policy.md"
    assert answer.citations[0].inferred


def test_prompt_is_trimmed_to_the_budget(samples_copy: Path, config: Config) -> None:
    with Assistant(samples_copy, config.replace(context_tokens=60)) as kb:
        generator = scripted(kb, "The deposit is $19,350.00 [1].")
        answer = kb.ask(DEPOSIT)
    user = generator.prompts[0][-1]["content"]
    # The first message pairs are the fixed prefix; only the last one carries passages.
    assert "$19,350.00" in user and len(answer.passages) <= config.prompt_passages
    passages_words = sum(len(p.text.split()) for p in answer.passages)
    assert passages_words <= 60 + 8 * len(answer.passages)


def test_extractive_quotes_the_documents_without_a_model(samples_copy: Path,
                                                         config: Config) -> None:
    with Assistant(samples_copy, config.replace(generator="no-such-pack")) as kb:
        answer = kb.ask(DEPOSIT, mode="extractive")
    assert answer.mode == "extractive" and not answer.abstained and not answer.note
    assert "$19,350.00" in answer.text
    assert Path(answer.citations[0].path).name == "office-lease.pdf"
    for sentence in answer.sentences:
        source = " ".join(answer.passages[sentence.citations[0] - 1].text.split())
        assert sentence.supported and sentence.text in source


def test_no_generator_pack_falls_back_to_extractive(tmp_path: Path, samples_index: Path,
                                                    config: Config) -> None:
    # A home holding only the encoder pack: no generator of any kind is installed.
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    shutil.copytree(config.models_dir / config.encoder, home / "models" / config.encoder)
    db = tmp_path / "i.db"
    shutil.copyfile(samples_index, db)
    with Assistant(db, config.replace(home=home)) as kb:
        answer = kb.ask(DEPOSIT)
    assert answer.mode == "extractive" and "ragkit models build" in answer.note
    assert "$19,350.00" in answer.text and answer.citations


@pytest.mark.parametrize("question", [
    "Which team won the 1954 football world cup final?",
])
def test_abstention_shows_the_closest_passages(samples_copy: Path, config: Config,
                                               question: str) -> None:
    with Assistant(samples_copy, config.replace(generator="no-such-pack")) as kb:
        answer = kb.ask(question)
    assert answer.abstained and answer.passages and not answer.citations
