"""Setext headings in Markdown (``Title`` over ``===``, ``Subtitle`` over ``---``) are
headings like ATX ones; ``---`` and ``===`` lines that CommonMark does not read as
underlines stay body text."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragkit.ingest import Document, load


def _load(tmp_path: Path, text: str, name: str = "guide.md") -> Document:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load(path)


def _headings(doc: Document) -> list[str | None]:
    return [section.heading for section in doc.sections]


def test_setext_levels_and_heading_paths(tmp_path: Path) -> None:
    doc = _load(
        tmp_path,
        "Leave policy\n============\n\nEveryone gets leave.\n\n"
        "Sick leave\n----------\n\nTen days a year.\n\n"
        "### Notes\n\nDoctor's note after 3 days.\n\n"
        "Annual leave\n---\n\nTwenty-five days.\n\n"
        "Appendix\n===\n\nForm A.\n",
    )
    assert doc.title == "Leave policy"
    assert _headings(doc) == [
        "Leave policy",
        "Leave policy > Sick leave",
        "Leave policy > Sick leave > Notes",
        "Leave policy > Annual leave",
        "Appendix",
    ]
    sick = doc.sections[1]
    assert sick.text == "Sick leave\n----------\n\nTen days a year."


def test_setext_heading_after_body_text_and_atx(tmp_path: Path) -> None:
    doc = _load(tmp_path, "Intro.\n\n# Handbook\nOverview\n--------\nBody.\n")
    assert _headings(doc) == [None, "Handbook > Overview"]
    assert doc.sections[0].text == "Intro."


def test_multi_line_paragraph_is_one_heading(tmp_path: Path) -> None:
    doc = _load(tmp_path, "Leave\npolicy\n===\n\nBody.\n")
    assert _headings(doc) == ["Leave policy"]
    assert doc.title == "Leave policy"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("Para.\n\n---\n\nMore.\n", id="thematic-break-after-blank-line"),
        pytest.param("Para.\n\n===\n\nMore.\n", id="equals-after-blank-line"),
        pytest.param("Para.\n\n- - -\n\nMore.\n", id="spaced-thematic-break"),
        pytest.param("- item one\n- item two\n---\nMore.\n", id="under-a-list"),
        pytest.param("1. first\n   wrapped\n===\nMore.\n", id="under-an-ordered-list"),
        pytest.param("> quoted\n---\nMore.\n", id="under-a-block-quote"),
        pytest.param("| a | b |\n|---|---|\n| 1 | 2 |\n---\nMore.\n", id="under-a-table"),
        pytest.param("a | b\n--- | ---\n1 | 2\n---\nMore.\n", id="under-a-pipeless-table"),
        pytest.param("```\ncode\n===\n---\n```\nMore.\n", id="in-a-fenced-block"),
        pytest.param("Para.\n\n    code\n---\nMore.\n", id="under-indented-code"),
        pytest.param("Para.\n    ---\nMore.\n", id="underline-indented-four"),
    ],
)
def test_not_a_setext_heading(tmp_path: Path, body: str) -> None:
    doc = _load(tmp_path, "# Top\n\n" + body)
    assert _headings(doc) == ["Top"]
    assert doc.sections[0].text.endswith("More.")


def test_front_matter_is_not_a_heading(tmp_path: Path) -> None:
    # Its closing "---" sits right under "author: HR", which is no paragraph.
    doc = _load(tmp_path, "---\ntitle: Sick leave\nauthor: HR\n---\nBody text.\n")
    assert doc.title == "Sick leave"
    assert _headings(doc) == [None]
    assert doc.sections[0].text.endswith("---\nBody text.")
