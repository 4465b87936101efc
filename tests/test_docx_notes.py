"""DOCX footnotes, endnotes, comments, headers and footers, on .docx files built here."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ragkit import Assistant, Config, TextEncoder
from ragkit.ingest import load

from .helpers import CONTENT_TYPES, RELS, W_NS, document_xml, para

LIMITATION = "The limitation period is three years under section 14 of the Act."


def _ref(kind: str, note_id: int) -> str:
    return f'<w:r><w:{kind}Reference w:id="{note_id}"/></w:r>'


def _notes(kind: str, notes: dict[int, str]) -> str:
    """A footnotes.xml or endnotes.xml: Word's separator notes, then ``notes`` by id."""
    mark = f'<w:r><w:{kind}Ref/></w:r><w:r><w:t xml:space="preserve"> </w:t></w:r>'
    body = (
        f'<w:{kind} w:type="separator" w:id="-1">'
        f"<w:p><w:r><w:separator/></w:r></w:p></w:{kind}>"
        f'<w:{kind} w:type="continuationSeparator" w:id="0"><w:p><w:r>'
        f"<w:continuationSeparator/></w:r></w:p></w:{kind}>"
    )
    body += "".join(
        f'<w:{kind} w:id="{i}">{para(runs=mark + f"<w:r><w:t>{text}</w:t></w:r>")}</w:{kind}>'
        for i, text in notes.items()
    )
    return f'<w:{kind}s xmlns:w="{W_NS}">{body}</w:{kind}s>'


def _hdr(tag: str, text: str) -> str:
    return f'<w:{tag} xmlns:w="{W_NS}">{para(text)}</w:{tag}>'


BODY = (
    para("Claims", "Heading1")
    + para(runs="<w:r><w:t>A claim must be brought in time.</w:t></w:r>" + _ref("footnote", 1))
    + para(runs="<w:r><w:t>Costs follow the event.</w:t></w:r>" + _ref("endnote", 1))
    # A page section break: the next section has its own copy of the header (header2.xml),
    # as Word writes one when the headers are not linked.
    + '<w:p><w:pPr><w:sectPr><w:headerReference w:type="default" r:id="rId8"'
    ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"/>'
    "</w:sectPr></w:pPr></w:p>" + para("Damages are assessed separately.")
)
PARTS = {
    "word/footnotes.xml": _notes("footnote", {1: LIMITATION}),
    "word/endnotes.xml": _notes("endnote", {1: "Costs are governed by Part 44 of the Rules."}),
    "word/comments.xml": (
        f'<w:comments xmlns:w="{W_NS}">'
        f'<w:comment w:id="0" w:author="A. Keller" w:initials="AK">'
        f"{para('Check whether the 2019 amendment applies.')}</w:comment>"
        f'<w:comment w:id="1">{para("Confirm with the client.")}</w:comment>'
        "</w:comments>"
    ),
    "word/header1.xml": _hdr("hdr", "Privileged and confidential"),
    # A copy of header1 for the second page section: indexed once.
    "word/header2.xml": _hdr("hdr", "Privileged  and confidential"),
    "word/footer1.xml": _hdr("ftr", "Keller & Partners LLP"),
}


def make_docx(path: Path, body: str = BODY, **parts: str | bytes) -> Path:
    """A .docx of ``body`` plus the side parts in PARTS, replaced or added by ``parts``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("word/document.xml", document_xml(body))
        for name, xml in {**PARTS, **parts}.items():
            archive.writestr(name, xml)
    return path


def _by_heading(path: Path) -> dict[str | None, list[str]]:
    found: dict[str | None, list[str]] = {}
    for section in load(path).sections:
        found.setdefault(section.heading, []).append(section.text)
    return found


def test_notes_comments_headers_are_loaded_and_attributed(tmp_path: Path) -> None:
    sections = _by_heading(make_docx(tmp_path / "brief.docx"))
    assert sections == {
        "Claims": [
            "Claims\n\nA claim must be brought in time.\n\nCosts follow the event.\n\n"
            "Damages are assessed separately."
        ],
        "Footnote 1": [LIMITATION],
        "Endnote 1": ["Costs are governed by Part 44 of the Rules."],
        "Comment by A. Keller": ["Check whether the 2019 amendment applies."],
        "Comment": ["Confirm with the client."],
        "Header": ["Privileged and confidential"],  # header2 is the same text: once
        "Footer": ["Keller & Partners LLP"],
    }


def test_notes_are_numbered_in_reference_order_and_unreferenced_ones_skipped(
    tmp_path: Path,
) -> None:
    # Ids need not follow the order the body cites them in; Word numbers by that order.
    body = para(runs=_ref("footnote", 7) + _ref("footnote", 3)) + para("Text.")
    notes = _notes("footnote", {3: "Cited second.", 7: "Cited first.", 9: "Never cited."})
    sections = _by_heading(
        make_docx(tmp_path / "order.docx", body, **{"word/footnotes.xml": notes})
    )
    assert sections["Footnote 1"] == ["Cited first."]
    assert sections["Footnote 2"] == ["Cited second."]
    assert "Footnote 3" not in sections
    assert not any("Never cited" in t for texts in sections.values() for t in texts)


def test_separator_notes_are_not_loaded(tmp_path: Path) -> None:
    # A separator note that the body somehow cites is still the rule above the notes.
    body = para(runs="<w:r><w:t>Body.</w:t></w:r>" + _ref("footnote", 0) + _ref("footnote", 1))
    notes = _notes("footnote", {1: LIMITATION}).replace(
        "<w:continuationSeparator/>", "<w:t>SEPARATOR</w:t>"
    )
    doc = load(make_docx(tmp_path / "sep.docx", body, **{"word/footnotes.xml": notes}))
    assert all("SEPARATOR" not in s.text for s in doc.sections)
    assert [s.text for s in doc.sections if s.heading == "Footnote 2"] == [LIMITATION]


def test_corrupt_or_missing_side_parts_leave_the_body_loaded(tmp_path: Path) -> None:
    bad = {
        "word/footnotes.xml": "<w:footnotes><w:footnote>unclosed",
        "word/endnotes.xml": b"\xff\xfe not xml",
        "word/comments.xml": '<?xml version="1.0" encoding="rot13"?><w:comments/>',
        "word/header1.xml": "",
    }
    sections = _by_heading(make_docx(tmp_path / "bad.docx", **bad))
    assert "A claim must be brought in time." in sections["Claims"][0]
    assert set(sections) == {"Claims", "Header", "Footer"}  # header2 still has the text


def test_notes_before_a_fault_in_the_part_are_kept(tmp_path: Path) -> None:
    notes = _notes("footnote", {1: LIMITATION}).replace(
        "</w:footnotes>", '<w:footnote w:id="2"><w:p>'
    )
    sections = _by_heading(make_docx(tmp_path / "cut.docx", **{"word/footnotes.xml": notes}))
    assert sections["Footnote 1"] == [LIMITATION]


def test_search_finds_the_footnote_and_cites_it(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    path = make_docx(tmp_path / "brief.docx")
    with Assistant(tmp_path / "i.db", config, encoder=encoder) as kb:
        report = kb.add(path)
        assert not report.failed, report.failed
        best = kb.search("limitation period", k=1)[0]
        # The footnote answers a question, and the answer cites it.
        answer = kb.ask("How long is the limitation period for claims?", mode="extractive")
    assert not answer.abstained and answer.citations, answer
    assert answer.citations[0].heading == "Footnote 1"
    assert best.text == LIMITATION
    assert best.heading == "Footnote 1"
    assert best.location == "brief.docx > Footnote 1"
