"""PDF loading with pypdf: one section per page that has text, running headers and footers
left out, labelled with the PDF outline's heading path."""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragkit._errors import LoadError

from ._normalize import error_cause, has_text, normalize_label
from ._sections import _PATH_SEP
from ._types import Section

if TYPE_CHECKING:
    from pypdf import PdfReader

_DISCARD = logging.NullHandler()
_ENCRYPTED = "encrypted PDF; decrypt it first (e.g. qpdf --decrypt)"
_NEEDS_CRYPTOGRAPHY = (
    "encrypted PDF needs the 'cryptography' package (pip install cryptography),"
    " or decrypt it first (e.g. qpdf --decrypt)"
)
# Running headers and footers are looked for among the first and last lines of each page, in
# documents long enough that a line repeated at a page edge is layout, not content.
_EDGE_LINES = 2
_MIN_PAGES_FOR_RUNNING = 3
_DIGITS = re.compile(r"\d+")


def load_pdf(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Load a PDF as one section per page with text, numbered from 1.

    Running headers and footers are left out (see :func:`_drop_running_lines`), and each
    page is labelled with the heading path of the last outline entry (bookmark) starting on
    or before it. The title is the PDF's own metadata title, if any. Raises
    :class:`LoadError` for encrypted files that the empty password does not open, corrupt or
    truncated files, and files with no extractable text at all.
    """
    # Imported here so that commands which never read a PDF do not pay pypdf's import time.
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    # pypdf logs a warning for every oddity of a damaged file; with no handler configured,
    # Python prints them all on stderr, through the progress bar. The reason that matters
    # reaches the caller in the LoadError; an application that configures logging still
    # receives the records.
    logging.getLogger("pypdf").addHandler(_DISCARD)

    # pypdf raises many unrelated exception types on malformed input, so every failure
    # while parsing is caught broadly and reported as an unreadable PDF.
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise LoadError(path, _ENCRYPTED)
        pages = reader.pages
        n_pages = len(pages)
    except LoadError:
        raise
    except DependencyError:
        # pypdf decrypts AES only with an optional package; say so instead of "corrupt".
        raise LoadError(path, _NEEDS_CRYPTOGRAPHY) from None
    except Exception as error:
        raise LoadError(path, f"not a readable PDF: {error_cause(error)}") from error
    if n_pages == 0:
        raise LoadError(path, "not a readable PDF: no pages found")

    texts: list[str] = []
    for number in range(1, n_pages + 1):
        try:
            raw = pages[number - 1].extract_text()
        except DependencyError:
            raise LoadError(path, _NEEDS_CRYPTOGRAPHY) from None
        except Exception as error:
            raise LoadError(
                path, f"not a readable PDF: page {number}: {error_cause(error)}"
            ) from error
        texts.append(raw if has_text(raw) else "")
    if not any(texts):
        noun = "page" if n_pages == 1 else "pages"
        raise LoadError(
            path, f"no extractable text in {n_pages} {noun} (scanned images? run OCR first)"
        )
    headings = _outline_headings(reader, n_pages)
    # Empty pages are returned too, so that load() can report which pages had no text.
    sections = tuple(
        Section(text, page=number, heading=headings[number - 1])
        for number, text in enumerate(_drop_running_lines(texts), start=1)
    )
    return _title(reader), sections


def _drop_running_lines(pages: list[str]) -> list[str]:
    """Remove running headers and footers ("Firm LLP - Confidential", "Page 3 of 9").

    Repeated on every page they would be embedded into every chunk, drowning what tells the
    pages apart. A line among the first or last two non-empty lines of a page is one when,
    with digits ignored, it stands at a page edge on at least half the pages with text of a
    document of three or more such pages. A page that would be left without text keeps all
    of its lines.
    """
    with_text = sum(1 for text in pages if text)
    if with_text < _MIN_PAGES_FOR_RUNNING:
        return pages
    edges = [_edge_lines(text.splitlines()) for text in pages]
    seen = Counter(key for page_edges in edges for key in set(page_edges.values()))
    running = {key for key, n in seen.items() if n * 2 >= with_text}
    if not running:
        return pages
    kept_pages: list[str] = []
    for text, page_edges in zip(pages, edges, strict=True):
        lines = text.splitlines()
        kept = "\n".join(line for i, line in enumerate(lines) if page_edges.get(i) not in running)
        kept_pages.append(kept if has_text(kept) else text)
    return kept_pages


def _edge_lines(lines: list[str]) -> dict[int, str]:
    """The first and last few non-empty lines of a page: their index and comparison key."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    at_edges = filled[:_EDGE_LINES] + filled[-_EDGE_LINES:]
    # Page numbers change from page to page; the line around them does not.
    return {i: _DIGITS.sub("#", normalize_label(lines[i])).casefold() for i in at_edges}


def _outline_headings(reader: PdfReader, n_pages: int) -> list[str | None]:
    """For each page, the heading path of the last outline entry starting on or before it."""
    starts: list[tuple[int, int, str]] = []  # (page index, outline order, heading path)
    # The outline is optional decoration: pypdf raises all kinds of errors on a damaged one,
    # and a page without a heading is better than a document that does not load.
    try:
        for path, page in _walk_outline(reader, reader.outline, ()):
            if 0 <= page < n_pages:
                starts.append((page, len(starts), _PATH_SEP.join(path)))
    except Exception:
        pass
    starts.sort()
    headings: list[str | None] = []
    current: str | None = None
    position = 0
    for page in range(n_pages):
        while position < len(starts) and starts[position][0] <= page:
            current = starts[position][2]
            position += 1
        headings.append(current)
    return headings


def _walk_outline(
    reader: PdfReader, entries: list[Any], parents: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], int]]:
    """Yield each outline entry's heading path and 0-based page, in outline order.

    pypdf lists an entry's children as a nested list right after the entry.
    """
    path = parents
    for entry in entries:
        if isinstance(entry, list):
            yield from _walk_outline(reader, entry, path)
            continue
        label = normalize_label(str(entry.title or ""))
        path = (*parents, label) if label else parents
        page = reader.get_destination_page_number(entry)
        if label and page is not None:
            yield path, page


def _title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:
        return None
    return title if isinstance(title, str) else None
