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
from ._ocr import OCR_INSTALL_HINT, OcrError, OcrMode, ocr_unavailable, recognize_pages
from ._sections import _PATH_SEP
from ._text import record, warn
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
# Pages read per file unless Config.max_pages_per_file says otherwise. Far above any real
# document (a 2,000-page binder), far below a file built or broken to cost hours.
MAX_PAGES = 10_000


def load_pdf(
    path: Path,
    data: bytes,
    *,
    ocr: OcrMode = "auto",
    max_pages: int = MAX_PAGES,
    ocr_deadline: float | None = None,
    ocr_threads: int = 1,
) -> tuple[str | None, tuple[Section, ...]]:
    """Load a PDF as one section per page with text, numbered from 1.

    Pages without a text layer (scans) are read by OCR with ``ocr="auto"`` when it is
    installed, every page with ``"force"``, none with ``"off"``; their sections are marked
    ``ocr``. OCR runs on ``ocr_threads`` threads and stops with a warning once
    ``time.monotonic()`` passes ``ocr_deadline``.
    Only the first ``max_pages`` pages are read, with a warning when there are more.
    Running headers and footers are left out (see :func:`_drop_running_lines`), and each
    page is labelled with the heading path of the last outline entry (bookmark) starting on
    or before it. The title is the PDF's own metadata title, if any. Raises
    :class:`LoadError` for encrypted files that the empty password does not open, corrupt or
    truncated files, ``ocr="force"`` without OCR installed, and files with no text found.
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
    if n_pages > max_pages:
        warn(
            f"only the first {max_pages:,} of its {n_pages:,} pages were read; the rest of "
            "the file was skipped. To read all of it, raise Config.max_pages_per_file, "
            "remove the document from the index and add it again"
        )
        n_pages = max_pages

    texts: list[str] = []
    for number in range(1, n_pages + 1):
        if ocr == "force":
            texts.append("")
            continue
        try:
            raw = pages[number - 1].extract_text()
        except DependencyError:
            raise LoadError(path, _NEEDS_CRYPTOGRAPHY) from None
        except Exception as error:
            raise LoadError(
                path, f"not a readable PDF: page {number}: {error_cause(error)}"
            ) from error
        texts.append(raw if has_text(raw) else "")
    scanned = _recognize(path, data, texts, ocr, ocr_deadline, ocr_threads)
    if not any(texts):
        raise LoadError(path, _no_text(n_pages, ocr))
    headings = _outline_headings(reader, n_pages)
    # Empty pages are returned too, so that load() can report which pages had no text.
    sections = tuple(
        Section(text, page=number, heading=headings[number - 1], ocr=number in scanned)
        for number, text in enumerate(_drop_running_lines(texts), start=1)
    )
    return _title(reader), sections


def _no_text(n_pages: int, ocr: OcrMode) -> str:
    pages = f"{n_pages} page" if n_pages == 1 else f"{n_pages} pages"
    if ocr == "off":
        return f"no extractable text in {pages} (scanned images? set Config.ocr to 'auto')"
    if ocr_unavailable() is not None:
        return f"no extractable text in {pages} (scanned images? {OCR_INSTALL_HINT})"
    return f"no text in {pages}, neither extractable nor found by OCR (blank or pictures only?)"


def _recognize(
    path: Path, data: bytes, texts: list[str], ocr: OcrMode, deadline: float | None, threads: int
) -> set[int]:
    """Fill in the text of the pages without any by OCR, as ``ocr`` says; return their
    numbers. A page OCR finds nothing on stays empty (a blank page, a photo)."""
    wanted = [number for number, text in enumerate(texts, start=1) if not text]
    if ocr == "off" or not wanted:
        return set()
    unavailable = ocr_unavailable()
    if unavailable is not None:
        if ocr == "force":
            raise LoadError(path, unavailable)
        return set()  # the pages are reported as pages without text, with the hint
    scanned: set[int] = set()
    try:
        for number, text in recognize_pages(data, wanted, deadline, threads):
            scanned.add(number)
            if has_text(text):
                texts[number - 1] = text
    except OcrError as error:
        raise LoadError(path, str(error)) from None
    except MemoryError:
        raise
    except Exception as error:
        # PDFium may refuse a file or page that pypdf read: the pages read so far are kept.
        failed = min(set(wanted) - scanned)
        warn(
            f"OCR failed on page {failed} ({error_cause(error)}); that page and the scanned "
            "pages after it were not read"
        )
        return {number for number in scanned if texts[number - 1]}
    left = [number for number in wanted if number not in scanned]
    if left:
        warn(
            f"OCR stopped at the time limit after {len(scanned)} of {len(wanted)} scanned "
            f"pages; pages {left[0]}-{left[-1]} were not read. Raise Config.parse_timeout "
            "to read them, remove the document from the index and add it again"
        )
    return {number for number in scanned if texts[number - 1]}


def _drop_running_lines(pages: list[str]) -> list[str]:
    """Remove running headers and footers ("Firm LLP - Confidential", "Page 3 of 9").

    Repeated on every page they would be embedded into every chunk, drowning what tells the
    pages apart; each is kept once in the document's metadata (``running_lines``). A line
    among the first or last two non-empty lines of a page is one when,
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
    # Each running line once, as it first reads, in the document's metadata.
    first: dict[str, str] = {}
    for text, page_edges in zip(pages, edges, strict=True):
        lines = text.splitlines()
        for i, key in page_edges.items():
            if key in running:
                first.setdefault(key, normalize_label(lines[i]))
        kept = "\n".join(line for i, line in enumerate(lines) if page_edges.get(i) not in running)
        kept_pages.append(kept if has_text(kept) else text)
    record("running_lines", list(first.values()))
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
