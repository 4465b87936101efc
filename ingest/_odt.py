"""ODT (OpenDocument text) loading: headings, paragraphs, lists and tables from content.xml
in the zip, plus footnotes, endnotes and comments as attributed sections."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from xml.etree import ElementTree

from ragkit._errors import LoadError

from ._sections import SectionBuilder, table_text
from ._types import Section
from ._zipxml import DC_TITLE, found, open_package

_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_H, _P, _NOTE = f"{_TEXT}h", f"{_TEXT}p", f"{_TEXT}note"
_TABLE_TABLE, _ROW, _CELL = f"{_TABLE}table", f"{_TABLE}table-row", f"{_TABLE}table-cell"
_ANNOTATION, _BODY_TEXT = f"{_OFFICE}annotation", f"{_OFFICE}text"
_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
_OUTLINE_LEVEL, _NOTE_CLASS = f"{_TEXT}outline-level", f"{_TEXT}note-class"
# text:s stands for text:c spaces, but runs of spaces become one in normalize_text anyway.
_MARKS = {f"{_TEXT}s": " ", f"{_TEXT}tab": "\t", f"{_TEXT}line-break": "\n"}
# Notes and comments become sections of their own; text:number is the list or outline
# number as last rendered, which Word documents do not carry either.
_ASIDE = frozenset({_NOTE, _ANNOTATION, f"{_TEXT}number"})
# The text that tracked deletions removed, and indexes generated from the headings and
# captions (a table of contents would match every query about any heading).
_SKIPPED = frozenset(
    {f"{_TEXT}tracked-changes"}
    | {
        f"{_TEXT}{index}"
        for index in (
            "table-of-content",
            "illustration-index",
            "table-index",
            "object-index",
            "user-index",
            "alphabetical-index",
        )
    }
)
# In OpenDocument, line ends and tabs in the XML are spaces; text:line-break and text:tab
# are the real ones.
_XML_WHITESPACE = re.compile(r"[\t\n\r]")
_CONTENT, _META, _MANIFEST = "content.xml", "meta.xml", "META-INF/manifest.xml"
_ENCRYPTION = "{urn:oasis:names:tc:opendocument:xmlns:manifest:1.0}encryption-data"
_KINDS = ("footnote", "endnote")


def load_odt(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Load an ``.odt`` file: headings (``text:h``, by outline level) as heading paths;
    paragraphs, list items and tables as text, table rows as lines with cells joined by
    " | ". Deleted tracked changes and generated indexes are left out.

    The title is the metadata's title, else the first level-1 heading. Footnotes, endnotes
    (each headed by the mark the document shows, "Footnote 1") and comments ("Comment by
    A. Keller") follow the body as sections of their own, as for .docx.

    Raises :class:`LoadError` for password-protected files, files that are not a readable
    zip or lack ``content.xml``, invalid XML, and a ``content.xml`` that would expand past
    50 MB or more than 100 times its compressed size (a zip bomb).
    """
    ole = "a legacy Microsoft Office file, not OpenDocument; save it as .odt"
    with open_package(path, data, ".odt", ole_reason=ole) as package:
        manifest = package.optional_xml(_MANIFEST)
        # The manifest stays readable in an encrypted file; the parts are ciphertext.
        if manifest is not None and next(manifest.iter(_ENCRYPTION), None) is not None:
            raise LoadError(path, "encrypted ODT; save it without a password first")
        content = package.read(_CONTENT)
        meta = package.optional_xml(_META)
    builder = SectionBuilder()
    asides: list[ElementTree.Element] = []
    for element in content.children(3, parent=_BODY_TEXT):
        _add_blocks(element, builder)
        asides.extend(found(element, (_NOTE, _ANNOTATION), _SKIPPED))
    title = meta.findtext(f"{_OFFICE}meta/{DC_TITLE}") if meta is not None else None
    return title or builder.first_label(1), builder.sections() + _aside_sections(asides)


def _blocks(element: ElementTree.Element) -> Iterator[ElementTree.Element]:
    """The headings, paragraphs (list items among them) and tables in ``element``."""
    return found(element, (_H, _P, _TABLE_TABLE), _SKIPPED)


def _add_blocks(element: ElementTree.Element, builder: SectionBuilder) -> None:
    for block in _blocks(element):
        if block.tag == _TABLE_TABLE:
            builder.text(_table_text(block))
        elif block.tag == _H:
            builder.heading(_outline_level(block), _inline_text(block))
        else:
            builder.text(_inline_text(block))


def _blocks_text(element: ElementTree.Element) -> str:
    texts = (
        _table_text(block) if block.tag == _TABLE_TABLE else _inline_text(block)
        for block in _blocks(element)
    )
    return "\n\n".join(text.strip() for text in texts if text.strip())


def _aside_sections(asides: Iterable[ElementTree.Element]) -> tuple[Section, ...]:
    """Footnotes, endnotes, then comments, each its own section (see docx's
    ``_side_sections`` for why a note is not spliced into the sentence citing it)."""
    sections: dict[str, list[Section]] = {kind: [] for kind in (*_KINDS, "comment")}
    for aside in asides:
        if aside.tag == _ANNOTATION:
            author = " ".join((aside.findtext(_CREATOR) or "").split())
            heading = f"Comment by {author}" if author else "Comment"
            sections["comment"].append(Section(_blocks_text(aside), heading=heading))
            continue
        kind = aside.get(_NOTE_CLASS, "")
        kind = kind if kind in _KINDS else "footnote"
        # The citation is the mark as the document shows it: a number, or a custom "*".
        mark = " ".join((aside.findtext(f"{_TEXT}note-citation") or "").split())
        body = aside.find(f"{_TEXT}note-body")
        text = _blocks_text(body) if body is not None else ""
        number = mark or str(len(sections[kind]) + 1)
        sections[kind].append(Section(text, heading=f"{kind.capitalize()} {number}"))
    return tuple(section for group in sections.values() for section in group)


def _outline_level(heading: ElementTree.Element) -> int:
    try:
        return max(1, int(heading.get(_OUTLINE_LEVEL, "1")))
    except ValueError:
        return 1


def _table_text(table: ElementTree.Element) -> str:
    # Covered cells (table:covered-table-cell) are the parts a merged cell spans.
    return table_text(
        (_inline_text(cell) for cell in row.iterfind(_CELL)) for row in found(table, (_ROW,))
    )


def _inline_text(element: ElementTree.Element) -> str:
    """The text of a paragraph, heading or cell: spans, spaces, tabs and line breaks;
    paragraphs nested in it (a text box, a cell) on lines of their own."""
    parts: list[str] = []
    pending: list[ElementTree.Element | str] = [element]
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            parts.append(node)
            continue
        if node.tag in _ASIDE:
            continue
        if node.tag in (_P, _H) and node is not element:
            parts.append("\n")
        parts.append(_MARKS.get(node.tag, ""))
        # Only text-namespace elements hold text: what else has (image alt text, embedded
        # binary data, a formula's source) is not part of the sentence.
        holds_text = node.tag.startswith(_TEXT)
        if holds_text and node.text:
            parts.append(_XML_WHITESPACE.sub(" ", node.text))
        for child in reversed(node):
            if holds_text and child.tail:
                pending.append(_XML_WHITESPACE.sub(" ", child.tail))
            pending.append(child)
    return "".join(parts)
