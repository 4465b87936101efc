"""Markdown loading: one section per ATX heading, labelled with its heading path."""

from __future__ import annotations

import re
from pathlib import Path

from ._text import decode_text
from ._types import Section

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*))?[ \t]*")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
# Static-site front matter; its YAML comments would otherwise read as "# headings".
_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|$)", re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_PATH_SEP = " > "


def load_markdown(path: Path, data: bytes) -> tuple[str, tuple[Section, ...]]:
    """Split a Markdown file into sections at ATX headings (``#`` .. ``######``).

    Each section keeps its heading line in its text (it helps retrieval) and carries the
    heading path, e.g. ``"Leave policy > Sick leave"``. ``#`` lines inside fenced code
    blocks and YAML front matter are not headings. The title is the first H1, else the
    front matter's ``title:``, else the file stem.
    """
    text = decode_text(path, data)
    title: str | None = None
    front_title: str | None = None
    stack: list[tuple[int, str]] = []
    # (start of the section, its heading path, where its body starts after the heading line)
    bounds: list[tuple[int, str | None, int]] = [(0, None, 0)]
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
        elif (opening := _FENCE.fullmatch(line)) and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            fence = opening.group(1)
        elif heading := _ATX.fullmatch(line):
            level = len(heading.group(1))
            label = _CLOSING_HASHES.sub("", heading.group(2) or "").strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, label))
            if level == 1 and label and title is None:
                title = label
            heading_path = _PATH_SEP.join(name for _, name in stack if name) or None
            bounds.append((pos, heading_path, line_end))
        pos = line_end + 1

    sections: list[Section] = []
    heading_only: list[Section] = []
    for (start, heading_path, body_start), (end, _, _) in zip(bounds, [*bounds[1:], (len(text), None, 0)], strict=True):
        section_text = text[start:end].strip()
        if not section_text:
            continue
        section = Section(section_text, heading=heading_path)
        # A heading directly followed by a subheading has nothing of its own to retrieve;
        # its name lives on in the subsections' heading paths.
        (heading_only if not text[body_start:end].strip() else sections).append(section)
    return title or front_title or path.stem, tuple(sections or heading_only)
