"""PDF loading with pypdf: one section per page that has text."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ragkit._errors import LoadError

from ._normalize import error_cause, has_text
from ._types import Section

if TYPE_CHECKING:
    from pypdf import PdfReader

_DISCARD = logging.NullHandler()
_ENCRYPTED = "encrypted PDF; decrypt it first (e.g. qpdf --decrypt)"
_NEEDS_CRYPTOGRAPHY = (
    "encrypted PDF needs the 'cryptography' package (pip install cryptography),"
    " or decrypt it first (e.g. qpdf --decrypt)"
)


def load_pdf(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Load a PDF as one section per page with text, numbered from 1.

    The title is the PDF's own metadata title, if any. Raises :class:`LoadError` for
    encrypted files that the empty password does not open, corrupt or truncated files, and
    files with no extractable text at all.
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

    sections: list[Section] = []
    for number in range(1, n_pages + 1):
        try:
            raw = pages[number - 1].extract_text()
        except DependencyError:
            raise LoadError(path, _NEEDS_CRYPTOGRAPHY) from None
        except Exception as error:
            raise LoadError(
                path, f"not a readable PDF: page {number}: {error_cause(error)}"
            ) from error
        # Empty pages are returned too, so that load() can report which pages had no text.
        sections.append(Section(raw if has_text(raw) else "", page=number))
    if not any(section.text for section in sections):
        noun = "page" if n_pages == 1 else "pages"
        raise LoadError(
            path, f"no extractable text in {n_pages} {noun} (scanned images? run OCR first)"
        )
    return _title(reader), tuple(sections)


def _title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:
        return None
    return title if isinstance(title, str) else None
