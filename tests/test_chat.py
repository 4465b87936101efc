"""Conversations: follow-ups rewritten into standalone queries, the Chat object, `ragkit chat`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Assistant, Config
from ragkit.answer._chat import is_follow_up, standalone_query
from ragkit.cli import main

from .helpers import Scripted


@pytest.mark.parametrize(
    "question,follows",
    [
        ("How much is its security deposit?", True),
        ("And on Saturdays?", True),
        ("What about the side effects?", True),
        ("Who is the tenant of Suite 410?", False),
        ("What are the side effects of ibuprofen?", False),
    ],
)
def test_follow_ups_are_recognised(question: str, follows: bool) -> None:
    assert is_follow_up(question) is follows


def test_standalone_query_carries_the_earlier_topic() -> None:
    assert standalone_query(
        "How much is its security deposit?", ["Who is the tenant of Suite 410?"]
    ).endswith("Suite 410 tenant")
    # Names and numbers first; words the follow-up already has are not repeated.
    query = standalone_query("And on Saturdays?", ["When does Riverbend Family Clinic close?"])
    assert query == "And on Saturdays? Riverbend Family Clinic close"
    assert standalone_query("Who is the landlord?", []) == "Who is the landlord?"
    alone = "What does the landlord charge for after-hours HVAC?"
    assert standalone_query(alone, ["Who is the tenant?"]) == alone


def test_pronoun_follow_up_retrieves_the_right_source(samples_copy: Path, config: Config) -> None:
    with Assistant(samples_copy, config) as kb:
        chat = kb.chat(mode="extractive")
        chat.ask("Who is the tenant of Suite 410?")
        answer = chat.ask("How much is its security deposit?")
        assert "$19,350.00" in answer.text
        assert (Path(answer.citations[0].path).name, answer.citations[0].page) == (
            "office-lease.pdf",
            2,
        )
        assert [t.question for t in chat.turns] == [
            "Who is the tenant of Suite 410?",
            "How much is its security deposit?",
        ]
        assert "Suite 410" in chat.turns[1].query
        chat.clear()
        assert not chat.turns and chat.query_for("How much is it?") == "How much is it?"


def test_follow_up_shows_the_model_the_earlier_question(scripted: Scripted) -> None:
    kb = scripted("The deposit is $19,350.00 [1].")
    chat = kb.chat()
    chat.ask("Who is the tenant of Suite 410?")
    stream = chat.ask_stream("How much is its security deposit?")
    assert "".join(stream) == "The deposit is $19,350.00 [1]." and stream.answer.citations
    first, follow_up = (call.prompt for call in kb.generator.calls)  # type: ignore[attr-defined]
    assert "Earlier question" not in first
    assert follow_up.endswith(
        "\n\nEarlier question: Who is the tenant of Suite 410?\n"
        "Question: How much is its security deposit?"
    )
    assert "$19,350.00" in follow_up  # the rewritten query found the deposit
    assert [t.answer for t in chat.turns][-1] == stream.answer and len(chat.turns) == 2


def test_chat_repl_streams_answers_sources_and_commands(samples_index: Path, home: Path) -> None:
    lines = [
        "Who is the tenant of Suite 410?",
        "How much is its security deposit?",
        "/sources",
        "/nope",
        "/clear",
        "/sources",
        "/exit",
    ]
    result = CliRunner().invoke(
        main,
        [
            "--home",
            str(home),
            "--generator",
            "smollm2-135m-q4_1",
            "--db",
            str(samples_index),
            "chat",
        ],
        input="\n".join(lines) + "\n",
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.count("Sources") + out.count("Closest passages") >= 2
    assert "office-lease.pdf" in out
    assert "searched for: How much is its security deposit? Suite 410" in out
    assert "unknown command /nope" in out and "conversation cleared" in out
    assert "no answer yet" in out  # /sources after /clear
