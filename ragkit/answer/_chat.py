"""Conversations: follow-up questions rewritten into standalone search queries.

"How much is its security deposit?" finds nothing useful on its own; retrieval needs to
know that "its" is the lease of Suite 410 asked about a turn earlier. By default the rewrite
needs no language model: a follow-up (a pronoun, an opening "and ..." / "what about ...",
or very few content words) has the salient words of the previous turn's query appended.
``rewrite="model"`` asks the generator for a standalone question instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ragkit._text import content_words, words
from ragkit._types import Answer, AskMode, Rewrite, check_choice
from ragkit.answer._stream import AnswerStream

if TYPE_CHECKING:
    # Typing only: the Assistant module imports this one to make chats.
    from ragkit._assistant import Assistant
    from ragkit.store import Filter

__all__ = ["Chat", "Turn", "standalone_query"]

_PRONOUNS = frozenset(
    "it its they them their theirs this that these those he him his she her hers there "
    "one ones such same former latter".split()
)
_OPENERS = re.compile(r"^\s*(and|also|what about|how about|and what about|what of|then)\b", re.I)
# A question with this few content words of its own rarely says what it is about.
_SHORT = 2
# At most this many words are carried over from earlier turns.
_CARRIED = 8
_FILLER = frozenset(
    "am much many long often far old big large cost costs know tell please thanks thank also "
    "about else more".split()
)

_REWRITE_SYSTEM = (
    "Rewrite the user's last question so that it can be understood without the conversation: "
    "replace pronouns with what they refer to. Reply with the rewritten question only."
)


def is_follow_up(question: str) -> bool:
    """Whether ``question`` leans on an earlier turn: a pronoun, an opener such as "and" or
    "what about", or too few content words to stand alone."""
    own = [w for w in content_words(question) if w not in _FILLER]
    pronoun = any(w.lower() in _PRONOUNS for w in words(question))
    return bool(_OPENERS.match(question)) or pronoun or len(own) <= _SHORT


def _salient(text: str, exclude: set[str]) -> list[str]:
    """The words of ``text`` worth carrying into a later query: names and numbers first,
    then other content words, in their original spelling, each once."""
    seen: set[str] = set()
    names: list[str] = []
    others: list[str] = []
    for i, token in enumerate(words(text)):
        key = token.lower()
        stem = next(iter(content_words(token)), "")
        # A lone lower-case letter is what is left of "landlord's" or "don't".
        if not stem or (len(token) == 1 and token.islower()):
            continue
        if key in _PRONOUNS or key in _FILLER or stem in exclude or stem in seen:
            continue
        seen.add(stem)
        named = token[0].isdigit() or (i > 0 and token[0].isupper())
        (names if named else others).append(token)
    return (names + others)[:_CARRIED]


def standalone_query(question: str, previous: Sequence[str]) -> str:
    """The search query for ``question`` after the earlier turns' queries ``previous``.

    A question that stands alone is returned as it is; a follow-up gets the salient words of
    the last query appended (which, for a chain of follow-ups, carries the first topic on).
    """
    if not previous or not is_follow_up(question):
        return question
    carried = _salient(previous[-1], content_words(question))
    return f"{question.strip()} {' '.join(carried)}".strip()


@dataclass(frozen=True, kw_only=True)
class Turn:
    """One exchange of a chat."""

    question: str
    query: str
    """What was searched for: the question, or its standalone rewrite."""
    answer: Answer


class Chat:
    """A conversation with the documents: each question may lean on the earlier ones.

    >>> chat = kb.chat()
    >>> chat.ask("Who is the tenant of Suite 410?").text
    >>> chat.ask("How much is its security deposit?").citations

    ``mode`` and ``rewrite`` are as for :meth:`Assistant.chat <ragkit.Assistant.chat>`; a
    value outside their choices raises :class:`~ragkit.ConfigError`.
    """

    def __init__(
        self,
        assistant: Assistant,
        *,
        where: Filter | None = None,
        mode: AskMode = "generate",
        strict: bool = False,
        rewrite: Rewrite = "words",
    ) -> None:
        check_choice("mode", mode, AskMode)
        check_choice("rewrite", rewrite, Rewrite)
        self.assistant = assistant
        self.where = where
        self.mode: AskMode = mode
        self.strict = strict
        self.rewrite: Rewrite = rewrite
        self.turns: list[Turn] = []

    def clear(self) -> None:
        """Forget the conversation so far."""
        self.turns.clear()

    def query_for(self, question: str) -> str:
        """The standalone search query ``question`` would be asked with now."""
        previous = [t.query for t in self.turns]
        if self.rewrite == "off" or not previous:
            return question
        if self.rewrite == "model":
            return self._model_rewrite(question, previous) if is_follow_up(question) else question
        return standalone_query(question, previous)

    def _model_rewrite(self, question: str, previous: list[str]) -> str:
        history = "\n".join(f"User: {t.question}" for t in self.turns[-3:])
        messages = [
            {"role": "system", "content": _REWRITE_SYSTEM},
            {"role": "user", "content": f"{history}\nUser: {question}"},
        ]
        text = "".join(self.assistant.generator.stream(messages, max_tokens=48, temperature=0.0))
        rewritten = text.strip().splitlines()[0].strip() if text.strip() else ""
        return rewritten or standalone_query(question, previous)

    def ask(self, question: str) -> Answer:
        """Answer ``question`` in the context of the conversation and remember the turn."""
        return self.ask_stream(question).answer

    def ask_stream(
        self, question: str, *, on_status: Callable[[str], None] | None = None
    ) -> AnswerStream:
        """As :meth:`ask`, streamed: iterate for the text as it is written, then read
        ``answer``. The turn is remembered once the answer is complete. ``on_status`` is
        told when a larger model takes over (see :meth:`Assistant.ask_stream`)."""
        query = self.query_for(question)
        earlier = self.turns[-1].question if self.turns and query != question else None
        result = self.assistant._ask(
            question,
            query,
            where=self.where,
            mode=self.mode,
            strict=self.strict,
            earlier=earlier,
            on_status=on_status,
        )

        def remember(_text: str) -> Answer:
            answer = result.answer
            self.turns.append(Turn(question=question, query=query, answer=answer))
            return answer

        return AnswerStream(iter(result), remember)
