"""Markdown loading: one section per top-level heading, labelled with its heading path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_block.table import table
from markdown_it.token import Token

from ._sections import SectionBuilder
from ._text import decode_text
from ._types import Section


def _table_extent(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    # markdown-it's table rule less its tokens for every row and cell, which made a 5 MB
    # table ten times slower to parse: one token for the whole table, whose lines are all
    # that is used here. The stock rule, asked silently, decides whether a table starts;
    # its rows run, as there, to a blank line, a line indented as code or one that starts
    # another block.
    if not table(state, start, end, True):
        return False
    if silent:
        return True
    terminators = state.md.block.ruler.getRules("blockquote")
    line = start + 2  # after the header and delimiter rows
    while (
        line < end
        and state.sCount[line] >= state.blkIndent
        and not state.isEmpty(line)
        and not state.is_code_block(line)
        and not any(rule(state, line, end, True) for rule in terminators)
    ):
        line += 1
    state.push("table", "table", 0).map = [start, line]
    state.line = line
    return True


# Only the block structure is parsed up front: inline parsing (emphasis, links) is most of
# markdown-it's time, and only heading labels need it, so headings get it one by one.
_PARSER = MarkdownIt("commonmark").enable("table").disable(["inline", "text_join"])
# As registered by markdown-it: a table may interrupt a paragraph or a link definition.
_PARSER.block.ruler.at("table", _table_extent, {"alt": ["paragraph", "reference"]})
# How many characters of heading source a file gets inline-parsed. markdown-it spends up to
# ~30 µs a character (on runs like "![![!["), so a file of nothing but such headings would
# take minutes; past this, labels keep their markup (``**Leave** policy``), as plain
# headings read the same either way. Real files stay well under: 50,000 characters is
# some 2,000 headings.
_INLINE_BUDGET = 50_000
# Static-site front matter. CommonMark has none: it would read the closing "---" as a setext
# underline and the YAML comments as "# headings".
_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|$)", re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)


def load_markdown(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Split a Markdown file into sections at its top-level headings, ATX (``#`` ..
    ``######``) and setext (a paragraph underlined with ``===``, level 1, or ``---``, level 2),
    as CommonMark (with tables) reads them.

    Each section's text is the file's own lines, from its heading line (it helps retrieval)
    to the next heading, so lists, tables, code and links read as the author wrote them. The
    section carries the heading path, e.g. ``"Leave policy > Sick leave"`` (see
    :class:`SectionBuilder`), whose labels are the headings' text without markup. Headings
    inside block quotes and list items do not start sections: they belong to that quote or
    item, and a section boundary there would cut it in two. YAML front matter is body text
    of the first section, not parsed as Markdown. The title is the first level-1 heading,
    else the front matter's ``title:``.
    """
    text = decode_text(path, data)
    front_title: str | None = None
    source = text
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FRONT_MATTER_TITLE.search(front.group(1) or "")
        if found:
            front_title = found.group(1).strip("\"'").strip() or None
        # Blanked rather than cut off, so that token line numbers stay the file's.
        source = "\n" * front.group().count("\n") + text[front.end() :]

    lines = text.split("\n")
    env: dict[str, Any] = {}  # link reference definitions, which heading labels may use
    tokens = _PARSER.parse(source, env)
    builder = SectionBuilder()
    body_start = 0
    budget = _INLINE_BUDGET
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or token.level != 0 or token.map is None:
            continue
        start, end = token.map
        builder.text("\n".join(lines[body_start:start]))
        line = "\n".join(lines[start:end])
        label = content = tokens[index + 1].content
        if len(content) <= budget:
            budget -= len(content)
            label = _plain_text(_PARSER.inline.parse(content, _PARSER, env, []))
        builder.heading(int(token.tag[1:]), label, line)
        body_start = end
    builder.text("\n".join(lines[body_start:]))
    return builder.first_label(1) or front_title, builder.sections()


def _plain_text(tokens: list[Token]) -> str:
    # Text as a reader sees it: link text and image alt text stay, markup and HTML tags go.
    out: list[str] = []
    for token in tokens:
        if token.type in ("text", "text_special", "code_inline"):
            out.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif token.type == "image" and token.children:
            out.append(_plain_text(token.children))
    return "".join(out)
