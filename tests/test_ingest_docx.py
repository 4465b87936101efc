"""Tests for the DOCX loader, on .docx files built here with zipfile."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ragkit.ingest import load

from .helpers import (
    HANDBOOK_BODY,
    assert_load_error,
    document_xml,
    entity_bomb,
    make_docx,
    para,
    table,
)


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
            "Annual leave\n\nTwenty-five days.\n\nStill under annual leave.\n\n"
            "Inside a content control.",
        ),
    ]


def test_docx_title_falls_back_to_title_style_then_stem(tmp_path: Path) -> None:
    assert load(make_docx(tmp_path / "a.docx", HANDBOOK_BODY)).title == "Staff handbook"
    assert load(make_docx(tmp_path / "plain-notes.docx", para("Just text."))).title == "plain-notes"


def test_docx_localised_heading_style_ids(tmp_path: Path) -> None:
    # German Word names its style ids after the localised names, but the style's built-in
    # name in styles.xml stays "heading 1".
    body = para("Urlaub", "berschrift1") + para("Zehn Tage.") + para("Nicht fett.", "Standard")
    path = make_docx(
        tmp_path / "de.docx", body, styles={"berschrift1": "heading 1", "Standard": "Normal"}
    )
    assert [(s.heading, s.text) for s in load(path).sections] == [
        ("Urlaub", "Urlaub\n\nZehn Tage.\n\nNicht fett.")
    ]


def test_docx_is_normalised(tmp_path: Path) -> None:
    body = para("The \ufb01rst\u00a0floor\u00ad s\u00adoft   spaces.")
    assert (
        load(make_docx(tmp_path / "n.docx", body)).sections[0].text
        == "The first floor soft spaces."
    )


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
        tmp_path / "utf16.docx",
        "",
        document=document_xml(para("wide")).replace("UTF-8", "UTF-16").encode("utf-16"),
    )
    assert load(utf16).sections[0].text == "wide"


def test_docx_ole_compound_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000))
    assert_load_error(path, "encrypted or legacy .doc format; save as .docx without a password")


def test_docx_without_text(tmp_path: Path) -> None:
    assert_load_error(
        make_docx(tmp_path / "empty.docx", para("") + table([["", ""]])), "no text found"
    )
