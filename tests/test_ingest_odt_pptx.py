"""Tests for the ODT and PPTX loaders, on files built here with zipfile."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from ragkit import Assistant, Config, TextEncoder
from ragkit.ingest import SUPPORTED_SUFFIXES, load

from .helpers import (
    assert_load_error,
    make_odt,
    make_pptx,
    odt_content,
    pptx_group,
    pptx_shape,
    pptx_slide,
    pptx_table,
)

# A deletion LibreOffice tracked: the removed words live in text:tracked-changes.
TRACKED = (
    '<text:tracked-changes><text:changed-region text:id="ct1"><text:deletion>'
    "<office:change-info><dc:creator>B. Ortiz</dc:creator></office:change-info>"
    "<text:p>Withdrawn wording.</text:p></text:deletion></text:changed-region>"
    "</text:tracked-changes>"
)
FOOTNOTE = (
    '<text:note text:id="ftn1" text:note-class="footnote"><text:note-citation>1'
    "</text:note-citation><text:note-body><text:p>Under section 4 of the Act."
    "</text:p></text:note-body></text:note>"
)
ODT_BODY = (
    TRACKED
    + '<text:h text:outline-level="1">Leave</text:h>'
    # Line ends and indentation in the XML are spaces in OpenDocument.
    + '<text:p>Staff get\n    <text:span>ten</text:span><text:s text:c="3"/>days<text:tab/>'
    + f'per<text:line-break/>year.<text:change text:change-id="ct1"/>{FOOTNOTE}</text:p>'
    + '<text:h text:outline-level="2">Sick leave</text:h>'
    + "<text:list><text:list-item><text:p>Tell your manager.</text:p></text:list-item>"
    + "<text:list-item><text:p>See the <text:a xlink:href='https://x'>form</text:a>."
    + "</text:p></text:list-item></text:list>"
    + "<table:table><table:table-column/><table:table-header-rows><table:table-row>"
    + "<table:table-cell><text:p>Kind</text:p></table:table-cell><table:table-cell><text:p>"
    + "Days</text:p></table:table-cell></table:table-row></table:table-header-rows>"
    + "<table:table-row><table:table-cell><text:p>Sick</text:p></table:table-cell>"
    + "<table:table-cell><text:p>10</text:p></table:table-cell></table:table-row>"
    + '<table:table-row><table:table-cell table:number-columns-spanned="2"><text:p>Both'
    + "</text:p></table:table-cell><table:covered-table-cell/></table:table-row></table:table>"
    + "<text:p>Ask HR.<office:annotation><dc:creator>A. Keller</dc:creator>"
    + "<dc:date>2024-05-01T10:00:00</dc:date><text:p>Check the 2019 rule.</text:p>"
    + "</office:annotation> Promptly.</text:p>"
    + '<text:p>Costs<text:note text:note-class="endnote"><text:note-citation>i'
    + "</text:note-citation><text:note-body><text:p>Part 44 applies.</text:p></text:note-body>"
    + "</text:note> follow the event.</text:p>"
    + "<text:table-of-content><text:index-body><text:p>Leave 1</text:p></text:index-body>"
    + "</text:table-of-content>"
)


def test_odt_headings_lists_tables_notes_and_comments(tmp_path: Path) -> None:
    doc = load(make_odt(tmp_path / "leave.odt", ODT_BODY, title="Clinic leave policy"))
    assert doc.title == "Clinic leave policy"
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("Leave", "Leave\n\nStaff get ten days per\nyear."),
        (
            "Leave > Sick leave",
            "Sick leave\n\nTell your manager.\n\nSee the form.\n\nKind | Days\nSick | 10\nBoth"
            "\n\nAsk HR. Promptly.\n\nCosts follow the event.",
        ),
        ("Footnote 1", "Under section 4 of the Act."),
        ("Endnote i", "Part 44 applies."),
        ("Comment by A. Keller", "Check the 2019 rule."),
    ]
    assert not any("Withdrawn" in s.text or "Leave 1" in s.text for s in doc.sections)


def test_odt_title_falls_back_to_first_heading_then_stem(tmp_path: Path) -> None:
    assert load(make_odt(tmp_path / "a.odt", ODT_BODY)).title == "Leave"
    plain = make_odt(tmp_path / "plain-notes.odt", "<text:p>Just text.</text:p>")
    assert load(plain).title == "plain-notes"


def test_odt_heading_inside_a_list_and_odd_outline_levels(tmp_path: Path) -> None:
    # Older OpenOffice versions put numbered headings in lists.
    body = (
        "<text:list><text:list-item>"
        '<text:h text:outline-level="1"><text:number>1.</text:number>Scope</text:h>'
        "</text:list-item></text:list><text:p>All staff.</text:p>"
        '<text:h text:outline-level="x">Terms</text:h><text:p>Plain words.</text:p>'
    )
    doc = load(make_odt(tmp_path / "odd.odt", body))
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("Scope", "Scope\n\nAll staff."),
        ("Terms", "Terms\n\nPlain words."),
    ]


def test_encrypted_odt_is_refused(tmp_path: Path) -> None:
    path = make_odt(tmp_path / "locked.odt", content=bytes(range(256)) * 8, encrypted=True)
    assert_load_error(path, "encrypted ODT; save it without a password first")


def test_odt_mimetype_is_written_first_and_stored(tmp_path: Path) -> None:
    # The builder itself, since every other ODT test trusts it to be a real ODF package.
    with zipfile.ZipFile(make_odt(tmp_path / "m.odt", "<text:p>x</text:p>")) as archive:
        first = archive.infolist()[0]
    assert (first.filename, first.compress_type) == ("mimetype", zipfile.ZIP_STORED)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (odt_content("<text:p>Unclosed"), "not a readable .odt file: invalid XML in content.xml"),
        (
            odt_content("<text:p>x</text:p>").replace("UTF-8", "shift_jis"),
            "content.xml declares the encoding shift_jis, not UTF-8",
        ),
    ],
)
def test_odt_bad_xml(tmp_path: Path, content: str, reason: str) -> None:
    assert_load_error(make_odt(tmp_path / "bad.odt", content=content), reason)


def test_odt_without_content_part(tmp_path: Path) -> None:
    path = tmp_path / "empty.odt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
    assert_load_error(path, "not an .odt file: the zip archive has no content.xml")


SLIDES = [
    # slide1.xml: shown second
    pptx_shape("Budget 2024", placeholder="title")
    + pptx_shape("Spend less on paper", "Print double-sided\nor not at all")
    + pptx_shape("2", placeholder="sldNum")
    + pptx_shape("Confidential", placeholder="ftr"),
    # slide2.xml: hidden, third
    pptx_shape("Draft numbers", placeholder="title") + pptx_shape("Not ready."),
    # slide3.xml: shown first
    pptx_shape("Clinic review", placeholder="ctrTitle")
    + pptx_group(
        pptx_shape("Inside a group"), pptx_table([["Kind", "Days"], ["", ""], ["Sick", "10"]])
    ),
    # slide4.xml: fourth, untitled
    pptx_shape("Questions welcome."),
]


def make_deck(path: Path, **changes: object) -> Path:
    options: dict[str, object] = {
        "order": [3, 1, 2, 4],
        "notes": {1: "Mention the printer lease."},
        "hidden": {2},
    }
    return make_pptx(path, SLIDES, **{**options, **changes})  # type: ignore[arg-type]


def test_pptx_slides_in_presentation_order_with_numbers_notes_and_tables(tmp_path: Path) -> None:
    doc = load(make_deck(tmp_path / "review.pptx"))
    assert doc.title == "Clinic review"  # no document properties: the first slide's title
    assert [(s.page, s.heading, s.text) for s in doc.sections] == [
        (1, "Slide 1: Clinic review", "Clinic review\n\nInside a group\n\nKind | Days\nSick | 10"),
        (
            2,
            "Slide 2: Budget 2024",
            "Budget 2024\n\nSpend less on paper\nPrint double-sided\nor not at all\n\n"
            "Notes: Mention the printer lease.",
        ),
        # The hidden slide is left out but still counted: PowerPoint numbers it 3.
        (4, "Slide 4", "Questions welcome."),
    ]


def test_pptx_title_from_document_properties(tmp_path: Path) -> None:
    assert (
        load(make_deck(tmp_path / "t.pptx", title="Quarterly review")).title == "Quarterly review"
    )


def test_pptx_without_text_reports_its_empty_slides(tmp_path: Path) -> None:
    doc = load(make_pptx(tmp_path / "pictures.pptx", ["", pptx_shape("Only words.")]))
    assert [s.page for s in doc.sections] == [2]
    assert doc.pages_without_text == (1,)


def test_pptx_unreadable_notes_leave_the_slide_loaded(tmp_path: Path) -> None:
    bad = {"ppt/notesSlides/notesSlide1.xml": "<p:notes>unclosed"}
    doc = load(make_deck(tmp_path / "n.pptx", parts=bad))
    assert (
        doc.sections[1].text
        == "Budget 2024\n\nSpend less on paper\nPrint double-sided\nor not at all"
    )


def test_pptx_missing_or_broken_slide_is_refused(tmp_path: Path) -> None:
    missing = make_pptx(tmp_path / "missing.pptx", ["", ""], order=[1, 2, 7])
    assert_load_error(missing, "not a readable .pptx file: slide 3 is missing")
    broken = make_deck(tmp_path / "broken.pptx", parts={"ppt/slides/slide4.xml": "<p:sld>"})
    assert_load_error(broken, "not a readable .pptx file: invalid XML in ppt/slides/slide4.xml")
    bare = tmp_path / "bare.pptx"
    with zipfile.ZipFile(bare, "w") as archive:
        archive.writestr("ppt/slides/slide1.xml", pptx_slide(pptx_shape("x")))
    assert_load_error(bare, "not a .pptx file: the zip archive has no ppt/presentation.xml")


def test_pptx_zip_bomb_slide_is_refused(tmp_path: Path) -> None:
    bomb = pptx_slide(pptx_shape("y" * 1000) * 5_000)
    path = make_deck(tmp_path / "bomb.pptx", parts={"ppt/slides/slide1.xml": bomb})
    assert_load_error(path, "refusing to expand ppt/slides/slide1.xml: compressed")


def test_encrypted_pptx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locked.pptx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000))
    assert_load_error(path, "encrypted or legacy .ppt format; save as .pptx without a password")


@pytest.mark.parametrize("suffix", [".odt", ".pptx"])
def test_corrupt_zip_is_refused(tmp_path: Path, suffix: str) -> None:
    whole = (
        make_odt(tmp_path / "w.odt", ODT_BODY)
        if suffix == ".odt"
        else make_deck(tmp_path / "w.pptx")
    ).read_bytes()
    truncated = tmp_path / f"truncated{suffix}"
    truncated.write_bytes(whole[: len(whole) // 2])
    assert_load_error(truncated, f"not a readable {suffix} file: File is not a zip file")


def test_no_office_suite_is_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Read with the standard library alone: no LibreOffice, no converter, no program run.
    odt = make_odt(tmp_path / "a.odt", ODT_BODY)
    pptx = make_deck(tmp_path / "b.pptx")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a program was started: {args}")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    assert load(odt).sections and load(pptx).sections
    assert {".odt", ".pptx"} <= SUPPORTED_SUFFIXES


def test_search_cites_the_slide_and_the_footnote(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    with Assistant(tmp_path / "i.db", config, encoder=encoder) as kb:
        report = kb.add(
            [make_deck(tmp_path / "review.pptx"), make_odt(tmp_path / "leave.odt", ODT_BODY)]
        )
        assert not report.failed, report.failed
        slide = kb.search("printer lease", k=1)[0]
        note = kb.search("section 4 of the Act", k=1)[0]
    assert (slide.page, slide.heading) == (2, "Slide 2: Budget 2024")
    assert (note.heading, note.text) == ("Footnote 1", "Under section 4 of the Act.")
