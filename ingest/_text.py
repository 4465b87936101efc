"""Plain-text loading and the byte-to-text decoding shared with the Markdown and HTML loaders."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from ragkit._errors import LoadError

from ._types import Section

# Checked longest first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BINARY_SNIFF_BYTES = 8192
_NEWLINES = re.compile(r"\r\n?")


def decode_text(path: str | Path, data: bytes, declared: str | None = None) -> str:
    """Decode a text file's bytes to text with ``\\n`` line endings.

    Never fails on decoding. A BOM decides first; then ``declared`` (an encoding the file
    names itself, such as an HTML meta charset) if the bytes are valid in it; then UTF-8,
    cp1252 (what most legacy "ANSI" files are) and finally latin-1, which accepts every
    byte. Raises :class:`LoadError` only when the bytes look binary (a NUL early on with no
    UTF-16 BOM) or hold nothing but whitespace.
    """
    text: str | None = None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            # A BOM is a promise about the encoding; keep what decodes rather than guess again.
            text = data.decode(encoding, errors="replace")
            break
    if text is None:
        if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
            raise LoadError(path, "looks like binary data, not text")
        # A declaration that the bytes contradict (an old page saying utf-8 but saved in
        # cp1252, say) is wrong, so guessing continues rather than inserting U+FFFD.
        for encoding in (*([declared] if declared else []), "utf-8", "cp1252"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            text = data.decode("latin-1")
    text = _NEWLINES.sub("\n", text)
    if not text.strip():
        raise LoadError(path, "file is empty")
    return text


def load_text(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Load a ``.txt`` file as one section, with no title of its own."""
    return None, (Section(decode_text(path, data)),)
