"""Tests for the text normalisation that every loader's output goes through."""

from __future__ import annotations

import re
import unicodedata
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragkit.ingest import load, normalize_text

from .helpers import make_pdf


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "The \ufb01rst \ufb02oor, e\ufb00ort, o\ufb03ce, ba\ufb04e, \ufb05, \ufb06.",
            "The first floor, effort, office, baffle, st, st.",
        ),
        ("Treat-\nment and treat- \n  ment", "Treatment and treatment"),
        ("COVID-\n19, Jean-\nPaul, e-\nMail, -\nx", "COVID-\n19, Jean-\nPaul, e-\nMail, -\nx"),
        ("soft\u00adly, hy\u00ad\nphen, Hy\u00ad\nPhen", "softly, hyphen, HyPhen"),
        ("a\u00a0b\u2002c\u2009d\u202fe\u3000f\u200bg\ufeffh\u2060i", "a b c d e fghi"),
        ("tabs\tand   runs \t of  spaces", "tabs and runs of spaces"),
        ("trailing   \nand leading\n   spaces  ", "trailing\nand leading\nspaces"),
        ("one\n\n\n\ntwo\n \n \n\nthree", "one\n\ntwo\n\nthree"),
        ("crlf\r\nand\rcr", "crlf\nand\ncr"),
        ("nul\x00 bell\x07 esc\x1b del\x7f c1\x81\x9f end", "nul bell esc del c1 end"),
        (
            "page\x0cbreak, vt\x0bline, nel\x85line, ls\u2028line",
            "page\nbreak, vt\nline, nel\nline, ls\nline",
        ),
        ("para\u2029graph", "para\n\ngraph"),
        ("cafe\u0301 and e\x00\u0301", "caf\u00e9 and \u00e9"),
        ("  \n\t\x00\u200b  ", ""),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.characters(),
            st.sampled_from(
                [
                    "-\n",
                    "\u00ad\n",
                    " ",
                    "\t",
                    "\n",
                    "\n\n\n",
                    "\ufb01",
                    "\u00a0",
                    "\u0301",
                    "e",
                    "A",
                    "\x0c",
                ]
            ),
        ),
        max_size=100,
    ).map("".join)
)
def test_normalize_text_properties(raw: str) -> None:
    once = normalize_text(raw)
    assert normalize_text(once) == once
    assert once == once.strip() and unicodedata.is_normalized("NFC", once)
    assert not re.search(
        r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u00a0\u00ad\u2028\u2029\ufb00-\ufb06\t]|  | \n|\n |\n\n\n",
        once,
    )


def test_every_loader_normalises(tmp_path: Path) -> None:
    raw = "The \ufb01rst\u00a0floor   had a treat-\nment room."
    expected = "The first floor had a treatment room."
    (tmp_path / "a.txt").write_text(raw, encoding="utf-8")
    (tmp_path / "a.md").write_text(f"# Heading\u00a0one\n\n{raw}", encoding="utf-8")
    (tmp_path / "a.html").write_text(f"<h1>Heading&nbsp;one</h1><pre>{raw}</pre>", encoding="utf-8")
    make_pdf(tmp_path / "a.pdf", ["The first floor   had a treat-\nment room."])
    with zipfile.ZipFile(tmp_path / "a.docx", "w") as archive:
        archive.writestr(
            "word/document.xml",
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
            f"<w:p><w:r><w:t>{raw.replace(chr(10), '</w:t><w:br/><w:t>')}</w:t></w:r></w:p>"
            "</w:body></w:document>",
        )
    for path in sorted(tmp_path.iterdir()):
        doc = load(path)
        assert doc.sections[-1].text.endswith(expected), path.name
        if path.suffix in (".md", ".html"):
            assert doc.sections[0].heading == "Heading one"
