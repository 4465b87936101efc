"""The value types that flow out of ``ragkit.ingest``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Section:
    """A located piece of a document: one PDF page or slide, one heading's body, or a whole
    text file.

    ``page`` is the 1-based PDF page or PPTX slide number; ``heading`` is the heading path
    (Markdown, HTML, DOCX or ODT headings) such as ``"Leave policy > Sick leave"``. Chunks
    never cross a section, so both stay exact.
    """

    text: str
    page: int | None = None
    heading: str | None = None
    ocr: bool = False
    """The text was recognised from an image of the page (a scan), so it may hold misreadings."""


@dataclass(frozen=True)
class Document:
    """A loaded file: its sections plus what is needed to notice later that it changed."""

    path: Path
    title: str
    sections: tuple[Section, ...]
    sha256: str
    size: int
    mtime: float
    pages_without_text: tuple[int, ...] = ()
    """PDF pages that yielded no text (scans, images): reported, not silently dropped."""
    warnings: tuple[str, ...] = ()
    """What the reader should check although the file loaded, e.g. an encoding guessed."""
    metadata: dict[str, list[str]] = field(default_factory=dict)
    """What the file says about itself that is kept out of its chunks, e.g. a PDF's running
    headers and footers as ``{"running_lines": [...]}``, each once."""


@dataclass(frozen=True)
class Chunk:
    """A piece of a section small enough for the encoder.

    ``text`` is exactly ``section.text[start:end]`` so a citation can point back into the
    section; ``n_tokens`` counts encoder tokens without the special tokens.
    """

    text: str
    ordinal: int
    page: int | None
    heading: str | None
    start: int
    end: int
    n_tokens: int
    ocr: bool = False
    """The section's text was recognised from a scanned page (see :attr:`Section.ocr`)."""
