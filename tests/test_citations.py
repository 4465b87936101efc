"""Citation and streaming mechanics through the public API, with a scripted generator.

The samples index, the encoder and sqlite-vec are real; only what "the model" writes is
scripted, piece by piece, so every assertion here is exact and the same on every CPU.
Scripts cite the passage that holds a fact by looking it up in the prompt they are given,
so no test depends on how retrieval orders the passages.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ragkit import Answer, Assistant, Config, TextGenerator
from ragkit.answer._prompt import IDK, SYSTEM_PROMPT
from ragkit.testing import Messages, ScriptedGenerator, word_pieces

from .helpers import Scripted, passage_number

DEPOSIT = "How large is the security deposit the tenant pays when signing the lease?"
FACT = "The deposit is $19,350.00"
RETURNED = "It is returned within 60 days after the end of the Term"
FABRICATED = "The clinic offers free helicopter transport to Paris"


def citing(*pieces: str) -> Callable[[Messages], list[str]]:
    """A script of ``pieces`` in which ``{deposit}`` and ``{returned}`` become the numbers
    of the passages holding those facts in the prompt the model is given."""

    def write(messages: Messages) -> list[str]:
        prompt = messages[-1]["content"]
        numbers = {
            "deposit": passage_number(prompt, "$19,350.00"),
            "returned": passage_number(prompt, "within 60 days"),
        }
        return [p.format(**numbers) for p in pieces]

    return write


def ask(kb: Assistant, question: str = DEPOSIT, **options: bool) -> tuple[list[str], Answer]:
    stream = kb.ask_stream(question, **options)  # type: ignore[arg-type]
    pieces = list(stream)
    return pieces, stream.answer


def numbers(kb: Assistant) -> dict[str, int]:
    """The numbers the scripts above cited, from the prompt the model was last given."""
    assert isinstance(kb.generator, ScriptedGenerator)
    prompt = kb.generator.last_call.prompt
    return {
        "deposit": passage_number(prompt, "$19,350.00"),
        "returned": passage_number(prompt, "within 60 days"),
    }


def test_scripted_generator_streams_pieces_as_given_and_records_calls() -> None:
    generator = ScriptedGenerator(["The dep", "osit [", "1]."])
    assert isinstance(generator, TextGenerator)
    messages = [{"role": "user", "content": "two words"}]
    assert list(generator.stream(messages, max_tokens=5, temperature=0.0)) == [
        "The dep",
        "osit [",
        "1].",
    ]
    assert generator.last_call.messages == tuple(messages) and generator.last_call.max_tokens == 5
    assert generator.prompt_tokens(messages) == 2 and generator.count_tokens(" a  b c ") == 3
    by_prompt = ScriptedGenerator(lambda m: f"You said {m[-1]['content']}.")
    assert list(by_prompt.stream(messages, max_tokens=5, temperature=0.0)) == [
        "You ",
        "said ",
        "two ",
        "words.",
    ]
    assert word_pieces(" a  b\nc") == [" a  ", "b\n", "c"]
    with pytest.raises(AssertionError, match="never asked"):
        ScriptedGenerator("x").last_call  # noqa: B018


def test_the_model_gets_the_rules_the_passages_then_the_question(
    scripted: Scripted, config: Config
) -> None:
    kb = scripted(citing(FACT + " [{deposit}]."))
    answer = kb.ask(DEPOSIT)
    call = kb.generator.last_call
    assert [m["role"] for m in call.messages] == ["system", "user", "assistant", "user"]
    assert call.messages[0]["content"] == SYSTEM_PROMPT
    assert call.prompt.startswith("Passages:\n\n[1] (") and call.prompt.endswith(
        f"\n\nQuestion: {DEPOSIT}"
    )
    shown = [f"[{n}] ({p.location})\n{p.text}" for n, p in enumerate(answer.passages, start=1)]
    assert call.prompt == "Passages:\n\n" + "\n\n".join(shown) + f"\n\nQuestion: {DEPOSIT}"
    assert 1 <= len(answer.passages) <= config.prompt_passages
    assert (call.max_tokens, call.temperature) == (config.max_answer_tokens, config.temperature)
    assert answer.prompt_tokens == kb.generator.prompt_tokens(call.messages)


def test_no_marker_is_attributed_to_the_passage_that_supports_it(scripted: Scripted) -> None:
    script = "The tenant pays a security deposit of $19,350.00 when signing the lease."
    kb = scripted(script)
    pieces, answer = ask(kb)
    n = numbers(kb)["deposit"]
    # Streamed as written: the space before each next word is held back only until it is
    # clear that no marker follows it.
    assert "".join(pieces) == script and len(pieces) == len(word_pieces(script))
    assert answer.text == f"{script[:-1]} [{n}]."
    (sentence,) = answer.sentences
    assert sentence.citations == (n,) and sentence.inferred and sentence.supported
    (citation,) = answer.citations
    assert citation.n == n and citation.inferred
    assert (Path(citation.path).name, citation.page) == ("office-lease.pdf", 2)
    assert not answer.abstained and answer.invalid_citations == ()


def test_a_marker_after_the_full_stop_belongs_to_the_sentence_before(scripted: Scripted) -> None:
    kb = scripted(citing(FACT + ". ", "[{deposit}]"))
    pieces, answer = ask(kb)
    n = numbers(kb)["deposit"]
    assert "".join(pieces) == f"{FACT}. [{n}]"
    assert answer.text == f"{FACT} [{n}]."
    (sentence,) = answer.sentences
    assert sentence.text == FACT + "." and sentence.citations == (n,) and not sentence.inferred
    assert [c.n for c in answer.citations] == [n] and not answer.citations[0].inferred


def test_an_invalid_marker_split_across_pieces_is_never_streamed(scripted: Scripted) -> None:
    kb = scripted(citing(FACT + " [", "7", "]. It equals three months of rent [{deposit}, ", "7]."))
    pieces, answer = ask(kb)
    n = numbers(kb)["deposit"]
    assert all("7" not in piece for piece in pieces)
    assert "".join(pieces) == f"{FACT}. It equals three months of rent [{n}]."
    assert answer.invalid_citations == (7,)
    assert "7" not in answer.text
    first, second = answer.sentences
    # The sentence whose only marker was invalid is attributed by ragkit.
    assert first.citations == (n,) and first.inferred
    assert second.citations == (n,) and not second.inferred
    assert [c.n for c in answer.citations] == [n]


@pytest.mark.parametrize("end", ["\n", ".\n"], ids=["newline", "stop-newline"])
def test_a_newline_ends_a_sentence(scripted: Scripted, end: str) -> None:
    stop = "." if end.startswith(".") else ""
    kb = scripted(citing(FACT + " [{deposit}]" + end, RETURNED + " [{returned}]" + stop))
    pieces, answer = ask(kb)
    n, m = numbers(kb)["deposit"], numbers(kb)["returned"]
    assert "".join(pieces) == f"{FACT} [{n}]{end}{RETURNED} [{m}]{stop}"
    assert [(s.text, s.citations) for s in answer.sentences] == [
        (FACT + stop, (n,)),
        (RETURNED + stop, (m,)),
    ]
    assert answer.text == f"{FACT} [{n}]. {RETURNED} [{m}]."


@pytest.mark.parametrize(
    "markers,streamed",
    [
        ("[{deposit}][{returned}]", "[{deposit}][{returned}]"),
        ("[{deposit}, {returned}]", "[{deposit}, {returned}]"),
        ("[{deposit}] [{returned}]", "[{deposit}] [{returned}]"),
        ("[{deposit},{returned}]", "[{deposit}, {returned}]"),  # the stream spaces a list
    ],
)
def test_several_markers_are_one_list_of_citations(
    scripted: Scripted, markers: str, streamed: str
) -> None:
    kb = scripted(citing(f"{FACT} {markers}."))
    pieces, answer = ask(kb)
    n, m = numbers(kb)["deposit"], numbers(kb)["returned"]
    assert n != m
    assert "".join(pieces) == f"{FACT} {streamed.format(deposit=n, returned=m)}."
    (sentence,) = answer.sentences
    # The model's own citations stand when one of them supports the sentence.
    assert sentence.citations == (n, m) and sentence.supported and not sentence.inferred
    assert answer.text == f"{FACT} [{n}, {m}]."
    assert [c.n for c in answer.citations] == [n, m]


def test_a_number_cited_twice_is_cited_once(scripted: Scripted) -> None:
    kb = scripted(citing(FACT + " [{deposit}] [{deposit}]."))
    _, answer = ask(kb)
    n = numbers(kb)["deposit"]
    assert answer.sentences[0].citations == (n,) and answer.text == f"{FACT} [{n}]."


@pytest.mark.parametrize(
    "script",
    [
        "I don't know.",
        "I do not know the answer.",
        "The passages do not mention a pet deposit.",
        "",
    ],
)
def test_an_abstention_is_reported_as_one(scripted: Scripted, script: str) -> None:
    kb = scripted(script)
    pieces, answer = ask(kb)
    assert "".join(pieces) == script
    assert answer.abstained and answer.text == IDK
    assert answer.citations == () and answer.sentences == () and answer.passages


def test_unsupported_sentence_is_shown_unless_strict(scripted: Scripted) -> None:
    script = citing(f"{FACT} [{{deposit}}]. {FABRICATED} [{{deposit}}].")
    kb = scripted(script)
    pieces, answer = ask(kb)
    n = numbers(kb)["deposit"]
    real, fabricated = answer.sentences
    assert real.supported and not fabricated.supported and fabricated.support < real.support
    assert answer.unsupported == (fabricated,)
    assert answer.text == f"{FACT} [{n}]. {FABRICATED} [{n}]." and not answer.abstained
    strict_pieces, strict = ask(kb, strict=True)
    # Strict changes what the answer says, not what was streamed or how it was checked.
    assert strict_pieces == pieces and strict.sentences == answer.sentences
    assert strict.text == f"{FACT} [{n}]." and not strict.abstained
    assert [c.n for c in strict.citations] == [n]


def test_nothing_supported_abstains_but_keeps_the_sentences(scripted: Scripted) -> None:
    kb = scripted(citing(FABRICATED + " [{deposit}]."))
    lenient = kb.ask(DEPOSIT)
    # An answer none of whose sentences is supported is no answer, strict or not; the
    # sentences stay in the answer for whoever wants to see the draft.
    assert lenient.abstained and lenient.unsupported == lenient.sentences
    assert lenient.citations == () and "supported" in lenient.text
    strict = kb.ask(DEPOSIT, strict=True)
    assert strict.abstained and "don't know" in strict.text and "supported" in strict.text
    assert strict.citations == () and strict.sentences == lenient.sentences


def test_an_answer_that_only_repeats_the_question_answers_nothing(scripted: Scripted) -> None:
    """Every word of "The security deposit the tenant pays" is in the question, and the
    passage covers them all; it is still no answer. Beside a sentence that adds the amount,
    the same words merely restate the question and pass."""
    echo = "The security deposit the tenant pays"
    answer = scripted(citing(echo + " [{deposit}].")).ask(DEPOSIT)
    assert answer.abstained and answer.unsupported == answer.sentences
    assert [s.text for s in answer.sentences] == [echo + "."]
    kb = scripted(citing(f"{echo} [{{deposit}}]. {FACT} [{{deposit}}]."))
    answer = kb.ask(DEPOSIT)
    assert not answer.abstained and not answer.unsupported and len(answer.sentences) == 2


def test_an_irrelevant_question_never_reaches_the_model(scripted: Scripted) -> None:
    kb = scripted("The deposit is $19,350.00 [1].")
    pieces, answer = ask(kb, "Which team won the 1954 football world cup final?")
    assert kb.generator.calls == []
    assert pieces == [answer.text] and answer.abstained and "don't know" in answer.text
    assert answer.passages and not answer.citations


def test_extractive_mode_never_calls_the_model(scripted: Scripted) -> None:
    kb = scripted("unused")
    answer = kb.ask(DEPOSIT, mode="extractive")
    assert kb.generator.calls == [] and answer.mode == "extractive"
    assert "$19,350.00" in answer.text
