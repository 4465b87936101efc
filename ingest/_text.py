"""Plain-text loading and the byte-to-text decoding shared with the Markdown and HTML loaders."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
# A detection is trusted without a warning only when charset-normalizer both found the text
# clean (its "chaos", the share of implausible characters such as a lowercase letter between
# uppercase accented ones, at most _MAX_CHAOS) and recognised a language in it (letter
# frequencies matching one, "coherence", at least _MIN_COHERENCE). Short texts rarely reach
# a language: several code pages then read them equally cleanly, and the choice is a guess.
_MAX_CHAOS = 0.1
_MIN_COHERENCE = 0.3
# What legacy "ANSI" files in Western offices are, and what ragkit read them as before
# detection: preferred when the detector cannot tell candidates apart.
_WESTERN = "cp1252"
_warnings: ContextVar[list[str] | None] = ContextVar("ragkit_decode_warnings", default=None)


@contextmanager
def decode_warnings() -> Iterator[list[str]]:
    """Collect the warnings :func:`decode_text` gives while the block runs.

    The Markdown and HTML loaders decode deep inside their parsing and return only a title
    and sections, so ``load`` gathers the warnings here rather than through every loader.
    """
    collected: list[str] = []
    token = _warnings.set(collected)
    try:
        yield collected
    finally:
        _warnings.reset(token)


def decode_text(path: str | Path, data: bytes, declared: str | None = None) -> str:
    """Decode a text file's bytes to text with ``\\n`` line endings.

    Never fails on decoding. A BOM decides first; then ``declared`` (an encoding the file
    names itself, such as an HTML meta charset) if the bytes are valid in it; then UTF-8;
    otherwise the encoding is detected (charset-normalizer), which reads BOM-less UTF-16
    and legacy code pages such as cp1250 (Polish) or cp1251 (Russian). A detection made
    with low confidence is reported through :func:`decode_warnings`, naming the encoding
    chosen. Raises :class:`LoadError` only when the bytes look binary (NULs early on that
    are not UTF-16 or UTF-32 text) or hold nothing but whitespace.
    """
    text: str | None = None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            # A BOM is a promise about the encoding; keep what decodes rather than guess again.
            text = data.decode(encoding, errors="replace")
            break
    if text is None and b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        # NULs are valid UTF-8, so BOM-less UTF-16 must be recognised before UTF-8 is tried.
        text = _detected(data, wide_only=True)
        if text is None:
            raise LoadError(path, "looks like binary data, not text")
    if text is None:
        # A declaration that the bytes contradict (an old page saying utf-8 but saved in
        # cp1252, say) is wrong, so detection follows rather than inserting U+FFFD.
        for encoding in (*([declared] if declared else []), "utf-8"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            text = _detected(data, wide_only=False)
    if text is None:  # nothing reads the bytes cleanly: the old fixed rule, with a warning
        try:
            text, encoding = data.decode(_WESTERN), _WESTERN
        except UnicodeDecodeError:
            text, encoding = data.decode("latin-1"), "latin-1"
        _warn(encoding)
    text = _NEWLINES.sub("\n", text)
    if not text.strip():
        raise LoadError(path, "file is empty")
    return text


def _detected(data: bytes, *, wide_only: bool) -> str | None:
    """``data`` decoded in the encoding charset-normalizer finds, or None if it finds none
    (with ``wide_only``, none but UTF-16 or UTF-32: NULs in anything else mean binary)."""
    # Imported here: UTF-8 files, the common case, never pay for it.
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        return None
    if wide_only and not best.encoding.startswith(("utf_16", "utf_32")):
        return None
    confident = best.chaos <= _MAX_CHAOS and best.coherence >= _MIN_COHERENCE
    if not confident and not wide_only:
        # Equally clean candidates are tied, and charset-normalizer breaks the tie
        # arbitrarily (cp1006, Urdu, for "caf\xe9"); the Western code page is likelier.
        floor = best.chaos
        western = (m for m in matches if m.chaos <= floor and _WESTERN in m.could_be_from_charset)
        best = next(western, best)
    # Several code pages often give the same text; name the one users know.
    encoding = _WESTERN if _WESTERN in best.could_be_from_charset else best.encoding
    if not confident:
        _warn(encoding)
    # Decoded here rather than by str(best): the detector may have judged only samples of
    # a large file, and a stray byte elsewhere must not fail the load.
    return data.decode(encoding, errors="replace")


_metadata: ContextVar[dict[str, list[str]] | None] = ContextVar("ragkit_metadata", default=None)


@contextmanager
def found_metadata() -> Iterator[dict[str, list[str]]]:
    """Collect what loaders :func:`record` about a file while the block runs."""
    collected: dict[str, list[str]] = {}
    token = _metadata.set(collected)
    try:
        yield collected
    finally:
        _metadata.reset(token)


def record(key: str, values: list[str]) -> None:
    """Keep something the file says about itself that is not text to search (a running
    header taken out of every page) for the :func:`found_metadata` block in force."""
    collected = _metadata.get()
    if collected is not None and values:
        collected[key] = values


def warn(message: str) -> None:
    """Report something the reader should check although the file loads (a guessed
    encoding, a page cap reached) to the :func:`decode_warnings` block in force, if any."""
    collected = _warnings.get()
    if collected is not None:
        collected.append(message)


def _warn(encoding: str) -> None:
    warn(
        f"no encoding declared and none detected with confidence; read as {encoding}. "
        "If the text looks garbled, save the file as UTF-8 and add it again"
    )


def load_text(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Load a ``.txt`` file as one section, with no title of its own."""
    return None, (Section(decode_text(path, data)),)
