"""DOCX loading: paragraphs, headings and tables from the WordprocessingML in the zip, plus
footnotes, endnotes, comments, headers and footers as attributed sections."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

from ragkit._errors import LoadError

from ._sections import SectionBuilder, table_text
from ._types import Section
from ._zipxml import Package, Part, core_title, found, open_package

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _TBL, _TR, _TC, _T = f"{_W}p", f"{_W}tbl", f"{_W}tr", f"{_W}tc", f"{_W}t"
_BREAKS = frozenset({f"{_W}br", f"{_W}cr"})
_TAB, _NO_BREAK_HYPHEN = f"{_W}tab", f"{_W}noBreakHyphen"
_STYLE_ID, _VAL, _TYPE = f"{_W}styleId", f"{_W}val", f"{_W}type"
# Deleted tracked changes, and the fallback copy of content Word also stores a newer way.
_SKIPPED = frozenset(
    {
        f"{_W}del",
        f"{_W}moveFrom",
        "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback",
    }
)
_DOCUMENT, _STYLES = "word/document.xml", "word/styles.xml"
_FOOTNOTES, _ENDNOTES, _COMMENTS = "word/footnotes.xml", "word/endnotes.xml", "word/comments.xml"
_HEADER_FOOTER = re.compile(r"word/(?:header|footer)\d*\.xml")
_FOOTNOTE_REF, _ENDNOTE_REF = f"{_W}footnoteReference", f"{_W}endnoteReference"
_ID, _AUTHOR = f"{_W}id", f"{_W}author"
# Built-in style names ("heading 1", "Title") are English whatever the document's language;
# style ids are not ("berschrift1" in a German Word), so names are read from styles.xml.
_HEADING_STYLE = re.compile(r"heading\s*([1-9])|(title)", re.IGNORECASE)


def load_docx(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Load a ``.docx`` file: paragraphs and tables as text, heading styles as heading paths.

    Paragraphs in the Title and Heading 1-9 styles start sections (Title above Heading 1);
    table rows become lines with cells joined by " | ". The title is the document
    properties' title, else the first Title-styled paragraph. Raises :class:`LoadError` for
    encrypted or legacy ``.doc`` files, files that are not a readable zip or lack
    ``word/document.xml``, invalid XML, and a ``word/document.xml`` that would expand past
    50 MB or more than 100 times its compressed size (a zip bomb).

    Footnotes and endnotes (numbered in the order the body references them, as Word shows
    them), comments and headers and footers (each distinct text once) follow the body as
    sections headed "Footnote 3", "Endnote 1", "Comment by A. Keller", "Header" or "Footer".
    These parts are optional: one that is missing, unreadable or too large is left out and
    the body still loads.
    """
    ole = "encrypted or legacy .doc format; save as .docx without a password"
    with open_package(path, data, ".docx", ole_reason=ole) as package:
        document = package.read(_DOCUMENT)
        styles = package.optional_xml(_STYLES)
        title = core_title(package)
        extras = _read_extra_parts(package)
    builder = SectionBuilder()
    levels = _style_levels(styles)
    references: dict[str, list[str]] = {_FOOTNOTE_REF: [], _ENDNOTE_REF: []}
    _read_body(document, levels, builder, references)
    notes = _side_sections(extras, references)
    return title or builder.first_label(0), builder.sections() + notes


def _style_levels(styles: ElementTree.Element | None) -> dict[str, int]:
    """Heading level (0 for Title) by paragraph style id, from the styles' built-in names."""
    levels: dict[str, int] = {}
    for style in styles.iter(f"{_W}style") if styles is not None else ():
        name = style.find(f"{_W}name")
        style_id = style.get(_STYLE_ID)
        level = _heading_level(name.get(_VAL, "") if name is not None else "")
        if style_id and level is not None and style.get(_TYPE, "paragraph") == "paragraph":
            levels[style_id] = level
    return levels


def _heading_level(style: str) -> int | None:
    match = _HEADING_STYLE.fullmatch(style.strip())
    if match is None:
        return None
    return int(match.group(1)) if match.group(1) else 0


def _read_body(
    document: Part,
    levels: dict[str, int],
    builder: SectionBuilder,
    references: dict[str, list[str]],
) -> None:
    """Feed the body's paragraphs and tables to ``builder``, streaming, and record in
    ``references`` (by reference tag) the note ids the body cites, in order."""
    for element in document.children(2):
        _add_blocks(element, levels, builder)
        _add_references(element, references)


def _blocks(element: ElementTree.Element) -> Iterator[ElementTree.Element]:
    """The paragraphs and tables in ``element``, in document order, leaving out deleted and
    moved-away text."""
    return found(element, (_P, _TBL), _SKIPPED)


def _add_blocks(
    element: ElementTree.Element, levels: dict[str, int], builder: SectionBuilder
) -> None:
    for block in _blocks(element):
        if block.tag == _TBL:
            builder.text(_table_text(block))
        elif (level := _paragraph_level(block, levels)) is None:
            builder.text(_inline_text(block))
        else:
            builder.heading(level, _inline_text(block))


def _blocks_text(element: ElementTree.Element) -> str:
    texts = (
        _table_text(block) if block.tag == _TBL else _inline_text(block)
        for block in _blocks(element)
    )
    return "\n\n".join(text.strip() for text in texts if text.strip())


def _add_references(element: ElementTree.Element, references: dict[str, list[str]]) -> None:
    # Deleted text is skipped as in _blocks: a deleted reference's note is deleted with it.
    for node in found(element, references, _SKIPPED):
        references[node.tag].append(node.get(_ID, ""))


def _read_extra_parts(package: Package) -> dict[str, Part]:
    """The note, comment, header and footer parts present, by name.

    Each is optional, so one that the package refuses (a zip bomb, or past what all parts
    together may expand to, which bounds the work of a zip holding thousands of header
    parts) or that does not decompress is left out rather than failing the document.
    """
    wanted = [name for name in (_FOOTNOTES, _ENDNOTES, _COMMENTS) if name in package.names]
    # Headers before footers, each by number (header2 before header10).
    wanted += sorted(
        (name for name in package.names if _HEADER_FOOTER.fullmatch(name)),
        key=lambda name: (name.startswith("word/footer"), len(name), name),
    )
    parts = {name: package.read_optional(name) for name in wanted}
    return {name: part for name, part in parts.items() if part is not None}


def _part_children(part: Part | None) -> Iterator[ElementTree.Element]:
    """The children of an optional part's root; a part that is not well-formed ends at the
    fault (the children before it are complete), as a side part never fails the body."""
    if part is None:
        return
    try:
        yield from part.children(1)
    except LoadError:
        return


def _side_sections(parts: dict[str, Part], references: dict[str, list[str]]) -> tuple[Section, ...]:
    """Footnotes, endnotes, comments, then headers and footers, each its own section.

    A note becomes a section of its own headed "Footnote 3" rather than text spliced into
    the paragraph citing it: a citation then reads ``file.docx > Footnote 3``, which says
    honestly that the words are the footnote's and not the body's, and the note is embedded
    on its own, so a query about it is not diluted by the paragraph around it (nor the
    paragraph's chunk by a long note).
    """
    sections: list[Section] = []
    for name, reference, label in (
        (_FOOTNOTES, _FOOTNOTE_REF, "Footnote"),
        (_ENDNOTES, _ENDNOTE_REF, "Endnote"),
    ):
        tag = f"{_W}{label.lower()}"
        # Separator and continuation notes (w:type set) are the rule above the notes.
        texts = {
            note.get(_ID, ""): _blocks_text(note)
            for note in _part_children(parts.get(name))
            if note.tag == tag and note.get(_TYPE, "normal") == "normal"
        }
        # Word numbers notes in the order the body references them, whatever their ids
        # (these start after the separators' and need not follow that order). A note the
        # body never references is not shown in the document, so it is not indexed.
        for number, note_id in enumerate(dict.fromkeys(references[reference]), 1):
            if texts.get(note_id):
                sections.append(Section(texts[note_id], heading=f"{label} {number}"))
    for comment in _part_children(parts.get(_COMMENTS)):
        text = _blocks_text(comment) if comment.tag == f"{_W}comment" else ""
        if text:
            author = " ".join(comment.get(_AUTHOR, "").split())
            sections.append(Section(text, heading=f"Comment by {author}" if author else "Comment"))
    # Each page section of a document may have its own copy of the same header; one copy is
    # enough, and more would crowd the results with it.
    seen: set[str] = set()
    for name, part in parts.items():
        if not _HEADER_FOOTER.fullmatch(name):
            continue
        text = "\n\n".join(filter(None, (_blocks_text(block) for block in _part_children(part))))
        key = " ".join(text.split())
        if key and key not in seen:
            seen.add(key)
            heading = "Header" if name.startswith("word/header") else "Footer"
            sections.append(Section(text, heading=heading))
    return tuple(sections)


def _paragraph_level(paragraph: ElementTree.Element, levels: dict[str, int]) -> int | None:
    style = paragraph.find(f"{_W}pPr/{_W}pStyle")
    style_id = style.get(_VAL, "") if style is not None else ""
    return levels[style_id] if style_id in levels else _heading_level(style_id)


def _table_text(table: ElementTree.Element) -> str:
    return table_text(
        (_inline_text(cell) for cell in row.iterfind(_TC)) for row in table.iterfind(_TR)
    )


def _inline_text(element: ElementTree.Element) -> str:
    """The text of a paragraph or cell: runs, tabs and breaks; nested paragraphs on new lines."""
    parts: list[str] = []
    pending = [element]
    while pending:
        node = pending.pop()
        if node.tag == _T:
            parts.append(node.text or "")
        elif node.tag == _TAB:
            parts.append("\t")
        elif node.tag in _BREAKS:
            parts.append("\n")
        elif node.tag == _NO_BREAK_HYPHEN:
            parts.append("-")
        elif node.tag in _SKIPPED:
            continue
        elif node.tag == _P and node is not element:
            parts.append("\n")  # a paragraph in a cell or text box
        pending.extend(reversed(node))
    return "".join(parts)
