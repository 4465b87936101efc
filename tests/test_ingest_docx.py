"""Tests for the DOCX loader, on .docx files built here with zipfile."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from ragkit.ingest import load
from tests.test_ingest import assert_load_error

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="word/document.xml"'
    ' Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
    "</Relationships>"
)


def para(text: str = "", style: str | None = None, runs: str | None = None) -> str:
    """A w:p; ``runs`` is raw run XML used instead of ``text``."""
    props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    body = runs if runs is not None else f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r>'
    return f"<w:p>{props}{body}</w:p>"


def table(rows: list[list[str]]) -> str:
    cells = "".join("<w:tr>" + "".join(f"<w:tc>{para(c)}</w:tc>" for c in row) + "</w:tr>" for row in rows)
    return f"<w:tbl>{cells}</w:tbl>"


def document_xml(body: str, prolog: str = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>') -> str:
    return f'{prolog}<w:document xmlns:w="{W_NS}"><w:body>{body}<w:sectPr/></w:body></w:document>'


def entity_bomb(levels: int) -> str:
    """A document.xml whose one entity expands to 10 ** levels characters."""
    entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, levels))
    body = f"<w:p><w:r><w:t>&e{levels - 1};</w:t></w:r></w:p>"
    return document_xml(body, f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e0 "aaaaaaaaaa">{entities}]>')


def make_docx(
    path: Path,
    body: str,
    *,
    title: str | None = None,
    styles: dict[str, str] | None = None,
    document: str | bytes | None = None,
) -> Path:
    """Write a minimal .docx; ``styles`` maps paragraph style ids to their names."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("word/document.xml", document if document is not None else document_xml(body))
        if styles:
            defs = "".join(
                f'<w:style w:type="paragraph" w:styleId="{sid}"><w:name w:val="{name}"/></w:style>'
                for sid, name in styles.items()
            )
            archive.writestr("word/styles.xml", f'<w:styles xmlns:w="{W_NS}">{defs}</w:styles>')
        if title is not None:
            archive.writestr(
                "docProps/core.xml",
                '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
                ' xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f"<dc:title>{escape(title)}</dc:title></cp:coreProperties>",
            )
    return path


HANDBOOK_BODY = "".join(
    [
        para("Staff handbook", "Title"),
        para("Welcome to the clinic."),
        para("Leave", "Heading1"),
        para("Sick leave", "Heading2"),
        para(runs='<w:r><w:t>Ten days</w:t></w:r><w:r><w:tab/><w:t>per</w:t><w:br/><w:t>year.</w:t></w:r>'),
        table([["Kind", "Days"], ["Sick", "10"], ["", ""], ["Annual", "25"]]),
        para("Annual leave", "Heading2"),
        para(runs='<w:r><w:t>Twenty</w:t><w:noBreakHyphen/><w:t>five days.</w:t></w:r>'
             '<w:del><w:r><w:delText>deleted words</w:delText></w:r></w:del>'),
        para("", "Heading2"),  # an empty heading paragraph is ignored
        para("Still under annual leave."),
        "<w:sdt><w:sdtContent>" + para("Inside a content control.") + "</w:sdtContent></w:sdt>",
    ]
)  # fmt: skip


def test_docx_headings_tables_and_title(tmp_path: Path) -> None:
    doc = load(make_docx(tmp_path / "handbook.docx", HANDBOOK_BODY, title="Clinic Handbook 2024"))
    assert doc.title == "Clinic Handbook 2024"
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("Staff handbook", "Staff handbook\n\nWelcome to the clinic."),
        (
            "Staff handbook > Leave > Sick leave",
            "Sick leave\n\nTen days per\nyear.\n\nKind | Days\nSick | 10\nAnnual | 25",
        ),
        (
            "Staff handbook > Leave > Annual leave",
            "Annual leave\n\nTwenty-five days.\n\nStill under annual leave.\n\nInside a content control.",
        ),
    ]


def test_docx_title_falls_back_to_title_style_then_stem(tmp_path: Path) -> None:
    assert load(make_docx(tmp_path / "a.docx", HANDBOOK_BODY)).title == "Staff handbook"
    assert load(make_docx(tmp_path / "plain-notes.docx", para("Just text."))).title == "plain-notes"


def test_docx_localised_heading_style_ids(tmp_path: Path) -> None:
    # German Word names its style ids after the localised names, but the style's built-in
    # name in styles.xml stays "heading 1".
    body = para("Urlaub", "berschrift1") + para("Zehn Tage.") + para("Nicht fett.", "Standard")
    path = make_docx(tmp_path / "de.docx", body, styles={"berschrift1": "heading 1", "Standard": "Normal"})
    assert [(s.heading, s.text) for s in load(path).sections] == [("Urlaub", "Urlaub\n\nZehn Tage.\n\nNicht fett.")]


def test_docx_is_normalised(tmp_path: Path) -> None:
    body = para("The \ufb01rst\u00a0floor\u00ad s\u00adoft   spaces.")
    assert load(make_docx(tmp_path / "n.docx", body)).sections[0].text == "The first floor soft spaces."


def test_docx_zip_bomb_by_size_is_refused(tmp_path: Path) -> None:
    # 60 MB of XML that deflates to about 60 KB.
    filler = para("x" * 1000) * 60_000
    path = make_docx(tmp_path / "bomb.docx", "", document=document_xml(filler))
    assert path.stat().st_size < 1_000_000
    error = assert_load_error(path, "refusing to expand word/document.xml")
    assert "over the 50 MB limit" in error.reason and error.reason.endswith("(possible zip bomb)")


def test_docx_zip_bomb_by_ratio_is_refused(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "ratio.docx", "", document=document_xml(para("y" * 1000) * 5_000))
    error = assert_load_error(path, "refusing to expand word/document.xml: compressed")
    assert "over 100:1 (possible zip bomb)" in error.reason


def test_docx_header_that_understates_the_size_fails_the_crc(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "liar.docx", HANDBOOK_BODY)
    data = bytearray(path.read_bytes())
    # Shrink the uncompressed size recorded in the central directory entry of document.xml.
    entry = data.rfind(b"PK\x01\x02", 0, data.rfind(b"word/document.xml"))
    data[entry + 24 : entry + 28] = (100).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    assert_load_error(path, "not a readable .docx file")


def test_docx_truncated_and_not_a_zip(tmp_path: Path) -> None:
    whole = make_docx(tmp_path / "whole.docx", HANDBOOK_BODY).read_bytes()
    truncated = tmp_path / "truncated.docx"
    truncated.write_bytes(whole[: len(whole) // 2])
    assert_load_error(truncated, "not a readable .docx file: File is not a zip file")
    text = tmp_path / "text.docx"
    text.write_text("I am not a zip at all.")
    assert_load_error(text, "not a readable .docx file")


def test_docx_without_document_part(tmp_path: Path) -> None:
    path = tmp_path / "other.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    assert_load_error(path, "not a .docx file: the zip archive has no word/document.xml")


@pytest.mark.parametrize(
    "document",
    [
        document_xml(para("Unclosed")).replace("</w:body>", ""),
        b"\xff\xfe not xml",
        entity_bomb(9),  # "billion laughs": expat stops the expansion
    ],
)
def test_docx_bad_xml(tmp_path: Path, document: str | bytes) -> None:
    path = make_docx(tmp_path / "bad.docx", "", document=document)
    assert_load_error(path, "not a readable .docx file: invalid XML in word/document.xml")


@pytest.mark.parametrize("encoding", ["shift_jis", "rot13", "unicode_escape", "bogus"])
def test_docx_odd_xml_encoding(tmp_path: Path, encoding: str) -> None:
    document = document_xml(para("x"), f'<?xml version="1.0" encoding="{encoding}"?>')
    path = make_docx(tmp_path / "odd.docx", "", document=document)
    assert_load_error(path, f"word/document.xml declares the encoding {encoding}, not UTF-8")
    utf16 = make_docx(
        tmp_path / "utf16.docx", "", document=document_xml(para("wide")).replace("UTF-8", "UTF-16").encode("utf-16")
    )
    assert load(utf16).sections[0].text == "wide"


def test_docx_ole_compound_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000))
    assert_load_error(path, "encrypted or legacy .doc format; save as .docx without a password")


def test_docx_without_text(tmp_path: Path) -> None:
    assert_load_error(make_docx(tmp_path / "empty.docx", para("") + table([["", ""]])), "no text found")
