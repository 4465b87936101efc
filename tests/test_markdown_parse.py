"""Markdown is split by a CommonMark parser (markdown-it-py), not line patterns: what is a
heading depends on the block it sits in, and a section's text is the author's own lines."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ragkit.ingest import Section, load
from ragkit.ingest._markdown import load_markdown


def _split(text: str) -> tuple[str | None, tuple[Section, ...]]:
    """The title and sections as the loader gives them, before ``load`` normalises spaces."""
    return load_markdown(Path("guide.md"), text.encode())


def _headings(sections: tuple[Section, ...]) -> list[str | None]:
    return [section.heading for section in sections]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("Example:\n\n    # not a heading\n    ```\n", id="indented-code"),
        pytest.param("<details>\n<summary>More</summary>\n# x\n</details>\n", id="html-block"),
        pytest.param("<!--\n\n# Draft heading\n\n-->\n", id="html-comment-over-blank-lines"),
        pytest.param("> # Quoted heading\n> Quoted text.\n", id="block-quote"),
        pytest.param("1. Step one\n\n   # Heading in the item\n   More.\n", id="list-item"),
        pytest.param("- Step one\n\n  Item text\n  ---\n", id="setext-in-list-item"),
        pytest.param("```\n# shell comment\n", id="unclosed-fence-runs-to-the-end"),
        pytest.param("| a | b |\n|---|---|\nrow without pipes\n---\n", id="table-row"),
    ],
)
def test_no_section_starts_inside_another_block(body: str) -> None:
    # Headings in quotes and list items are headings to CommonMark, but only top-level
    # ones start sections: a boundary there would cut the quote or item in two.
    _, sections = _split("# Top\n\nIntro.\n\n" + body)
    assert _headings(sections) == ["Top"]
    assert sections[0].text == "# Top\n\nIntro.\n\n" + body.strip()


def test_section_text_is_the_source_lines() -> None:
    body = (
        "| Days | Who |\n|-----:|-----|\n| 10 | [staff](https://hr.example/staff) |\n\n"
        "- one\n  continued\n- **two**\n\n```sh\n# comment\n```\n\n<div>\n# x\n</div>"
    )
    _, sections = _split(f"## Sick *leave* ##\n\n{body}\n\n# Next\n\nMore.\n")
    assert _headings(sections) == ["Sick leave", "Next"]
    assert sections[0].text == f"## Sick *leave* ##\n\n{body}"


def test_labels_are_text_without_markup() -> None:
    title, sections = _split(
        "# **Leave** policy\n\nA.\n\n"
        "## See [the form][form] and `F-12`\n\nB.\n\n"
        "## ![Logo *ink*](logo.png) <span>Sick</span> \\#1 &amp; more\n\nC.\n\n"
        "## [Undefined]\n\nD.\n\n"
        "[form]: https://hr.example/form\n",
    )
    assert title == "Leave policy"
    assert _headings(sections) == [
        "Leave policy",
        "Leave policy > See the form and F-12",
        "Leave policy > Logo ink Sick #1 & more",
        "Leave policy > [Undefined]",
    ]


def test_setext_heading_over_two_lines() -> None:
    # A line starting "2024." continues the paragraph: only "1." may open a list there.
    _, sections = _split("Intro.\n\nSick leave from\n2024. Rules\n---\n\nTen days.\n")
    assert _headings(sections) == [None, "Sick leave from 2024. Rules"]
    assert sections[1].text == "Sick leave from\n2024. Rules\n---\n\nTen days."


def test_paragraph_continuation_lines_join_the_setext_heading() -> None:
    # Neither "| b" (no delimiter row under it) nor "<span>" opens a block there.
    _, sections = _split("Intro.\n\na\n| b\n===\n\nA.\n\n<span>Sick</span> leave\n---\n\nB.\n")
    assert _headings(sections) == [None, "a | b", "a | b > Sick leave"]


def test_list_item_continuation_is_not_a_heading() -> None:
    _, sections = _split("# Top\n\n- Item one\ncontinued lazily\n- Item two\n\n  # Item two's\n")
    assert _headings(sections) == ["Top"]
    assert sections[0].text.endswith("continued lazily\n- Item two\n\n  # Item two's")


def test_front_matter_comments_are_not_headings() -> None:
    front = "---\ntitle: 'Leave policy'\n# owner: HR\ntags: [hr]\n---\n"
    title, sections = _split(front + "Intro.\n\n## Sick leave\n\nTen days.\n")
    assert title == "Leave policy"
    assert _headings(sections) == [None, "Sick leave"]
    assert sections[0].text == front + "Intro."
    assert sections[1].text == "## Sick leave\n\nTen days."


def test_reference_definitions_stay_in_the_text() -> None:
    # A definition is no paragraph, so the "---" under it is a thematic break.
    _, sections = _split("# Top\n\n[form]: https://hr.example/form\n---\nMore.\n")
    assert _headings(sections) == ["Top"]
    assert sections[0].text == "# Top\n\n[form]: https://hr.example/form\n---\nMore."


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(">" * 100_000 + " deep\n", id="nested-quotes"),
        pytest.param("[" * 100_000 + "\n", id="brackets"),
        pytest.param("# " + "![" * 100_000 + "\n", id="bracket-heading"),
        pytest.param(f"# {'![' * 400}\n\nx\n\n" * 600, id="many-bracket-headings"),
    ],
)
def test_pathological_input_is_quick(tmp_path: Path, start: str) -> None:
    path = tmp_path / "hostile.md"
    path.write_text(start + "\n# After\n\nText.\n", encoding="utf-8")
    started = time.perf_counter()
    doc = load(path)
    # Inline-parsing every heading would take some 15 s on the last case; as it is, each
    # takes a second or two at most. The limit is generous, for a loaded test machine.
    assert time.perf_counter() - started < 10
    assert doc.sections[-1].heading == "After"
