"""The one text normalisation every loader's output goes through."""

from __future__ import annotations

import re
import unicodedata

_LIGATURES = {
    "\ufb00": "ff",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    "\ufb05": "st",
    "\ufb06": "st",
}
# No-break, typographic-width and ideographic spaces: word processors and HTML (&nbsp;) use
# them where a plain space is meant, and a search for "10 mg" must find "10\u00a0mg".
_SPACES = (
    "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u202f\u205f\u3000"
)
# Characters Python itself reads as line boundaries; deleting them would glue two lines' words.
_LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028"
# The other C0 and C1 controls (broken PDF font maps and latin-1 guesses produce them), soft
# hyphens, and zero-width characters that split a word for search without being visible.
_REMOVED = (
    [chr(code) for code in range(0x20) if chr(code) not in "\t\n" + _LINE_BREAKS]
    + [chr(code) for code in range(0x7F, 0xA0) if chr(code) not in _LINE_BREAKS]
    + ["\u00ad", "\u200b", "\u2060", "\ufeff"]
)
_REPLACEMENTS = {
    **_LIGATURES,
    **dict.fromkeys(_SPACES, " "),
    **dict.fromkeys(_LINE_BREAKS, "\n"),
    **dict.fromkeys(_REMOVED, ""),
    "\u2029": "\n\n",
}
# One regex pass with a lookup per hit: these characters are rare, and str.translate is
# ten times slower on any text that is not pure ASCII.
_SPECIAL = re.compile("[" + "".join(map(re.escape, _REPLACEMENTS)) + "]")
_NEWLINES = re.compile(r"\r\n?")
_SOFT_HYPHEN_BREAK = re.compile(r"\u00ad[ \t]*\n[ \t]*")
# Patterns start with a literal or match only what changes, so the scans stay fast.
_HYPHEN_BREAK = re.compile(r"-[ \t]*\n[ \t]*(?=\w)")
_INLINE_SPACE = re.compile(r" [ \t]+|\t[ \t]*")
_SPACE_AROUND_NEWLINE = re.compile(r" \n ?|\n ")
_BLANK_LINES = re.compile(r"\n{3,}")
_MAX_CAUSE = 120
# Parsers quote the bytes they choked on ("starting with b'}' @2: b'x\\x9c}\\x93...'"): a
# short printable quote is kept as text, anything longer is noise to a reader.
_BYTES_LITERAL = re.compile(r"""\bb(['"])((?:\\.|(?!\1).)*)(?:\1|$)""")
_MAX_QUOTE = 12
_VISIBLE = re.compile(r"[^\s" + "".join(map(re.escape, _REMOVED)) + "]")


def normalize_text(text: str) -> str:
    """Return ``text`` cleaned the same way whatever format it came from.

    NFC; ligatures (``ﬁ``, ``ﬂ``, ...) as letters; soft hyphens removed (a soft hyphen at
    a line end joins the word); a word hyphenated across a line end rejoined when both sides
    are lowercase ("treat-\\nment", not "COVID-\\n19"); no-break and other Unicode spaces as
    spaces; control characters other than newline and tab removed (those that separate
    lines become newlines); runs of spaces and tabs as one space; no spaces at line ends or
    starts; at most one blank line in a row; no surrounding whitespace.
    """
    text = _SOFT_HYPHEN_BREAK.sub("", _NEWLINES.sub("\n", text))
    # NFC after every removal, since removing a character between a letter and its accent
    # can make a composable pair.
    text = unicodedata.normalize("NFC", _SPECIAL.sub(_replacement, text))
    text = _HYPHEN_BREAK.sub(_join_hyphenated, text)
    text = _INLINE_SPACE.sub(" ", text)
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def normalize_label(text: str) -> str:
    """Return a title or heading as one normalised line (whitespace runs as one space)."""
    return " ".join(normalize_text(text).split())


def error_cause(error: BaseException) -> str:
    """A parser's exception as a short one-line reason, for a :class:`LoadError` message."""
    cause = normalize_label(_BYTES_LITERAL.sub(_quoted, str(error))) or type(error).__name__
    return cause if len(cause) <= _MAX_CAUSE else cause[: _MAX_CAUSE - 3] + "..."


def _quoted(match: re.Match[str]) -> str:
    inner = match.group(2)
    return f"'{inner}'" if len(inner) <= _MAX_QUOTE and "\\" not in inner else "(binary data)"


def has_text(text: str) -> bool:
    """Whether anything of ``text`` survives :func:`normalize_text`, without normalising it."""
    return _VISIBLE.search(text) is not None


def _replacement(match: re.Match[str]) -> str:
    return _REPLACEMENTS[match.group()]


def _join_hyphenated(match: re.Match[str]) -> str:
    start = match.start()
    left, right = match.string[start - 1] if start else "", match.string[match.end()]
    # "treat-\nment" was split by the typesetter; "COVID-\n19" or "Jean-\nPaul" were not.
    return "" if left.islower() and right.islower() else match.group(0)
