"""The prompt given to the generator, and the checking of the citations it writes."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragkit._types import Passage

__all__ = ["SYSTEM_PROMPT", "IDK", "build_messages", "parse_citations", "strip_invalid", "is_abstention"]

# Fixed and first in every prompt, so llama.cpp can reuse its KV cache across questions.
SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages the user gives you. "
    "Answer in one to three short sentences. After each sentence, cite the passage it comes "
    "from as [1], [2], etc. Use only facts stated in the passages. If the passages do not "
    "contain the answer, reply exactly: I don't know."
)
IDK = "I don't know."

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_IDK = re.compile(r"^\W*(i\s+do\s*n[o']?t\s+know|i\s+don't\s+know|i\s+cannot\s+answer)", re.I)


def format_passage(n: int, passage: Passage) -> str:
    return f"[{n}] ({passage.location})\n{passage.text}"


# A worked example in the fixed prefix: small models copy the citation style they are shown
# far more reliably than one they are only told about.
_EXAMPLE_USER = (
    "Passages:\n\n[1] (library-rules.pdf, p. 1)\nThe reading room opens at 9 a.m. on weekdays "
    "and at 10 a.m. on Saturdays.\n\n[2] (loans.md > Borrowing)\nBooks may be borrowed for 21 "
    "days and renewed twice.\n\nQuestion: How long can I keep a book?"
)
_EXAMPLE_ANSWER = "You can borrow a book for 21 days and renew it twice [2]."


def user_message(question: str, passages: Sequence[Passage]) -> str:
    context = "\n\n".join(format_passage(n, p) for n, p in enumerate(passages, start=1))
    return f"Passages:\n\n{context}\n\nQuestion: {question.strip()}"


def build_messages(question: str, passages: Sequence[Passage]) -> list[dict[str, str]]:
    """Chat messages: system rules and a worked example (a fixed prefix), then the numbered
    passages, then the question."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": _EXAMPLE_USER},
        {"role": "assistant", "content": _EXAMPLE_ANSWER},
        {"role": "user", "content": user_message(question, passages)},
    ]


def parse_citations(text: str) -> list[int]:
    """Every passage number cited as ``[n]`` or ``[n, m]``, in order of first appearance."""
    seen: dict[int, None] = {}
    for match in _MARKER.finditer(text):
        for part in match.group(1).split(","):
            seen.setdefault(int(part), None)
    return list(seen)


def strip_invalid(text: str, valid: set[int]) -> str:
    """``text`` with every citation number outside ``valid`` removed (and empty markers)."""

    def keep(match: re.Match[str]) -> str:
        numbers = [p.strip() for p in match.group(1).split(",") if int(p) in valid]
        return f"[{', '.join(numbers)}]" if numbers else ""

    cleaned = _MARKER.sub(keep, text)
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()


def is_abstention(text: str) -> bool:
    """Whether the model declined ("I don't know ...")."""
    return bool(_IDK.match(text.strip()))
