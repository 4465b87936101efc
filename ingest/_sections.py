"""Turning a stream of headings and text blocks into heading-delimited sections."""

from __future__ import annotations

from collections.abc import Iterable

from ._types import Section

_PATH_SEP = " > "
# Longer "headings" are body text in a heading style (or an unclosed <h2>); as a path they
# would ride along with every chunk of the section.
_MAX_LABEL_CHARS = 200


class SectionBuilder:
    """Collects headings and text blocks in document order into one section per heading.

    Each section carries its heading path (``"Leave policy > Sick leave"``) and starts with
    its heading line, which helps retrieval. A heading directly followed by a subheading has
    nothing of its own to retrieve, so its section is dropped (its name lives on in the
    subsections' paths) unless the document has nothing but headings.
    """

    def __init__(self) -> None:
        self._open: list[tuple[int, str]] = []  # (level, label) of the headings in force
        self._path: str | None = None
        self._blocks: list[str] = []
        self._has_body = False
        self._with_body: list[Section] = []
        self._heading_only: list[Section] = []
        self._first_labels: dict[int, str] = {}

    def heading(self, level: int, label: str, line: str | None = None) -> None:
        """Start a section under a heading of ``level`` (smaller is higher).

        ``line`` is how the heading reads in the section's text (the raw Markdown line,
        say); it defaults to ``label``. A heading whose line is blank is ignored, and one
        whose label is over 200 characters is added as text.
        """
        label = " ".join(label.split())
        line = label if line is None else line.strip()
        if len(label) > _MAX_LABEL_CHARS:
            self.text(line)
            return
        if not line:
            return
        self._close()
        while self._open and self._open[-1][0] >= level:
            self._open.pop()
        self._open.append((level, label))
        if label:
            self._first_labels.setdefault(level, label)
        self._path = _PATH_SEP.join(name for _, name in self._open if name) or None
        self._blocks = [line]

    def text(self, block: str) -> None:
        """Add a block of body text (a paragraph, a list, a table) to the current section."""
        block = block.strip()
        if block:
            self._blocks.append(block)
            self._has_body = True

    def first_label(self, level: int) -> str | None:
        """The first non-empty heading label seen at ``level``, if any (a title candidate)."""
        return self._first_labels.get(level)

    def sections(self) -> tuple[Section, ...]:
        """The sections so far, blocks separated by blank lines."""
        self._close()
        return tuple(self._with_body or self._heading_only)

    def _close(self) -> None:
        if self._blocks:
            section = Section("\n\n".join(self._blocks), heading=self._path)
            (self._with_body if self._has_body else self._heading_only).append(section)
        self._blocks = []
        self._has_body = False


def table_text(rows: Iterable[Iterable[str]]) -> str:
    """A table as a text block: one line a row, cells joined by " | ", rows with no text left
    out, so a row reads as one statement ("Sick | 10") whatever the format it came from."""
    lines = []
    for row in rows:
        cells = [" ".join(cell.split()) for cell in row]
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)
