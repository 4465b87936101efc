"""AnswerStream: an answer's text as the model writes it, then the checked answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ragkit._types import Answer

__all__ = ["AnswerStream"]


class AnswerStream:
    """Iterate to receive the answer's text as it is written; then read :attr:`answer`.

    Returned by :meth:`Assistant.ask_stream <ragkit.Assistant.ask_stream>` and
    :meth:`Chat.ask_stream <ragkit.Chat.ask_stream>`.
    """

    def __init__(self, pieces: Iterator[str], finish: Callable[[str], Answer]) -> None:
        """``finish`` turns the whole text streamed from ``pieces`` into the checked answer."""
        self._pieces = pieces
        self._finish = finish
        self._text: list[str] = []
        self._answer: Answer | None = None

    @classmethod
    def ready(cls, answer: Answer) -> AnswerStream:
        """A one-piece stream of an answer known before any model runs."""
        return cls(iter([answer.text]), lambda _text: answer)

    def __iter__(self) -> Iterator[str]:
        try:
            for piece in self._pieces:
                self._text.append(piece)
                yield piece
        except GeneratorExit:
            self.close()
            raise
        self._finished()

    def close(self) -> None:
        """Stop the answer where it is: the model stops writing now, on this thread, and is
        free for the next question (a server does this when its client disconnects). Called
        too when an iteration over the stream is closed. :attr:`answer` is then unavailable."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()

    def _finished(self) -> Answer:
        if self._answer is None:
            self._answer = self._finish("".join(self._text))
        return self._answer

    @property
    def answer(self) -> Answer:
        """The checked answer with citations (consumes the rest of the stream if needed)."""
        for _ in self:
            pass
        return self._finished()
