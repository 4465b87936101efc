"""Stand-ins for testing code built on ragkit: a generator that writes a script.

ragkit's checks (citations, support, abstention, streaming) are deterministic, but what a
language model writes is not the same on every CPU. Pass a :class:`ScriptedGenerator` to
:class:`ragkit.Assistant` to decide exactly what "the model" writes, piece by piece, and to
inspect the prompts it was given, the way httpx's ``MockTransport`` stands in for a server:

>>> from ragkit import Assistant
>>> from ragkit.testing import ScriptedGenerator
>>> model = ScriptedGenerator(["The deposit is $19,350.00 ", "[1]."])
>>> kb = Assistant("index.db", generator=model)  # doctest: +SKIP
>>> kb.ask("How large is the deposit?").citations  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "GeneratorCall",
    "Messages",
    "Script",
    "ScriptedGenerator",
    "Verdict",
    "word_pieces",
]

Messages = Sequence[dict[str, str]]
"""Chat messages as the Assistant builds them: ``{"role": ..., "content": ...}``."""

Script = str | Sequence[str] | Callable[[Messages], str | Iterable[str]]
"""What a :class:`ScriptedGenerator` writes: a text (streamed word by word), a sequence of
pieces (streamed exactly as split), or a function of the messages returning either."""

Verdict = float | Callable[[Messages], float]
"""A :class:`ScriptedGenerator`'s judgement of yes/no questions: log-odds of "yes" (above 0
leans yes), fixed or a function of the messages."""

_WORD_PIECE = re.compile(r"\s*\S+\s*|\s+")


def word_pieces(text: str) -> list[str]:
    """``text`` cut into pieces of one word each with the whitespace after it, as a model's
    tokens arrive; joined, the pieces give ``text`` back exactly."""
    return _WORD_PIECE.findall(text)


@dataclass(frozen=True)
class GeneratorCall:
    """One request a :class:`ScriptedGenerator` received."""

    messages: tuple[dict[str, str], ...]
    max_tokens: int
    temperature: float

    @property
    def prompt(self) -> str:
        """The last message's content: the numbered passages and the question."""
        return self.messages[-1]["content"] if self.messages else ""


class ScriptedGenerator:
    """A :class:`ragkit.TextGenerator` that writes a script instead of running a model.

    ``script`` is a text (streamed word by word), a sequence of pieces (streamed exactly as
    split, so a test can cut a ``[7]`` marker across two pieces), or a function that takes
    the messages and returns either, to answer each prompt differently. Every request is
    recorded in :attr:`calls`. Tokens are counted as whitespace-separated words, so prompt
    budgets are deterministic too.
    """

    def __init__(self, script: Script, *, name: str = "scripted", verdict: Verdict = 4.0) -> None:
        self._script = script
        self._verdict = verdict
        self._name = name
        self.calls: list[GeneratorCall] = []
        """Every request to write an answer, oldest first."""
        self.judged: list[tuple[dict[str, str], ...]] = []
        """Every yes/no question put to it as a judge, oldest first."""

    @property
    def name(self) -> str:
        """The name given (``"scripted"`` unless set), reported as the answer's model."""
        return self._name

    @property
    def last_call(self) -> GeneratorCall:
        """The most recent request (``AssertionError`` if there was none)."""
        assert self.calls, "the scripted generator was never asked to write anything"
        return self.calls[-1]

    def count_tokens(self, text: str) -> int:
        """Whitespace-separated words of ``text``."""
        return len(text.split())

    def prompt_tokens(self, messages: Messages) -> int:
        """Words of every message's content."""
        return sum(self.count_tokens(m["content"]) for m in messages)

    def stream(self, messages: Messages, *, max_tokens: int, temperature: float) -> Iterator[str]:
        """The script's pieces; the request is recorded as soon as it is made. A script
        function returning a generator is read lazily, piece by piece, as a model writes:
        a test can hold the model mid-answer."""
        self.calls.append(GeneratorCall(tuple(dict(m) for m in messages), max_tokens, temperature))
        script = self._script(messages) if callable(self._script) else self._script
        return iter(word_pieces(script) if isinstance(script, str) else script)

    def yes_odds(self, messages: Messages) -> float:
        """The scripted ``verdict``: a fixed log-odds of "yes" (4.0 unless set, a clear yes),
        or a function of the messages; the question is recorded in :attr:`judged`."""
        self.judged.append(tuple(dict(m) for m in messages))
        return float(self._verdict(messages) if callable(self._verdict) else self._verdict)
