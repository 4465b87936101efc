"""PPTX loading: one section per slide, in presentation order, with its speaker notes."""

from __future__ import annotations

import posixpath
from pathlib import Path
from xml.etree import ElementTree

from ragkit._errors import LoadError

from ._sections import table_text
from ._types import Section
from ._zipxml import Package, core_title, found, open_package

_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_SHAPE, _TABLE, _TEXT, _BREAK = f"{_P}sp", f"{_A}tbl", f"{_A}t", f"{_A}br"
# The fallback copy of content PowerPoint also stores a newer way.
_SKIPPED = frozenset({"{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"})
_TITLES = frozenset({"title", "ctrTitle"})
# Slide number, date and footer: the same on every slide, they would crowd every slide's
# passages with words that answer nothing.
_FURNITURE = frozenset({"sldNum", "dt", "ftr"})
_PRESENTATION = "ppt/presentation.xml"


def load_pptx(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Load a ``.pptx`` file: one section a slide, in presentation order.

    A slide's section has its number as ``page`` (so a citation names the slide) and the
    heading "Slide 3: <its title>"; it holds the text of its shapes, grouped shapes and
    tables (rows as lines with cells joined by " | "), then its speaker notes as a
    paragraph starting "Notes:". Hidden slides are left out; slide numbers count them, as
    PowerPoint does. The title is the document properties' title, else the first slide
    title.

    Raises :class:`LoadError` for encrypted or legacy ``.ppt`` files, files that are not a
    readable zip, a missing or invalid presentation part or slide, and parts that would
    expand past their bounds (a zip bomb). Speaker notes are optional: notes that are
    missing or unreadable are left out.
    """
    ole = "encrypted or legacy .ppt format; save as .pptx without a password"
    with open_package(path, data, ".pptx", ole_reason=ole) as package:
        presentation = package.read(_PRESENTATION).tree()
        targets = _targets(_PRESENTATION, package.read(_rels_name(_PRESENTATION)).tree())
        slides: dict[str, tuple[str, Section] | None] = {}
        for number, listed in enumerate(presentation.iterfind(f"{_P}sldIdLst/{_P}sldId"), 1):
            name = targets.get(listed.get(_R_ID, ""), ("", ""))[1]
            if name not in package.names:
                raise LoadError(path, f"not a readable .pptx file: slide {number} is missing")
            # Once each: a list naming one slide a million times must not parse it as often.
            if name not in slides:
                slides[name] = _slide(package, name, number)
        title = core_title(package)
    shown = [slide for slide in slides.values() if slide is not None]
    first = next((slide_title for slide_title, _ in shown if slide_title), None)
    return title or first, tuple(section for _, section in shown)


def _slide(package: Package, name: str, number: int) -> tuple[str, Section] | None:
    """The slide ``name``'s title and section, or None when it is hidden."""
    slide = package.read(name).tree()
    if slide.get("show") in ("0", "false"):
        return None
    title = ""
    blocks: list[str] = []
    for shape, text in _shapes(slide):
        kind = _placeholder(shape)
        if kind in _FURNITURE:
            continue
        if not title and kind in _TITLES:
            title = " ".join(text.split())
        blocks.append(text)
    notes = _notes_text(package, name)
    if notes:
        blocks.append(f"Notes: {notes}")
    heading = f"Slide {number}: {title}" if title else f"Slide {number}"
    return title, Section("\n\n".join(blocks), page=number, heading=heading)


def _notes_text(package: Package, slide: str) -> str:
    """The text of the slide's speaker notes, "" when it has none or they are unreadable."""
    for kind, name in _targets(slide, package.optional_xml(_rels_name(slide))).values():
        notes = package.optional_xml(name) if kind.endswith("/notesSlide") else None
        if notes is not None:
            # The notes page also holds a picture of the slide and the slide number.
            return "\n".join(
                text for shape, text in _shapes(notes) if _placeholder(shape) == "body"
            )
    return ""


def _shapes(tree: ElementTree.Element) -> list[tuple[ElementTree.Element, str]]:
    """The text shapes and tables in ``tree`` (inside groups too) in order, with their
    text: a shape's paragraphs on lines, a table's rows as lines of cells."""
    shapes = []
    for shape in found(tree, (_SHAPE, _TABLE), _SKIPPED):
        if shape.tag == _TABLE:
            rows = shape.iterfind(f"{_A}tr")
            cells = (
                (_paragraphs(cell.find(f"{_A}txBody")) for cell in row.iterfind(f"{_A}tc"))
                for row in rows
            )
            shapes.append((shape, table_text(cells)))
        else:
            shapes.append((shape, _paragraphs(shape.find(f"{_P}txBody"))))
    return shapes


def _placeholder(shape: ElementTree.Element) -> str | None:
    """The placeholder type of a shape ("title", "body", ...), None for a free shape."""
    placeholder = shape.find(f"{_P}nvSpPr/{_P}nvPr/{_P}ph")
    return None if placeholder is None else placeholder.get("type", "obj")


def _paragraphs(body: ElementTree.Element | None) -> str:
    """The paragraphs of a text body (a shape's or a table cell's), one a line."""
    if body is None:
        return ""
    return "\n".join(
        "".join(
            (node.text or "") if node.tag == _TEXT else "\n"
            for node in found(paragraph, (_TEXT, _BREAK), _SKIPPED)
        )
        for paragraph in body.iterfind(f"{_A}p")
    )


def _rels_name(source: str) -> str:
    """The name of the part holding the relationships of the part ``source``."""
    directory, base = posixpath.split(source)
    return posixpath.join(directory, "_rels", f"{base}.rels")


def _targets(source: str, rels: ElementTree.Element | None) -> dict[str, tuple[str, str]]:
    """The relationships ``rels`` of the part ``source``: id to (type, target part name)."""
    targets = {}
    for relationship in rels.iter(_RELATIONSHIP) if rels is not None else ():
        target = relationship.get("Target", "")
        if relationship.get("TargetMode") == "External":
            continue
        # Targets are relative to the source's folder, or absolute from the zip's root.
        resolved = (
            target[1:]
            if target.startswith("/")
            else posixpath.join(posixpath.dirname(source), target)
        )
        targets[relationship.get("Id", "")] = (
            relationship.get("Type", ""),
            posixpath.normpath(resolved),
        )
    return targets
