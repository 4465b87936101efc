"""The values the public SDK returns, and the literal types of its ``mode=`` and ``rewrite=``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from ragkit._errors import ConfigError

__all__ = [
    "Answer",
    "AnswerSentence",
    "AskMode",
    "Citation",
    "Conflict",
    "DocumentInfo",
    "IngestFailure",
    "IngestProgress",
    "IngestReport",
    "Passage",
    "Rewrite",
    "SearchMode",
    "check_choice",
]

AskMode = Literal["generate", "extractive"]
"""How an answer is made: ``"generate"`` (the language model writes it) or ``"extractive"``
(the documents' best sentences, quoted, no language model)."""
SearchMode = Literal["hybrid", "dense", "bm25"]
"""How passages are ranked: ``"hybrid"`` (vector and BM25 ranks fused), ``"dense"`` (vectors
only) or ``"bm25"`` (full text only)."""
Rewrite = Literal["words", "model", "off"]
"""How a chat turns a follow-up into a standalone query: carry over the earlier query's
salient ``"words"``, ask the generator (``"model"``), or not at all (``"off"``)."""


def check_choice(setting: str, value: object, choices: Any) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of the ``Literal`` ``choices``.

    A typo in ``mode=`` would otherwise fall through to some other behaviour silently.
    """
    allowed = get_args(choices)
    if value not in allowed:
        raise ConfigError(f"{setting}={value!r} is not one of {', '.join(map(repr, allowed))}.")


@dataclass(frozen=True, kw_only=True)
class Passage:
    """A retrieved chunk, with where it came from and how it ranked."""

    chunk_id: int
    path: str
    title: str
    page: int | None
    heading: str | None
    text: str
    rank_score: float
    """The score the search ranked by, higher is better: the weighted sum of the vector and
    full-text rankings' standardised scores in ``"hybrid"`` mode, the cosine similarity in
    ``"dense"`` mode, the BM25 score in ``"bm25"`` mode. Comparable only within one search."""
    similarity: float
    """Cosine similarity between the question and the chunk (-1..1)."""
    ocr: bool = False
    """The text was recognised by OCR from a scanned page: check the page before relying on
    a figure or a name in it."""
    language: str = "und"
    """The language its document is written in (ISO 639-1), "und" when it could not be told."""

    @property
    def location(self) -> str:
        """``file, p. 3`` or ``file > Heading``: where a person finds the passage (``file,
        p. 3 (OCR)`` when its text was recognised from a scan)."""
        name = self.path.rsplit("/", 1)[-1]
        if self.page is not None:
            return f"{name}, p. {self.page}" + (" (OCR)" if self.ocr else "")
        if self.heading:
            return f"{name} > {self.heading}"
        return name


@dataclass(frozen=True, kw_only=True)
class Citation:
    """A passage the answer relies on, numbered as it was shown to the model."""

    n: int
    path: str
    page: int | None
    heading: str | None
    text: str
    similarity: float
    """Cosine similarity between the question and the passage (-1..1)."""
    inferred: bool = False
    """True when the model gave no valid marker and ragkit attributed the answer itself."""
    ocr: bool = False
    """The passage's text was recognised by OCR from a scanned page (see :attr:`Passage.ocr`)."""


@dataclass(frozen=True, kw_only=True)
class AnswerSentence:
    """One sentence of an answer, checked against the passages the model was given."""

    text: str
    """The sentence without its ``[n]`` markers."""
    citations: tuple[int, ...]
    """Numbers of the passages (1-based, as in ``Answer.passages``) it rests on."""
    support: float
    """How well the best cited passage backs it: the share of the sentence's new words
    (those not in the question) found there plus half the encoder cosine to its closest
    sentence (about 0..1.5)."""
    supported: bool
    """Whether ``support`` reaches ``Config.support_threshold`` and, where a judge ran, its
    ``verdict`` reaches ``Config.judge_threshold``."""
    inferred: bool = False
    """True when ragkit chose the citations: the model cited nothing that supports it."""
    verdict: float | None = None
    """The judge's log-odds that the cited passage states this sentence as an answer to the
    question (above ``Config.judge_threshold`` passes); ``None`` when no judge ran (the
    lexical check failed first, or the judge is off)."""

    @property
    def cited_text(self) -> str:
        """The sentence with its ``[n]`` markers before the final stop."""
        text = self.text
        marker = f" [{', '.join(map(str, self.citations))}]" if self.citations else ""
        stop = text[-1] if text[-1] in ".!?" else ""
        return f"{text[: len(text) - len(stop)]}{marker}{stop or '.'}"


@dataclass(frozen=True, kw_only=True)
class Conflict:
    """Two given passages that disagree on a figure an answer sentence states: the one it
    cites gives ``figure``, another document's passage a different one about the same thing."""

    sentence: int
    """Index of the answer sentence in ``Answer.sentences``."""
    figure: str
    """The figure as the sentence states it, e.g. ``$19,350.00``."""
    passage: int
    """Number of the cited passage stating ``figure`` (1-based, as in ``Answer.passages``)."""
    other_figure: str
    """The different figure, as the other passage states it, e.g. ``$0.00``."""
    other_passage: int
    """Number of the passage stating ``other_figure``."""
    other_text: str
    """The sentence of the other passage that states ``other_figure``."""

    @property
    def summary(self) -> str:
        """``[1] gives $19,350.00, [2] gives $0.00``: the disagreement, as answers state it."""
        other = f"[{self.other_passage}] gives {self.other_figure}"
        return f"[{self.passage}] gives {self.figure}, {other}"


@dataclass(frozen=True, kw_only=True)
class Answer:
    """An answer with its citations and the passages it was given."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    abstained: bool = False
    """True when ragkit (or the model) declined to answer from the documents."""
    invalid_citations: tuple[int, ...] = ()
    """Markers the model wrote that point at no given passage; removed from ``text``."""
    prompt_tokens: int = 0
    sentences: tuple[AnswerSentence, ...] = ()
    """Every sentence the model wrote, with its citations and support (in strict mode the
    unsupported ones are left out of ``text`` but kept here)."""
    mode: AskMode = "generate"
    """``"generate"`` (the language model wrote it) or ``"extractive"`` (quoted sentences)."""
    note: str = ""
    """Why the answer is not what was asked for, e.g. extractive because no generator pack."""
    model: str | None = None
    """The generator that wrote the answer (a pack name); ``None`` when no model wrote it."""
    escalated: bool = False
    """True when a smaller model's answer failed its check and a larger one answered."""
    conflicts: tuple[Conflict, ...] = ()
    """Figures of the answer that another given passage contradicts; the text says so and
    the other passage is cited too."""

    @property
    def unsupported(self) -> tuple[AnswerSentence, ...]:
        """The sentences no given passage supports well enough."""
        return tuple(s for s in self.sentences if not s.supported)

    def as_dict(self) -> dict[str, Any]:
        """The answer as JSON-ready data (``ragkit ask --json``, the server's ``ragkit``
        field): its text, flags, sentences with support, citations, conflicts, passages."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "mode": self.mode,
            "model": self.model,
            "escalated": self.escalated,
            "note": self.note,
            "sentences": [asdict(s) for s in self.sentences],
            "citations": [asdict(c) for c in self.citations],
            "invalid_citations": list(self.invalid_citations),
            "conflicts": [asdict(c) for c in self.conflicts],
            "passages": [asdict(p) for p in self.passages],
        }


@dataclass(frozen=True, kw_only=True)
class IngestFailure:
    """A file that could not be ingested, and why."""

    path: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class DocumentInfo:
    """A document held in the index."""

    path: str
    title: str
    chunks: int
    size: int
    mtime: float
    sha256: str
    added_at: float
    collection: str | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, list[str]] = field(default_factory=dict)
    """What the file says about itself that is kept out of its passages, e.g. a PDF's
    running headers and footers, once each, as ``{"running_lines": [...]}``."""
    language: str = "und"
    """The language detected at ingest (ISO 639-1, "und" when it could not be told); its
    words are indexed for full-text search by that language's stemmer."""


@dataclass(kw_only=True)
class IngestReport:
    """What one call to :meth:`Assistant.add` did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[IngestFailure] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    """Documents removed by ``prune`` because their files are gone."""
    warnings: list[IngestFailure] = field(default_factory=list)
    """Documents indexed with something to check: PDF pages with no extractable text, text
    whose encoding was not declared and could not be detected with confidence, or a file
    cut short at ``Config.max_chunks_per_file`` chunks."""
    skipped: list[IngestFailure] = field(default_factory=list)
    """Files in the given folders of a type ragkit does not read, with the reason. Unlike
    ``failed`` they leave ``ok`` true: folders hold images and other files besides documents."""
    chunks_embedded: int = 0
    seconds: float = 0.0
    """How long the call took."""

    @property
    def ok(self) -> bool:
        """True unless files were given and none of them could be ingested."""
        return not self.failed or bool(self.added or self.updated or self.unchanged)


@dataclass(frozen=True, kw_only=True)
class IngestProgress:
    """Passed to the ``progress`` callback of :meth:`Assistant.add` after each file."""

    files_done: int
    files_total: int
    chunks_embedded: int
    path: str
