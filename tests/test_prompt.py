"""Prompt construction and citation checking (pure logic)."""

from __future__ import annotations

from ragkit import Passage
from ragkit._prompt import SYSTEM_PROMPT, build_messages, is_abstention, parse_citations, strip_invalid
from ragkit._retrieval import fit_budget, rrf


def passage(n: int, text: str = "text", page: int | None = None) -> Passage:
    return Passage(n, f"/docs/f{n}.pdf", "t", page, None, text, 0.0, 0.5)


def test_messages_put_system_first_then_passages_then_question() -> None:
    msgs = build_messages("When?", [passage(1, "alpha", page=2), passage(2, "beta")])
    assert msgs[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    # Everything before the last message is the same for every question (KV-cache prefix).
    assert msgs[:3] == build_messages("Other?", [passage(3)])[:3]
    user = msgs[-1]["content"]
    assert user.index("[1] (f1.pdf, p. 2)\nalpha") < user.index("[2] (f2.pdf)\nbeta") < user.index(
        "Question: When?")


def test_parse_citations_handles_lists_and_repeats() -> None:
    assert parse_citations("A [2]. B [1, 3]. C [2].") == [2, 1, 3]
    assert parse_citations("no markers, [x] or [ ]") == []


def test_invalid_citations_are_removed() -> None:
    assert strip_invalid("Open at 8 [1]. Closed [7].", {1, 2}) == "Open at 8 [1]. Closed."
    assert strip_invalid("Both [1, 9].", {1}) == "Both [1]."


def test_abstention_detection() -> None:
    assert is_abstention("I don't know.")
    assert is_abstention("  I do not know the answer")
    assert not is_abstention("The clinic opens at 8. I don't know more.")


def test_rrf_rewards_agreement() -> None:
    fused = rrf([[1, 2, 3], [3, 1]], k=60)
    assert max(fused, key=fused.get) == 1
    assert fused[3] > fused[2]


def test_budget_keeps_leading_passages_and_at_least_one() -> None:
    ps = [passage(i, "w " * 10) for i in range(1, 5)]
    assert len(fit_budget(ps, 25, lambda t: len(t.split()))) == 2
    assert len(fit_budget(ps, 1, lambda t: len(t.split()))) == 1
