"""PDF loading with pypdf: one section per page that has text."""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from ragkit._errors import LoadError

from ._types import Section

if TYPE_CHECKING:
    from pypdf import PdfReader

_LIGATURES = str.maketrans(
    {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st"}
)
_HYPHENATED = re.compile(r"(?<=\w)-[ \t]*\n[ \t]*(?=\w)")
# Broken font maps make pypdf emit C0 control characters; they only add noise.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_INLINE_SPACE = re.compile(r"[^\S\n]+")
_SPACE_AROUND_NEWLINE = re.compile(r" ?\n ?")
_BLANK_LINES = re.compile(r"\n{3,}")
_MAX_CAUSE = 120
_ENCRYPTED = "encrypted PDF; decrypt it first (e.g. qpdf --decrypt)"
_NEEDS_CRYPTOGRAPHY = (
    "encrypted PDF needs the 'cryptography' package (pip install cryptography),"
    " or decrypt it first (e.g. qpdf --decrypt)"
)


def normalise_pdf_text(text: str) -> str:
    """Undo the typesetting artefacts of extracted PDF text.

    Ligatures become letters, words hyphenated across a line end are rejoined when both
    sides are lowercase, runs of spaces collapse, and paragraph breaks (blank lines) stay.
    """
    text = unicodedata.normalize("NFC", text.translate(_LIGATURES))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00ad\n", "")
    text = _CONTROL.sub("", text)
    text = _HYPHENATED.sub(_join_hyphenated, text)
    text = _INLINE_SPACE.sub(" ", text)
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def _join_hyphenated(match: re.Match[str]) -> str:
    left, right = match.string[match.start() - 1], match.string[match.end()]
    # "treat-\nment" was split by the typesetter; "COVID-\n19" or "Jean-\nPaul" were not.
    return "" if left.islower() and right.islower() else match.group(0)


def _short(error: BaseException) -> str:
    cause = " ".join(str(error).split()) or type(error).__name__
    return cause if len(cause) <= _MAX_CAUSE else cause[: _MAX_CAUSE - 3] + "..."


def load_pdf(path: Path, data: bytes) -> tuple[str, tuple[Section, ...]]:
    """Load a PDF as one section per page with text, numbered from 1.

    Raises :class:`LoadError` for encrypted files that the empty password does not open,
    corrupt or truncated files, and files with no extractable text at all.
    """
    # Imported here so that commands which never read a PDF do not pay pypdf's import time.
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

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
    except Exception as error:  # noqa: BLE001 - see above
        raise LoadError(path, f"not a readable PDF: {_short(error)}") from error
    if n_pages == 0:
        raise LoadError(path, "not a readable PDF: no pages found")

    sections: list[Section] = []
    for number in range(1, n_pages + 1):
        try:
            raw = pages[number - 1].extract_text()
        except DependencyError:
            raise LoadError(path, _NEEDS_CRYPTOGRAPHY) from None
        except Exception as error:  # noqa: BLE001 - see above
            raise LoadError(path, f"not a readable PDF: page {number}: {_short(error)}") from error
        text = normalise_pdf_text(raw or "")
        if text:
            sections.append(Section(text, page=number))
    if not sections:
        noun = "page" if n_pages == 1 else "pages"
        raise LoadError(path, f"no extractable text in {n_pages} {noun} (scanned images? run OCR first)")
    return _title(reader) or path.stem, tuple(sections)


def _title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # noqa: BLE001 - a broken info dictionary only costs the title
        return None
    if not isinstance(title, str):
        return None
    return " ".join(title.split()) or None
