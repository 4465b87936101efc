"""The format registry, and reading one file through the loader for its format."""

from __future__ import annotations

import dataclasses
import errno
import functools
import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

from ragkit._errors import LoadError
from ragkit._hashing import sha256_file

from ._docx import load_docx
from ._email import load_email
from ._html import load_html
from ._markdown import load_markdown
from ._normalize import normalize_label, normalize_text
from ._ocr import OcrMode
from ._odt import load_odt
from ._pdf import MAX_PAGES, load_pdf
from ._pptx import load_pptx
from ._rtf import load_rtf
from ._table import load_csv, load_workbook
from ._text import decode_warnings, found_metadata, load_text
from ._types import Document, Section

# A loader turns a file's bytes into its own title (None: use the file stem) and its
# sections. It may return raw text: ``load`` normalises every section and drops empty ones.
Loader = Callable[[Path, bytes], tuple[str | None, tuple[Section, ...]]]

# The format registry. Adding a format: a loader module, its import above, and one line here.
_LOADERS: dict[str, Loader] = {
    ".txt": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".pdf": load_pdf,
    ".html": load_html,
    ".htm": load_html,
    ".docx": load_docx,
    ".odt": load_odt,
    ".pptx": load_pptx,
    ".eml": load_email,
    ".rtf": load_rtf,
    ".csv": load_csv,
    ".tsv": load_csv,
    ".xlsx": load_workbook,
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_LOADERS)
MAX_FILE_BYTES = 64 << 20
_MB = 1 << 20
_IS_DIRECTORY = "is a directory, not a file"


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes, read in blocks.

    Lets a caller skip an unchanged file before parsing it. Raises :class:`LoadError` when
    the file cannot be read, or is not a regular file: a named pipe or a device (say, an
    indexed file since replaced by one) is refused without waiting on it or reading it.
    """
    try:
        return sha256_file(path)
    except OSError as error:
        raise LoadError(path, _describe(error)) from error


def load(
    path: str | Path,
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    ocr: OcrMode = "auto",
    max_pages: int = MAX_PAGES,
    ocr_deadline: float | None = None,
    ocr_threads: int = 1,
) -> Document:
    """Read one file and return it as a :class:`Document` of located sections.

    The format is chosen by suffix (see ``SUPPORTED_SUFFIXES``). Every section's text goes
    through :func:`normalize_text`; sections left empty are dropped. A file larger than
    ``max_file_bytes`` (default ``MAX_FILE_BYTES``, 64 MB) is refused before it is read,
    so a huge file never fills memory. PDF pages without a text layer are read by OCR as
    ``ocr`` says (``"auto"``: when installed; ``"force"``: every page; ``"off"``), OCR
    running on ``ocr_threads`` threads and stopping with a warning once
    ``time.monotonic()`` passes ``ocr_deadline``; only the
    first ``max_pages`` pages of a PDF are read, with a warning. Any file that cannot be
    read or parsed raises :class:`LoadError` naming the path and the reason; no other
    exception escapes for bad file content.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise LoadError(path, unsupported_reason(suffix))
    if loader is load_pdf:
        # Pages, and so OCR and the page cap, are PDF's alone among the formats.
        loader = functools.partial(
            load_pdf,
            ocr=ocr,
            max_pages=max_pages,
            ocr_deadline=ocr_deadline,
            ocr_threads=ocr_threads,
        )
    try:
        # Non-blocking, so that a named pipe is refused below instead of waiting for a writer.
        with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as stream:
            info = os.fstat(stream.fileno())
            if stat.S_ISDIR(info.st_mode):
                raise LoadError(path, _IS_DIRECTORY)
            if not stat.S_ISREG(info.st_mode):
                raise LoadError(path, "not a regular file (a pipe, socket or device)")
            if info.st_size > max_file_bytes:
                raise LoadError(path, _too_big(info.st_size, max_file_bytes))
            # Bounded even so: the file may grow while it is read.
            data = stream.read(max_file_bytes + 1)
    except OSError as error:
        raise LoadError(path, _describe(error)) from error
    if len(data) > max_file_bytes:
        raise LoadError(path, _too_big(None, max_file_bytes))
    if not data or data.isspace():
        raise LoadError(path, "file is empty")
    with decode_warnings() as warnings, found_metadata() as metadata:
        title, raw_sections = loader(path, data)
    normalized = [_normalized(section) for section in raw_sections]
    sections = tuple(section for section in normalized if section.text)
    if not sections:
        raise LoadError(path, "no text found")
    blank = tuple(s.page for s in normalized if not s.text and s.page is not None)
    return Document(
        path=path.resolve(),
        title=normalize_label(title or "") or path.stem,
        sections=sections,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        mtime=info.st_mtime,
        pages_without_text=blank,
        warnings=tuple(warnings),
        metadata=metadata,
    )


def unsupported_reason(suffix: str) -> str:
    """Why a file whose (lowercased) suffix is ``suffix`` is not indexed, and what to do."""
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
    return (
        f"unsupported file type {suffix or '(no suffix)'} (ragkit reads {supported}); "
        "convert it to one of these to index it"
    )


def _normalized(section: Section) -> Section:
    heading = normalize_label(section.heading) if section.heading else None
    return dataclasses.replace(section, text=normalize_text(section.text), heading=heading or None)


def _too_big(size: int | None, limit: int) -> str:
    stated = "over" if size is None else f"{_size(size)}, over"
    return f"file is {stated} the {_size(limit)} limit; raise max_file_bytes to index it"


def _size(n_bytes: int) -> str:
    # Rounded up, so a file just over the limit never reads as equal to it.
    if n_bytes < _MB:
        return f"{-(-n_bytes // 1024)} KB"
    return f"{-(-n_bytes * 10 // _MB) / 10:.1f}".removesuffix(".0") + " MB"


def _describe(error: OSError) -> str:
    if error.errno == errno.ENOENT:
        return "no such file or directory"
    if error.errno == errno.EISDIR:
        return _IS_DIRECTORY
    if error.errno in (errno.EACCES, errno.EPERM):
        return "cannot read file: permission denied"
    return f"cannot read file: {error.strerror or error}"
