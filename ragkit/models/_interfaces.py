"""What the Assistant needs of an encoder and a generator, so either can be swapped in.

:class:`~ragkit.models.Encoder` and :class:`~ragkit.models.Generator` implement these on
onnxruntime and llama.cpp; tests and embedders pass their own to ``Assistant(...)`` (see
:mod:`ragkit.testing` for a scripted generator).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["TextEncoder", "TextGenerator", "encode_queries", "encoder_languages"]


@runtime_checkable
class TextEncoder(Protocol):
    """Texts to L2-normalised float32 vectors of a fixed width."""

    @property
    def dims(self) -> int:
        """Width of the vectors."""
        ...

    @property
    def fingerprint(self) -> str:
        """Identifies the vectors this encoder makes; an index refuses any other."""
        ...

    @property
    def recipe(self) -> str:
        """How the model was built, recorded in the index beside the fingerprint."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """A ``[len(texts), dims]`` float32 array, rows of unit length: the vectors of
        passages. An encoder may also define ``encode_queries(texts)`` (same contract) for
        questions, e.g. to add a query prefix; :func:`encode_queries` uses it when present.
        """
        ...

    def chunking_tokenizer(self) -> Tokenizer:
        """The tokenizer chunks are counted with (no padding, no truncation)."""
        ...


def encode_queries(encoder: TextEncoder, texts: Sequence[str]) -> np.ndarray:
    """Embed questions with ``encoder``: its ``encode_queries`` when it has one (an optional
    method, so encoders written against the protocol before it keep working), else
    ``encode``."""
    method = getattr(encoder, "encode_queries", None)
    vectors: np.ndarray = method(texts) if callable(method) else encoder.encode(texts)
    return vectors


def encoder_languages(encoder: TextEncoder) -> frozenset[str] | None:
    """The languages ``encoder`` was trained on (ISO 639-1 codes), from its optional
    ``languages`` attribute; None when it does not say (taken as any language)."""
    languages = getattr(encoder, "languages", None)
    return frozenset(languages) if languages is not None else None


@runtime_checkable
class TextGenerator(Protocol):
    """A chat model that streams its answer and can judge a yes/no question."""

    @property
    def name(self) -> str:
        """Names the model in answers ("written by ..."): a pack name for packs."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's vocabulary."""
        ...

    def stream(
        self, messages: Sequence[dict[str, str]], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        """Yield the answer's text in pieces as it is written."""
        ...

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> int:
        """Tokens of the rendered prompt."""
        ...

    def yes_odds(self, messages: Sequence[dict[str, str]]) -> float:
        """Log-odds that the reply to ``messages`` (a yes/no question) starts with "yes"."""
        ...
