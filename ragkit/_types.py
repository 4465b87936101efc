"""The values the public SDK returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, with where it came from and how it ranked."""

    chunk_id: int
    path: str
    title: str
    page: int | None
    heading: str | None
    text: str
    score: float
    """Reciprocal-rank-fusion score of the vector and full-text rankings (higher is better)."""
    similarity: float
    """Cosine similarity between the question and the chunk (−1..1)."""

    @property
    def location(self) -> str:
        """``file, p. 3`` or ``file > Heading``: where a person finds the passage."""
        name = self.path.rsplit("/", 1)[-1]
        if self.page is not None:
            return f"{name}, p. {self.page}"
        if self.heading:
            return f"{name} > {self.heading}"
        return name


@dataclass(frozen=True)
class Citation:
    """A passage the answer relies on, numbered as it was shown to the model."""

    n: int
    path: str
    page: int | None
    heading: str | None
    text: str
    score: float
    inferred: bool = False
    """True when the model gave no valid marker and ragkit attributed the answer itself."""


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class IngestFailure:
    """A file that could not be ingested, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
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


@dataclass
class IngestReport:
    """What one call to :meth:`Assistant.add` did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[IngestFailure] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    """Documents removed by ``prune`` because their files are gone."""
    warnings: list[IngestFailure] = field(default_factory=list)
    """Documents indexed with something missing, e.g. PDF pages with no extractable text."""
    chunks_embedded: int = 0

    @property
    def ok(self) -> bool:
        """True unless files were given and none of them could be ingested."""
        return not self.failed or bool(self.added or self.updated or self.unchanged)


@dataclass(frozen=True)
class IngestProgress:
    """Passed to the ``progress`` callback of :meth:`Assistant.add` after each file."""

    files_done: int
    files_total: int
    chunks_embedded: int
    path: str
