"""Plain helpers shared by several test modules: file builders, index rows, answer checks.

Fixtures live in conftest.py; test modules import from here, never from one another.
"""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import fpdf
import numpy as np
import pytest

from ragkit import Answer, Assistant, LoadError, Passage
from ragkit._ingestion import TextSource
from ragkit.ingest import load

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "corpus"
QUESTIONS = ROOT / "samples" / "questions.jsonl"

Scripted = Callable[..., Assistant]
"""The ``scripted`` fixture: ``scripted(script, **config_changes)`` opens an Assistant."""

# --- store rows ----------------------------------------------------------------------------


@dataclass
class Row:
    """A chunk as Index.put_document takes it."""

    text: str
    ordinal: int
    page: int | None = None
    heading: str | None = None
    start: int = 0
    end: int = 0
    n_tokens: int = 1


def rows(*texts: str) -> list[Row]:
    return [Row(t, i, end=len(t)) for i, t in enumerate(texts)]


def unit(n: int, dims: int = 8, seed: int = 0) -> np.ndarray:
    """``n`` random unit vectors."""
    v = np.random.default_rng(seed).normal(size=(n, dims)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# --- files ---------------------------------------------------------------------------------


def make_pdf(path: Path, pages: list[str], title: str | None = None, **encryption: str) -> Path:
    pdf = fpdf.FPDF()
    if title is not None:
        pdf.set_title(title)
    if encryption:
        pdf.set_encryption(**encryption)
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
    pdf.output(str(path))
    return path


def assert_load_error(path: Path, reason_part: str) -> LoadError:
    with pytest.raises(LoadError) as caught:
        load(path)
    assert str(path) in str(caught.value)
    assert reason_part in caught.value.reason
    return caught.value


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels"'
    ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml'
    '.document.main+xml"/>'
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
    body = (
        runs if runs is not None else f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r>'
    )
    return f"<w:p>{props}{body}</w:p>"


def table(rows: list[list[str]]) -> str:
    cells = "".join(
        "<w:tr>" + "".join(f"<w:tc>{para(c)}</w:tc>" for c in row) + "</w:tr>" for row in rows
    )
    return f"<w:tbl>{cells}</w:tbl>"


def document_xml(
    body: str, prolog: str = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
) -> str:
    return f'{prolog}<w:document xmlns:w="{W_NS}"><w:body>{body}<w:sectPr/></w:body></w:document>'


def entity_bomb(levels: int) -> str:
    """A document.xml whose one entity expands to 10 ** levels characters."""
    entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, levels))
    body = f"<w:p><w:r><w:t>&e{levels - 1};</w:t></w:r></w:p>"
    return document_xml(
        body, f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e0 "aaaaaaaaaa">{entities}]>'
    )


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
        archive.writestr(
            "word/document.xml", document if document is not None else document_xml(body)
        )
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
        para(runs='<w:r><w:t>Ten days</w:t></w:r>'
                  '<w:r><w:tab/><w:t>per</w:t><w:br/><w:t>year.</w:t></w:r>'),
        table([["Kind", "Days"], ["Sick", "10"], ["", ""], ["Annual", "25"]]),
        para("Annual leave", "Heading2"),
        para(runs='<w:r><w:t>Twenty</w:t><w:noBreakHyphen/><w:t>five days.</w:t></w:r>'
             '<w:del><w:r><w:delText>deleted words</w:delText></w:r></w:del>'),
        para("", "Heading2"),  # an empty heading paragraph is ignored
        para("Still under annual leave."),
        "<w:sdt><w:sdtContent>" + para("Inside a content control.") + "</w:sdtContent></w:sdt>",
    ]
)  # fmt: skip


class NeverEndingSource(TextSource):
    """A source whose parsing never finishes, whatever the machine's speed.

    Defined in an importable module so the parse worker can unpickle it.
    """

    def document(self):  # type: ignore[no-untyped-def]
        while True:
            time.sleep(60)


# --- answers -------------------------------------------------------------------------------


def passage(n: int, text: str = "text", page: int | None = None) -> Passage:
    """A retrieved passage as the answer layer receives it, for tests that build prompts
    and checks without an index."""
    return Passage(
        chunk_id=n,
        path=f"/docs/f{n}.pdf",
        title="t",
        page=page,
        heading=None,
        text=text,
        rank_score=0.0,
        similarity=0.5,
    )


def passage_number(prompt: str, needle: str) -> int:
    """The number of the passage in ``prompt`` (the user message the model was given) whose
    text holds ``needle``; tests script citations to it instead of assuming a ranking."""
    blocks = re.split(r"\n\n(?=\[\d+\] \()", prompt.split("\n\n", 1)[1])
    for block in blocks:
        head = re.match(r"\[(\d+)\] \(", block)
        if head and needle in block:
            return int(head.group(1))
    raise AssertionError(f"no passage in the prompt holds {needle!r}:\n{prompt}")


def assert_answer_invariants(answer: Answer, streamed: Sequence[str] | None = None) -> None:
    """What holds for any answer a real model writes, whatever its words.

    The answer is an abstention or cites something; every citation points at a passage it
    was given (and carries that passage's location); with ``streamed``, text was streamed
    and every sentence of the answer appears in it (markers aside, which ragkit may add).
    """
    if answer.abstained:
        assert not answer.citations
    else:
        assert answer.citations, answer
    n = len(answer.passages)
    assert all(1 <= c.n <= n for c in answer.citations), answer
    for c in answer.citations:
        passage = answer.passages[c.n - 1]
        assert (c.path, c.page, c.heading, c.text) == (
            passage.path,
            passage.page,
            passage.heading,
            passage.text,
        )
    assert all(1 <= k <= n for s in answer.sentences for k in s.citations), answer
    assert all(not 1 <= k <= n for k in answer.invalid_citations), answer
    if streamed is not None:
        assert len(streamed) >= 1 and all(isinstance(p, str) for p in streamed)
        text = _bare("".join(streamed))
        for sentence in answer.sentences:
            assert _bare(sentence.text) in text, (sentence.text, text)


def _bare(text: str) -> str:
    """Text without citation markers, spaces before punctuation, or runs of whitespace."""
    text = re.sub(r"\s*\[[\d,\s]*\]", "", text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return " ".join(text.split())
