"""RTF loading: the text of a Rich Text Format file, read by striprtf within bounds."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from striprtf.striprtf import font_table_group, rtf_to_text

from ragkit._errors import LoadError

from ._normalize import error_cause
from ._text import decode_text
from ._types import Section

_RTF_START = re.compile(rb"\s*\{\\rtf")
_CODE_PAGE = re.compile(rb"\\ansicpg([0-9]{1,5})")
_HEADER_BYTES = 4096
# Pictures and embedded objects are stored as long runs of hex digits; striprtf would walk
# them a character at a time in Python (12 s for 5 MB), only to drop them.
# Matched only from a run's start, so runs just short of the length cost linear time too.
_HEX_RUN = re.compile(r"(?<![0-9a-fA-F\n])[0-9a-fA-F\n]{512,}")
# striprtf takes about a second per MB of markup, so this bounds a file to a quarter minute.
_MAX_MARKUP_CHARS = 16 << 20
# Word nests groups a few tens deep; striprtf keeps a frame per open group, and a file of
# nothing but "{" would take 90 bytes of memory per byte of file.
_MAX_DEPTH = 1000
_BRACES = re.compile(r"\\[\\{}]|[{}]")
# striprtf runs two regular expressions whose run time grows with the square of a line's
# length: one for hyperlinks over the whole text, one for fonts over the font table. A line
# break before each group and each font number ("\f1") keeps every line short. RTF ignores
# line breaks in its markup except right after a "\", so the escapes "\\", "\{" and "\}"
# are matched whole (and a break put after them) rather than split.
_LINE_BREAK_AT = re.compile(r"\\[\\{}]|(?=\{|\\f[0-9])")
_TITLE = re.compile(r"\{\\title\b ?([^{}]*)\}")


def load_rtf(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Load an ``.rtf`` file's text as one section; the title is the document's
    ``{\\info{\\title ...}}``, if any.

    Bytes outside ASCII are read in the code page the file declares (``\\ansicpg``); the
    text's own ``\\'xx`` and ``\\u`` escapes are decoded as the file's fonts say. Raises
    :class:`LoadError` for a file that does not start with ``{\\rtf``, over 16 MB of markup
    once pictures are left out, groups nested over 1,000 deep, or markup striprtf fails on.
    """
    if not _RTF_START.match(data):
        raise LoadError(path, "not an RTF file: it does not start with {\\rtf")
    code_page = _code_page(data)
    markup = _HEX_RUN.sub("", decode_text(path, data, code_page))
    if len(markup) > _MAX_MARKUP_CHARS:
        raise LoadError(
            path,
            f"{len(markup) / (1 << 20):.1f} MB of RTF markup without its pictures, over the "
            f"{_MAX_MARKUP_CHARS >> 20} MB limit; save it as .docx or .txt to index it",
        )
    if _depth(markup) > _MAX_DEPTH:
        raise LoadError(path, f"RTF groups nested over {_MAX_DEPTH:,} deep; the file looks damaged")
    encoding = code_page or "cp1252"
    title = _TITLE.search(markup)
    # striprtf raises what its parsing meets: ValueError for a "\bin" without a length,
    # OverflowError for "\u99999999999", TypeError for "\uc" without a number, LookupError
    # for a Mac font charset Python has no codec for.
    try:
        text = rtf_to_text(_bounded(markup), encoding, "replace")
        title_text = rtf_to_text(f"{{\\rtf1 {title[1]}}}", encoding, "replace") if title else None
    except Exception as error:
        raise LoadError(path, f"not a readable RTF file: {error_cause(error)}") from error
    return title_text, (Section(text),)


def _code_page(data: bytes) -> str | None:
    found = _CODE_PAGE.search(data, 0, _HEADER_BYTES)
    if found is None:
        return None
    name = f"cp{int(found[1])}"
    try:
        codecs.lookup(name)
    except LookupError:
        return None
    return name


def _depth(markup: str) -> int:
    """How deep the markup's groups nest at most (escaped braces are text, not groups)."""
    depth = deepest = 0
    for brace in _BRACES.finditer(markup):
        if brace[0] == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif brace[0] == "}":
            depth -= 1
    return deepest


def _bounded(markup: str) -> str:
    """``markup`` laid out so that striprtf's regular expressions run in linear time."""
    markup = _LINE_BREAK_AT.sub("\\g<0>\n", markup)
    fonts = font_table_group(markup)
    if not fonts:
        return markup
    # The font pattern ends each font at a ";" and, without one after it, tries every later
    # position in the table; one at the table's end, where it is not output, stops that.
    end = markup.index(fonts) + len(fonts) - fonts.endswith("}")
    return f"{markup[:end]};{markup[end:]}"
