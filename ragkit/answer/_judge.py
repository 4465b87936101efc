"""The judge: a language model asked whether a passage states a sentence as the answer.

Shared words are not enough: "90 days [4]" for "How long do we keep a closed matter file?"
shares its number and words with a passage about backups. The judge reads the cited
passage, the question and the sentence, and its log-odds of replying "yes" rather than "no"
are compared with ``Config.judge_threshold``. The instructions come first and never change,
so llama.cpp keeps them in its KV cache and each verdict costs only the passage, the
question and the sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragkit._types import AnswerSentence, Passage
from ragkit.models._interfaces import TextGenerator

__all__ = ["JUDGE_SYSTEM", "judge_messages", "judge_sentences"]

JUDGE_SYSTEM = "You check an answer against a source passage. Reply with yes or no only."


def judge_messages(passage: str, question: str, sentence: str) -> list[dict[str, str]]:
    """The yes/no question put to the judge about one sentence and one passage."""
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {
            "role": "user",
            "content": f"Passage: {passage.strip()}\n\nQuestion: {question.strip()}\n"
            f"Answer: {sentence.strip()}\n\n"
            "Does the passage state that this is the answer to the question?",
        },
    ]


def judge_sentences(
    judge: TextGenerator,
    question: str,
    sentences: Sequence[AnswerSentence],
    passages: Sequence[Passage],
    *,
    threshold: float,
) -> list[AnswerSentence]:
    """Each sentence with the judge's verdict on the passages it cites (the best one counts).

    A sentence the lexical check already rejected is not judged: missing words are decisive
    on their own, and the judge is the costly step.
    """
    judged = []
    for sentence in sentences:
        if not sentence.supported:
            judged.append(sentence)
            continue
        verdict = max(
            judge.yes_odds(judge_messages(passages[n - 1].text, question, sentence.text))
            for n in sentence.citations
        )
        judged.append(
            AnswerSentence(
                text=sentence.text,
                citations=sentence.citations,
                support=sentence.support,
                supported=verdict >= threshold,
                inferred=sentence.inferred,
                verdict=verdict,
            )
        )
    return judged
