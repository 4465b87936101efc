"""The prompt given to the generator, and the checking of the citations it writes."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from ragkit._types import AnswerSentence, Passage
from ragkit.answer._support import MARKER, ScoredSentence, marker_numbers

__all__ = [
    "IDK",
    "SYSTEM_PROMPT",
    "Excerpt",
    "build_messages",
    "drop_invalid_markers",
    "is_abstention",
    "parse_citations",
    "render",
    "trim_passages",
]

# Fixed and first in every prompt, so llama.cpp can reuse its KV cache across questions.
SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages the user gives you, in the "
    "language of the question. Start with the fact that was asked for (a name, number, date "
    "or short phrase), then add at most one short sentence if it is needed. After each "
    "sentence, cite the passage it comes from as [1], [2], etc. Use only facts stated in the "
    "passages. If the passages do not contain the answer, reply exactly: I don't know."
)
IDK = "I don't know."

_OPEN_TAIL = re.compile(r"\s*(?:\[[\d,\s]*)?$")
# Small models decline in a few stock phrasings besides the one they are asked for.
_IDK = re.compile(
    r"^\W*(i\s+do\s*n[o']?t\s+know|i\s+don't\s+know|i\s+cannot\s+answer"
    r"|(the\s+)?(given\s+)?passages?\s+do(es)?\s*n[o']?t\s+(contain|mention|say|state|provide)"
    r"|there\s+is\s+no\s+(information|mention))",
    re.I,
)


def format_passage(n: int, passage: Passage, text: str | None = None) -> str:
    return f"[{n}] ({passage.location})\n{passage.text if text is None else text}"


# Worked examples in the fixed prefix: small models copy the citation style they are shown
# far more reliably than one they are only told about.
_EXAMPLES = [
    (
        "Passages:\n\n[1] (library-rules.pdf, p. 1)\nThe reading room opens at 9 a.m. on "
        "weekdays and at 10 a.m. on Saturdays.\n\n[2] (loans.md > Borrowing)\nBooks may be "
        "borrowed for 21 days and renewed twice.\n\nQuestion: How long can I keep a book?",
        "21 days, and you can renew the loan twice [2].",
    ),
]


@dataclass(frozen=True)
class Excerpt:
    """A passage cut to the sentences shown to the model (``passage.text`` joins them)."""

    passage: Passage
    sentences: tuple[ScoredSentence, ...]


def trim_passages(
    passages: Sequence[Passage],
    scored: Sequence[Sequence[ScoredSentence]],
    *,
    budget: int,
    max_passages: int,
    per_passage: int,
    count_tokens: Callable[[str], int],
) -> list[Excerpt]:
    """The passages cut down to their most relevant sentences, within ``budget`` tokens.

    Sentences are taken best first (``scored`` holds one list per passage, from
    :func:`ragkit.answer._support.score_passages`): a passage joins while fewer than
    ``max_passages`` have, keeps at most ``per_passage`` sentences, and a sentence that
    would overflow the budget is skipped (the best one is always kept). Passages come back
    ordered by their best sentence, their sentences in reading order with "…" marking a gap;
    a sentence repeated by an overlapping chunk is kept once.
    """
    chosen: dict[int, list[int]] = {}
    seen: set[str] = set()
    used = 0
    for s in sorted((s for group in scored for s in group), key=lambda s: -s.score):
        if s.text in seen or len(chosen.get(s.passage, ())) >= per_passage:
            continue
        joining = s.passage not in chosen
        if joining and len(chosen) >= max_passages:
            continue
        cost = count_tokens(s.text)
        if joining:
            cost += count_tokens(format_passage(len(chosen) + 1, passages[s.passage], ""))
        if seen and used + cost > budget:
            continue
        chosen.setdefault(s.passage, []).append(s.position)
        seen.add(s.text)
        used += cost
    trimmed = []
    for index, positions in chosen.items():
        kept = [scored[index][position] for position in sorted(positions)]
        parts: list[str] = []
        for before, sentence in zip([None, *kept], kept, strict=False):
            if before is not None and sentence.position != before.position + 1:
                parts.append("…")
            parts.append(sentence.text)
        text = " ".join(parts)
        trimmed.append(Excerpt(dataclasses.replace(passages[index], text=text), tuple(kept)))
    return trimmed


def user_message(
    question: str,
    passages: Sequence[Passage],
    earlier: str | None = None,
    language: str | None = None,
) -> str:
    context = "\n\n".join(format_passage(n, p) for n, p in enumerate(passages, start=1))
    before = f"Earlier question: {earlier.strip()}\n" if earlier else ""
    after = f"\nAnswer in {language}." if language else ""
    return f"Passages:\n\n{context}\n\n{before}Question: {question.strip()}{after}"


def build_messages(
    question: str,
    passages: Sequence[Passage],
    *,
    earlier: str | None = None,
    language: str | None = None,
) -> list[dict[str, str]]:
    """Chat messages: system rules and worked examples (a fixed prefix), then the numbered
    passages, then the question (after the one it follows up, if any), then the language
    to answer in when it is named (see ``ragkit._language.answer_language``)."""
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for asked, answered in _EXAMPLES:
        messages += [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
    last = user_message(question, passages, earlier, language)
    return [*messages, {"role": "user", "content": last}]


def parse_citations(text: str) -> list[int]:
    """Every passage number cited as ``[n]`` or ``[n, m]``, in order of first appearance."""
    return list(dict.fromkeys(marker_numbers(text)))


def _drop_invalid(text: str, count: int) -> str:
    def keep(match: re.Match[str]) -> str:
        numbers = [p.strip() for p in match.group(2).split(",") if 1 <= int(p) <= count]
        return f"{match.group(1)}[{', '.join(numbers)}]" if numbers else ""

    return MARKER.sub(keep, text)


def drop_invalid_markers(pieces: Iterable[str], count: int) -> Iterator[str]:
    """Streamed ``pieces`` with every citation to a passage outside ``1..count`` removed.

    Text that may still turn into a marker (trailing spaces, an unclosed ``[12``) is held
    back until the next piece settles it, so an invalid number is never shown, even briefly.
    """
    pending = ""
    for piece in pieces:
        pending += piece
        hold = _OPEN_TAIL.search(pending)
        cut = hold.start() if hold else len(pending)
        if cut:
            yield _drop_invalid(pending[:cut], count)
            pending = pending[cut:]
    if pending:
        yield _drop_invalid(pending, count)


def render(sentences: Sequence[AnswerSentence]) -> str:
    """The answer's text from its checked sentences, each with its ``[n]`` before the stop."""
    return " ".join(s.cited_text for s in sentences)


def is_abstention(text: str) -> bool:
    """Whether the model declined ("I don't know ...")."""
    return bool(_IDK.match(text.strip()))
