"""Markdown loading: one section per heading (ATX or setext), labelled with its heading path."""

from __future__ import annotations

import re
from pathlib import Path

from ._sections import SectionBuilder
from ._text import decode_text
from ._types import Section

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*))?[ \t]*")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
# A setext underline makes the paragraph above it a heading: "=" level 1, "-" level 2.
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
_THEMATIC_BREAK = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")
# Lines that open a list item, block quote, table or HTML block. The lines after one, up to
# a blank line, belong to that block (lazy continuation), so an underline there is a
# thematic break or text, never a heading.
_OTHER_BLOCK = re.compile(r" {0,3}(?:[-+*](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$)|>|\||<[A-Za-z/!?])")
_TABLE_DELIMITER = re.compile(r"(?=[^-]*-)[ \t:-]*\|[ \t|:-]*")
_INDENTED_CODE = re.compile(r" {0,3}\t| {4}")
# Static-site front matter; its YAML comments would otherwise read as "# headings".
_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|$)", re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)


def load_markdown(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Split a Markdown file into sections at ATX headings (``#`` .. ``######``) and setext
    headings (a paragraph underlined with ``===``, level 1, or ``---``, level 2).

    Each section keeps its heading line in its text (it helps retrieval) and carries the
    heading path, e.g. ``"Leave policy > Sick leave"`` (see :class:`SectionBuilder`).
    ``#`` lines inside fenced code blocks and YAML front matter are not headings, nor is
    ``---`` after a blank line (a thematic break) or under a list, block quote or table.
    The title is the first H1, else the front matter's ``title:``.
    """
    text = decode_text(path, data)
    builder = SectionBuilder()
    front_title: str | None = None
    body_start = 0  # front matter stays in the first section's text: its fields are searchable
    fence: str | None = None
    paragraph: int | None = None  # where the paragraph a setext underline would head starts
    in_other_block = False  # in a list, quote, table, HTML or indented code, to a blank line

    pos = 0
    front = _FRONT_MATTER.match(text)
    if front:
        pos = front.end()
        found = _FRONT_MATTER_TITLE.search(front.group(1) or "")
        if found:
            front_title = found.group(1).strip("\"'").strip() or None

    while pos < len(text):
        line_end = text.find("\n", pos)
        if line_end == -1:
            line_end = len(text)
        line = text[pos:line_end]
        if fence is not None:
            closing = _FENCE.fullmatch(line)
            if (
                closing
                and closing.group(1)[0] == fence[0]
                and len(closing.group(1)) >= len(fence)
                and not closing.group(2).strip()
            ):
                fence = None
        elif (opening := _FENCE.fullmatch(line)) and not (
            opening.group(1)[0] == "`" and "`" in opening.group(2)
        ):
            fence = opening.group(1)
            paragraph, in_other_block = None, False
        elif heading := _ATX.fullmatch(line):
            builder.text(text[body_start:pos])
            builder.heading(
                len(heading.group(1)), _CLOSING_HASHES.sub("", heading.group(2) or ""), line
            )
            body_start = line_end
            paragraph, in_other_block = None, False
        elif not line.strip():
            paragraph, in_other_block = None, False
        elif in_other_block:
            pass
        elif paragraph is not None and (underline := _SETEXT.fullmatch(line)):
            builder.text(text[body_start:paragraph])
            level = 1 if underline.group(1)[0] == "=" else 2
            builder.heading(level, text[paragraph:pos], text[paragraph:line_end])
            body_start = line_end
            paragraph = None
        elif _THEMATIC_BREAK.fullmatch(line):
            paragraph = None
        elif (
            _OTHER_BLOCK.match(line)
            or (paragraph is not None and _TABLE_DELIMITER.fullmatch(line))
            or (paragraph is None and _INDENTED_CODE.match(line))
        ):
            paragraph, in_other_block = None, True
        elif paragraph is None:
            paragraph = pos
        pos = line_end + 1
    builder.text(text[body_start:])
    return builder.first_label(1) or front_title, builder.sections()
