"""HTML loading: the main text as heading-delimited sections, without page furniture."""

from __future__ import annotations

import codecs
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

from ._sections import SectionBuilder
from ._text import decode_text
from ._types import Section

# Never read: code, styling, and the navigation, banners and controls around the main text.
# Forms are dropped later, by how much of the page they hold (see load_html).
_DROPPED = frozenset(
    (
        "script style noscript template svg math nav header footer aside iframe object canvas "
        "button select"
    ).split()
)
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_BLOCKS = frozenset(
    """address article aside blockquote body caption center dd details dialog div dl dt fieldset
    figcaption form figure h1 h2 h3 h4 h5 h6 hr html legend li main ol p pre section summary table
    tbody td tfoot th thead tr ul""".split()
)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_CELLS = frozenset({"td", "th"})
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")  # HTML's whitespace; a no-break space is text
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
# The HTML standard looks for the charset in the first 1024 bytes; pages that put a long
# comment or script first still deserve their declaration.
_CHARSET_SNIFF_BYTES = 4096
_META_CHARSET = re.compile(
    rb"<meta\b[^>]*?\bcharset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.IGNORECASE
)
# The encodings of the WHATWG Encoding Standard, by their Python codec names. Anything else
# a page declares (a Python-only codec such as "rot13", say) is ignored.
_WEB_ENCODINGS = frozenset(
    [
        "utf-8",
        "cp866",
        "koi8-r",
        "koi8-u",
        "mac-roman",
        "mac-cyrillic",
        "cp874",
        "gbk",
        "gb18030",
        "big5",
    ]
    + ["euc_jp", "iso2022_jp", "shift_jis", "cp932", "euc_kr"]
    + [f"iso8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16)]
    + [f"cp{n}" for n in range(1250, 1259)]
)
# As browsers do: latin-1 and ASCII labels mean windows-1252, and a UTF-16 label found by
# reading the bytes as ASCII cannot be true.
_WEB_ALIASES = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "utf-16": "utf-8",
    "utf-16-le": "utf-8",
    "utf-16-be": "utf-8",
}

_IN_MAIN, _IN_ARTICLE, _IN_FORM = 1, 2, 4
_SCOPES = {"main": _IN_MAIN, "article": _IN_ARTICLE, "form": _IN_FORM}


def load_html(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Load an HTML page's readable text as sections delimited by its ``h1``-``h6`` headings.

    Scripts, styles, navigation, headers, footers, asides, controls and hidden elements are
    dropped (a ``<header>`` inside ``<main>`` or ``<article>`` is kept: it holds the
    article's own title), and so are forms unless they hold most of the text; when the page
    has a ``<main>`` (else ``<article>``) element with text, only its text is kept.
    Paragraphs and other blocks are separated by blank lines, the items of a list by single
    newlines, and table rows become lines with cells joined by " | ". The encoding comes
    from a BOM, else a ``<meta>`` charset, else UTF-8 or cp1252. The title is ``<title>``,
    else the first ``h1``. Malformed markup never raises.
    """
    return html_sections(decode_text(path, data, _declared_charset(data)))


def html_sections(html: str) -> tuple[str | None, tuple[Section, ...]]:
    """The title and sections of an HTML page already decoded, as :func:`load_html` reads
    them; for HTML that comes inside another format (an e-mail body, say)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    events = parser.events
    for scope in (_IN_MAIN, _IN_ARTICLE):
        inside = [event for event in events if event.scope & scope]
        if any(event.level is None for event in inside):
            events = inside
            break
    # A form's text (a search box's label, a login prompt) is dropped, unless the form holds
    # most of the page: old ASP.NET pages wrap their whole body in one <form>.
    in_forms = sum(len(event.text) for event in events if event.scope & _IN_FORM)
    if in_forms * 2 <= sum(len(event.text) for event in events):
        events = [event for event in events if not event.scope & _IN_FORM]
    builder = SectionBuilder()
    for event in events:
        if event.level is None:
            builder.text(event.text)
        else:
            builder.heading(event.level, event.text)
    return parser.title or builder.first_label(1), builder.sections()


def _declared_charset(data: bytes) -> str | None:
    found = _META_CHARSET.search(data, 0, _CHARSET_SNIFF_BYTES)
    return web_encoding(found.group(1).decode("ascii")) if found else None


def web_encoding(label: str) -> str | None:
    """The Python codec for a charset label as browsers and mail readers take it (latin-1
    read as windows-1252), or None for a label outside the web's encodings."""
    # Python knows "windows-1251" as "cp1251" and "x-mac-cyrillic" as "mac-cyrillic".
    label = re.sub(r"^windows-", "cp", label.strip().lower()).removeprefix("x-")
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError):  # ValueError: a NUL or a lone surrogate in a mail's label
        return None
    name = _WEB_ALIASES.get(name, name)
    return name if name in _WEB_ENCODINGS else None


class _Frame(NamedTuple):
    """An open element and what it means for the text inside it."""

    tag: str
    dropped: bool
    pre: bool
    scope: int  # _IN_MAIN | _IN_ARTICLE | _IN_FORM bits
    role: str | None  # what closing it finishes: "heading", "title", "cell", "row" or "table"
    block: str | None  # the innermost block element it is in, itself included


_ROOT = _Frame("", False, False, 0, None, None)


class _Event(NamedTuple):
    text: str
    level: int | None  # a heading's level; None for body text
    scope: int


class _Table:
    """The rows of an open table, and where its open row and cell sit on the element stack."""

    def __init__(self) -> None:
        self.rows: list[str] = []
        self.cells: list[str] = []
        self.row_depth: int | None = None
        self.cell_depth: int | None = None

    def end_row(self) -> None:
        if any(self.cells):
            self.rows.append(" | ".join(self.cells))
        self.cells = []


class _TextExtractor(HTMLParser):
    """Collects headings and text blocks, with their main/article scope, from a page.

    html.parser reports tags, not a tree, so this keeps its own stack of open elements: an
    end tag closes every element left open inside it, as browsers do, and the end of a
    block or of a dropped element is known however broken the markup is.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[_Event] = []
        self.title: str | None = None
        self._stack: list[_Frame] = []
        self._open: Counter[str] = Counter()
        # Text goes to the last sink: the body text, or an open heading, title or cell.
        self._sinks: list[list[str]] = [[]]
        # The open heading or title (only one: neither opens inside the other) and its depth.
        self._capture: tuple[str, int] | None = None
        self._tables: list[_Table] = []
        self._list_tail = False  # whether the last event is a run of list items

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        top = self._top()
        if top.dropped:
            if tag not in _VOID:
                self._push(top._replace(tag=tag, role=None))
            return
        if tag in _VOID:
            if tag == "br":
                self._sinks[-1].append("\n" if len(self._sinks) == 1 else " ")
            elif tag == "hr":
                self._break(top)
            return
        self._close_implied(tag)
        top = self._top()
        scope = top.scope | _SCOPES.get(tag, 0)
        if self._drops(tag, attrs, scope):
            self._push(_Frame(tag, True, False, scope, None, None))
            return
        if tag in _BLOCKS:
            self._break(top)
        role = self._open_role(tag)
        self._push(
            _Frame(
                tag,
                False,
                top.pre or tag == "pre",
                scope,
                role,
                tag if tag in _BLOCKS else top.block,
            )
        )

    def handle_endtag(self, tag: str) -> None:
        if self._open[tag]:
            while self._pop().tag != tag:
                pass
        elif tag == "br":
            self.handle_starttag(tag, [])  # browsers read a stray </br> as <br>
        elif tag == "p":
            self._break(self._top())  # and a stray </p> as an empty paragraph

    def handle_data(self, data: str) -> None:
        top = self._top()
        if not top.dropped:
            self._sinks[-1].append(data if top.pre else _HTML_SPACE.sub(" ", data))

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        """Skip ``<![...>`` as browsers do outside SVG and MathML: as a bogus comment.

        html.parser raises AssertionError on an unknown keyword (``<![foo[``) instead.
        """
        end = self.rawdata.find(">", i + 3)
        return -1 if end == -1 else end + 1

    def close(self) -> None:
        """Finish parsing, closing every element still open."""
        super().close()
        while self._stack:
            self._pop()
        self._break(_ROOT)

    def _top(self) -> _Frame:
        return self._stack[-1] if self._stack else _ROOT

    def _push(self, frame: _Frame) -> None:
        self._stack.append(frame)
        self._open[frame.tag] += 1

    def _pop_to(self, depth: int) -> None:
        while len(self._stack) > depth:
            self._pop()

    def _close_implied(self, tag: str) -> None:
        """Close what a start tag implies is finished, as browsers do for omitted end tags."""
        if self._capture is not None:
            kind, depth = self._capture
            # A heading ends at the next heading; a title at the first block of the body.
            if (kind == "heading" and tag in _HEADINGS) or (kind == "title" and tag in _BLOCKS):
                self._pop_to(depth)
        if self._tables and tag in ("td", "th", "tr"):
            table = self._tables[-1]
            stop = table.cell_depth if tag != "tr" or table.row_depth is None else table.row_depth
            if stop is not None:
                self._pop_to(stop)
            if tag == "tr":
                table.end_row()

    @staticmethod
    def _drops(tag: str, attrs: list[tuple[str, str | None]], scope: int) -> bool:
        # A <header> inside <main> or <article> holds the article's own title, not a banner.
        if tag in _DROPPED and not (tag == "header" and scope & (_IN_MAIN | _IN_ARTICLE)):
            return True
        values = dict(attrs)
        return (
            "hidden" in values
            or (values.get("aria-hidden") or "").strip().lower() == "true"
            or _HIDDEN_STYLE.search(values.get("style") or "") is not None
        )

    def _open_role(self, tag: str) -> str | None:
        depth = len(self._stack)
        if (
            self._capture is None
            and len(self._sinks) == 1
            and (tag in _HEADINGS or (tag == "title" and self.title is None))
        ):
            role = "heading" if tag in _HEADINGS else "title"
            self._capture = (role, depth)
            self._sinks.append([])
            return role
        if tag == "table":
            self._tables.append(_Table())
            return "table"
        if self._tables and tag == "tr":
            self._tables[-1].row_depth = depth
            return "row"
        if self._tables and tag in _CELLS:
            self._tables[-1].cell_depth = depth
            self._sinks.append([])
            return "cell"
        return None

    def _pop(self) -> _Frame:
        frame = self._stack.pop()
        self._open[frame.tag] -= 1
        if frame.role in ("heading", "title"):
            self._capture = None
            text = _one_line(self._sinks.pop())
            if frame.role == "title":
                self.title = text or None
            else:
                self._emit(text, _HEADINGS[frame.tag], frame.scope)
        elif frame.role == "cell":
            self._tables[-1].cells.append(_one_line(self._sinks.pop()))
            self._tables[-1].cell_depth = None
        elif frame.role == "row":
            self._tables[-1].end_row()
            self._tables[-1].row_depth = None
        elif frame.role == "table":
            table = self._tables.pop()
            table.end_row()
            if len(self._sinks) > 1:
                self._sinks[-1].append(" " + " ".join(table.rows) + " ")  # a table in a cell
            elif table.rows:
                self._break(frame)
                self._emit("\n".join(table.rows), None, frame.scope)
        if frame.tag in _BLOCKS and not frame.dropped:
            self._break(frame)
        return frame

    def _break(self, owner: _Frame) -> None:
        """End the current block of text, which belongs to the element ``owner``."""
        if len(self._sinks) > 1:
            self._sinks[-1].append(" ")  # a block inside a heading or cell stays on its line
            return
        text = "".join(self._sinks[0]).strip()
        self._sinks[0] = []
        if text:
            self._emit(text, None, owner.scope, list_item=owner.block == "li")

    def _emit(self, text: str, level: int | None, scope: int, *, list_item: bool = False) -> None:
        if list_item and self._list_tail:
            # Items of one list stay on consecutive lines of one block.
            self.events[-1] = self.events[-1]._replace(text=self.events[-1].text + "\n" + text)
        else:
            self.events.append(_Event(text, level, scope))
        self._list_tail = list_item


def _one_line(parts: list[str]) -> str:
    return " ".join("".join(parts).split())
