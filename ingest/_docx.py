"""DOCX loading: paragraphs, headings and tables from the WordprocessingML in the zip, plus
footnotes, endnotes, comments, headers and footers as attributed sections."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Collection, Iterator
from pathlib import Path
from xml.etree import ElementTree

from ragkit._errors import LoadError

from ._normalize import error_cause
from ._sections import SectionBuilder
from ._types import Section

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
_XML_ENCODING = re.compile(rb"""\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_DOCUMENT, _STYLES, _CORE = "word/document.xml", "word/styles.xml", "docProps/core.xml"
# Password-protected .docx files and legacy .doc files are OLE compound files, not zips.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAX_PART_BYTES = 50 << 20
# WordprocessingML deflates a few times over, a few tens with repetitive formatting (38 MB of
# random words measured 2.4:1); over 100:1 in a large part is a file built to exhaust
# memory. Small parts cannot do harm whatever their ratio.
_MAX_RATIO = 100
_RATIO_CHECKED_ABOVE = 1 << 20
_MAX_SIDE_PART_BYTES = 4 << 20  # styles and metadata: what is larger is not worth reading
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
    if data.startswith(_OLE_MAGIC):
        raise LoadError(path, "encrypted or legacy .doc format; save as .docx without a password")
    # zipfile raises many unrelated exception types on a corrupt archive (BadZipFile,
    # zlib.error, EOFError, lzma.LZMAError, NotImplementedError for odd compression,
    # RuntimeError for encrypted members, ...), so reading it is guarded broadly.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if _DOCUMENT not in names:
                raise LoadError(path, f"not a .docx file: the zip archive has no {_DOCUMENT}")
            document = _read_part(path, archive, _DOCUMENT)
            styles = _read_side_part(archive, _STYLES) if _STYLES in names else None
            core = _read_side_part(archive, _CORE) if _CORE in names else None
            extras = _read_extra_parts(path, archive, names)
    except LoadError:
        raise
    except Exception as error:
        raise LoadError(path, f"not a readable .docx file: {error_cause(error)}") from error

    declared = _declared_encoding(document)
    if declared is not None:
        raise LoadError(
            path,
            f"not a readable .docx file: {_DOCUMENT} declares the encoding {declared}, not UTF-8",
        )
    builder = SectionBuilder()
    levels = _style_levels(styles)
    references: dict[str, list[str]] = {_FOOTNOTE_REF: [], _ENDNOTE_REF: []}
    try:
        _read_body(document, levels, builder, references)
    # expat raises ParseError; ValueError is left for a UTF-16 part that declares a
    # multi-byte encoding in UTF-16, which the check above cannot read.
    except (ElementTree.ParseError, ValueError) as error:
        raise LoadError(
            path, f"not a readable .docx file: invalid XML in {_DOCUMENT}: {error_cause(error)}"
        ) from error
    notes = _side_sections(extras, references)
    return _core_title(core) or builder.first_label(0), builder.sections() + notes


def _read_part(path: Path, archive: zipfile.ZipFile, name: str) -> bytes:
    info = archive.getinfo(name)
    size, packed = info.file_size, max(info.compress_size, 1)
    if size > _MAX_PART_BYTES:
        reason = (
            f"{size / (1 << 20):.1f} MB uncompressed, over the {_MAX_PART_BYTES >> 20} MB limit"
        )
    elif size > _RATIO_CHECKED_ABOVE and size > _MAX_RATIO * packed:
        reason = f"compressed {size // packed}:1, over {_MAX_RATIO}:1"
    else:
        # Bounded twice: zipfile stops at the declared size (and fails the CRC check if the
        # data runs on), and so does this read.
        with archive.open(info) as stream:
            return stream.read(_MAX_PART_BYTES)
    raise LoadError(path, f"refusing to expand {name}: {reason} (possible zip bomb)")


def _read_side_part(archive: zipfile.ZipFile, name: str) -> ElementTree.Element | None:
    """A small optional part as parsed XML, or None when it is too large or unreadable."""
    if archive.getinfo(name).file_size > _MAX_SIDE_PART_BYTES:
        return None
    try:
        with archive.open(name) as stream:
            data = stream.read(_MAX_SIDE_PART_BYTES)
        return None if _declared_encoding(data) else ElementTree.fromstring(data)
    except Exception:
        return None


def _declared_encoding(xml: bytes) -> str | None:
    """The encoding an XML declaration names, if it is not UTF-8 or UTF-16.

    Office parts are UTF-8 or UTF-16 by the standard. expat would hand any other name to
    Python's codecs: "rot13" raises LookupError, "shift_jis" ValueError, and
    "unicode_escape" decodes with a DeprecationWarning.
    """
    found = _XML_ENCODING.match(xml)
    if found is None:
        return None
    name = found.group(1).decode("ascii")
    return (
        None
        if name.lower().replace("_", "-") in ("utf-8", "utf8", "utf-16", "utf-16le", "utf-16be")
        else name
    )


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
    found = _HEADING_STYLE.fullmatch(style.strip())
    if found is None:
        return None
    return int(found.group(1)) if found.group(1) else 0


def _core_title(core: ElementTree.Element | None) -> str | None:
    title = core.find(_DC_TITLE) if core is not None else None
    return title.text if title is not None else None


def _read_body(
    document: bytes,
    levels: dict[str, int],
    builder: SectionBuilder,
    references: dict[str, list[str]],
) -> None:
    """Feed the body's paragraphs and tables to ``builder``, streaming, and record in
    ``references`` (by reference tag) the note ids the body cites, in order."""
    for element in _children_at(document, 2):
        _add_blocks(element, levels, builder)
        _add_references(element, references)


def _children_at(xml: bytes, level: int) -> Iterator[ElementTree.Element]:
    """The children of the element ``level`` deep (the root is 1), in order.

    Each child is handed out when it ends and then dropped, so a large part never exists
    as a whole element tree.
    """
    depth = 0
    parent: ElementTree.Element | None = None
    for event, element in ElementTree.iterparse(io.BytesIO(xml), events=("start", "end")):
        if event == "start":
            depth += 1
            if depth == level:
                parent = element
            continue
        depth -= 1
        if depth == level and parent is not None:
            yield element
            parent.clear()


def _found(element: ElementTree.Element, tags: Collection[str]) -> Iterator[ElementTree.Element]:
    """The elements with one of ``tags`` in ``element``, in document order, not looking
    inside them, nor inside deleted or moved-away text."""
    # They may sit inside content controls and other wrappers; walked with a list rather
    # than recursion, so deep nesting cannot overflow the stack.
    pending = [element]
    while pending:
        node = pending.pop()
        if node.tag in tags:
            yield node
        elif node.tag not in _SKIPPED:
            pending.extend(reversed(node))


def _blocks(element: ElementTree.Element) -> Iterator[ElementTree.Element]:
    """The paragraphs and tables in ``element``, in document order."""
    return _found(element, (_P, _TBL))


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
    for node in _found(element, references):
        references[node.tag].append(node.get(_ID, ""))


def _read_extra_parts(path: Path, archive: zipfile.ZipFile, names: set[str]) -> dict[str, bytes]:
    """The note, comment, header and footer parts present, by name, within 50 MB in all.

    Each is optional, so one :func:`_read_part` refuses (a zip bomb) or that does not
    decompress is left out rather than failing the document. The shared budget bounds the
    work of a zip holding thousands of header parts.
    """
    wanted = [name for name in (_FOOTNOTES, _ENDNOTES, _COMMENTS) if name in names]
    # Headers before footers, each by number (header2 before header10).
    wanted += sorted(
        (name for name in names if _HEADER_FOOTER.fullmatch(name)),
        key=lambda name: (name.startswith("word/footer"), len(name), name),
    )
    parts: dict[str, bytes] = {}
    budget = _MAX_PART_BYTES
    for name in wanted:
        size = archive.getinfo(name).file_size
        if size > budget:
            continue
        budget -= size
        try:
            parts[name] = _read_part(path, archive, name)
        except Exception:  # as broad as the guard around the whole archive, see load_docx
            continue
    return parts


def _part_children(xml: bytes | None) -> Iterator[ElementTree.Element]:
    """The children of an optional part's root; a part that is not well-formed ends at the
    fault (the children before it are complete), as a side part never fails the body."""
    if xml is None or _declared_encoding(xml) is not None:
        return
    try:
        yield from _children_at(xml, 1)
    except (ElementTree.ParseError, ValueError):
        return


def _side_sections(
    parts: dict[str, bytes], references: dict[str, list[str]]
) -> tuple[Section, ...]:
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
    for name, xml in parts.items():
        if not _HEADER_FOOTER.fullmatch(name):
            continue
        text = "\n\n".join(filter(None, (_blocks_text(block) for block in _part_children(xml))))
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
    rows = []
    for row in table.iterfind(_TR):
        cells = [" ".join(_inline_text(cell).split()) for cell in row.iterfind(_TC)]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


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
