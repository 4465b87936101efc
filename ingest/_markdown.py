"""Markdown loading: one section per ATX heading, labelled with its heading path."""

from __future__ import annotations

import re
from pathlib import Path

from ._sections import SectionBuilder
from ._text import decode_text
from ._types import Section

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*))?[ \t]*")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
# Static-site front matter; its YAML comments would otherwise read as "# headings".
_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|$)", re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)


def load_markdown(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Split a Markdown file into sections at ATX headings (``#`` .. ``######``).

    Each section keeps its heading line in its text (it helps retrieval) and carries the
    heading path, e.g. ``"Leave policy > Sick leave"`` (see :class:`SectionBuilder`).
    ``#`` lines inside fenced code blocks and YAML front matter are not headings. The title
    is the first H1, else the front matter's ``title:``.
    """
    text = decode_text(path, data)
    builder = SectionBuilder()
    front_title: str | None = None
    body_start = 0  # front matter stays in the first section's text: its fields are searchable
    fence: str | None = None

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
        elif heading := _ATX.fullmatch(line):
            builder.text(text[body_start:pos])
            builder.heading(
                len(heading.group(1)), _CLOSING_HASHES.sub("", heading.group(2) or ""), line
            )
            body_start = line_end
        pos = line_end + 1
    builder.text(text[body_start:])
    return builder.first_label(1) or front_title, builder.sections()
