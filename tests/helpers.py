"""Plain helpers shared by several test modules: file builders, index rows, answer checks.

Fixtures live in conftest.py; test modules import from here, never from one another.
"""

from __future__ import annotations

import re
import secrets
import time
import zipfile
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit
from xml.sax.saxutils import escape

import fpdf
import numpy as np
import pytest

from ragkit import Answer, Assistant, LoadError, Passage
from ragkit._ingestion import TextSource
from ragkit.ingest import load
from ragkit.store import Index, PostgresIndex, Store

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
    ocr: bool = False


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


# The lines of a scanned intake form: the only place "penicillin" appears in test corpora.
INTAKE = ["Riverside Clinic intake form", "The patient reported an allergy to penicillin."]


def make_scanned_pdf(
    path: Path, pages: list[list[str]], text_pages: dict[int, str] | None = None
) -> Path:
    """A PDF as a scanner makes it: each page an image of its lines, with no text layer.
    ``text_pages`` maps 0-based page numbers to text typeset instead (a mixed document)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=40)  # Pillow's own font: no system fonts needed
    pdf = fpdf.FPDF(unit="pt", format="letter")
    pdf.set_font("Helvetica", size=12)
    for number, lines in enumerate(pages):
        pdf.add_page()
        if text_pages and number in text_pages:
            pdf.multi_cell(0, 16, text_pages[number])
            continue
        # A letter page at 200 dpi, lines of 14-point type.
        image = Image.new("L", (1700, 2200), 255)
        draw = ImageDraw.Draw(image)
        for i, line in enumerate(lines):
            draw.text((150, 200 + 80 * i), line, fill=0, font=font)
        pdf.image(image, x=0, y=0, w=pdf.w, h=pdf.h)
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
            archive.writestr("docProps/core.xml", core_xml(title))
    return path


def core_xml(title: str) -> str:
    """An Office file's document properties (docProps/core.xml) with ``title``."""
    return (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:title>{escape(title)}</dc:title></cp:coreProperties>"
    )


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


ODT_MIMETYPE = "application/vnd.oasis.opendocument.text"
ODF_NAMESPACES = " ".join(
    f'xmlns:{prefix}="{uri}"'
    for prefix, uri in {
        "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
        "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
        "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
        "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
        "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
        "dc": "http://purl.org/dc/elements/1.1/",
        "xlink": "http://www.w3.org/1999/xlink",
    }.items()
)
# What LibreOffice writes in the manifest for each part of a password-protected file.
ODF_ENCRYPTION = (
    '<manifest:encryption-data manifest:checksum-type="urn:oasis:names:tc:opendocument:xmlns:'
    'manifest:1.0#sha256-1k" manifest:checksum="AAAA"><manifest:algorithm manifest:algorithm-name'
    '="http://www.w3.org/2001/04/xmlenc#aes256-cbc" manifest:initialisation-vector="AAAA"/>'
    '<manifest:key-derivation manifest:key-derivation-name="PBKDF2" manifest:key-size="32"'
    ' manifest:iteration-count="100000" manifest:salt="AAAA"/></manifest:encryption-data>'
)


def odt_content(body: str) -> str:
    """A content.xml whose office:text holds ``body``."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODF_NAMESPACES}'
        ' office:version="1.3"><office:automatic-styles/>'
        f"<office:body><office:text>{body}</office:text></office:body></office:document-content>"
    )


def make_odt(
    path: Path,
    body: str = "",
    *,
    title: str | None = None,
    content: str | bytes | None = None,
    encrypted: bool = False,
) -> Path:
    """Write a minimal .odt: the mimetype first and stored, as ODF requires, a manifest,
    content.xml (``content``, else ``body`` in office:text) and, with ``title``, meta.xml.
    ``encrypted`` marks the parts encrypted in the manifest, as a password does."""
    parts = {"content.xml": content if content is not None else odt_content(body)}
    if title is not None:
        parts["meta.xml"] = (
            f"<office:document-meta {ODF_NAMESPACES}><office:meta>"
            f"<dc:title>{escape(title)}</dc:title></office:meta></office:document-meta>"
        )
    entries = "".join(
        f'<manifest:file-entry manifest:full-path="{name}" manifest:media-type="text/xml">'
        f"{ODF_ENCRYPTION if encrypted else ''}</manifest:file-entry>"
        for name in parts
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
        '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{ODT_MIMETYPE}"/>'
        f"{entries}</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODT_MIMETYPE)  # a ZipInfo is stored
        archive.writestr("META-INF/manifest.xml", manifest)
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


PML_NAMESPACES = (
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
    ' xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
    ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
)
REL_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
CORE_PROPERTIES = (
    "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
)
XML_PROLOG = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


def rels_xml(relationships: dict[str, tuple[str, str]]) -> str:
    """A relationships part: id to (type URI, target)."""
    body = "".join(
        f'<Relationship Id="{rid}" Type="{kind}" Target="{target}"/>'
        for rid, (kind, target) in relationships.items()
    )
    return (
        f"{XML_PROLOG}<Relationships"
        f' xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{body}'
        "</Relationships>"
    )


def pptx_shape(*paragraphs: str, placeholder: str | None = None) -> str:
    """A text shape, one a:p a paragraph, a:br for a newline in one; ``placeholder`` is its
    placeholder type ("title", "body", "sldNum", ...)."""
    ph = f'<p:ph type="{placeholder}"/>' if placeholder else ""
    paras = "".join(
        "<a:p>"
        + "<a:br/>".join(f"<a:r><a:t>{escape(line)}</a:t></a:r>" for line in text.split("\n"))
        + "</a:p>"
        for text in paragraphs
    )
    return (
        f'<p:sp><p:nvSpPr><p:cNvPr id="2" name="Shape"/><p:cNvSpPr/><p:nvPr>{ph}</p:nvPr>'
        f"</p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/><a:lstStyle/>{paras}</p:txBody></p:sp>"
    )


def pptx_table(rows: list[list[str]]) -> str:
    """A table in a graphic frame, as PowerPoint stores one."""
    body = "".join(
        '<a:tr h="370840">'
        + "".join(
            f"<a:tc><a:txBody><a:bodyPr/><a:p><a:r><a:t>{escape(cell)}</a:t></a:r></a:p>"
            "</a:txBody><a:tcPr/></a:tc>"
            for cell in row
        )
        + "</a:tr>"
        for row in rows
    )
    return (
        '<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="4" name="Table"/>'
        "<p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr><p:xfrm/><a:graphic>"
        '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/table">'
        f"<a:tbl><a:tblGrid/>{body}</a:tbl></a:graphicData></a:graphic></p:graphicFrame>"
    )


def pptx_group(*shapes: str) -> str:
    return (
        '<p:grpSp><p:nvGrpSpPr><p:cNvPr id="5" name="Group"/><p:cNvGrpSpPr/><p:nvPr/>'
        f"</p:nvGrpSpPr><p:grpSpPr/>{''.join(shapes)}</p:grpSp>"
    )


def pptx_slide(shapes: str, *, root: str = "p:sld", attributes: str = "") -> str:
    """A slide (or, with ``root="p:notes"``, a notes page) of ``shapes``."""
    return (
        f"{XML_PROLOG}<{root} {PML_NAMESPACES}{attributes}><p:cSld><p:spTree><p:nvGrpSpPr>"
        '<p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>'
        f"{shapes}</p:spTree></p:cSld></{root}>"
    )


def make_pptx(
    path: Path,
    slides: Sequence[str],
    *,
    order: Sequence[int] | None = None,
    notes: dict[int, str] | None = None,
    hidden: Collection[int] = (),
    title: str | None = None,
    parts: dict[str, str | bytes] | None = None,
) -> Path:
    """Write a minimal .pptx whose ppt/slides/slide{n}.xml holds the shapes ``slides[n - 1]``.

    ``order`` lists the slide files' numbers in presentation order (default: file order);
    ``notes`` maps slide file numbers to speaker notes; the slides numbered in ``hidden``
    are hidden; ``parts`` adds or replaces parts by name.
    """
    numbers = list(order) if order is not None else list(range(1, len(slides) + 1))
    notes = notes or {}
    files: dict[str, str | bytes] = {
        "[Content_Types].xml": (
            f"{XML_PROLOG}"
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels"'
            ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/ppt/presentation.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/>'
            + "".join(
                f'<Override PartName="/ppt/slides/slide{n}.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.presentationml.slide+xml"/>'
                for n in range(1, len(slides) + 1)
            )
            + "".join(
                f'<Override PartName="/ppt/notesSlides/notesSlide{n}.xml" ContentType='
                '"application/vnd.openxmlformats-officedocument.presentationml.notesSlide+xml"/>'
                for n in notes
            )
            + "</Types>"
        ),
        "_rels/.rels": rels_xml(
            {
                "rId1": (f"{REL_TYPE}officeDocument", "ppt/presentation.xml"),
                "rId2": (CORE_PROPERTIES, "docProps/core.xml"),
            }
        ),
        "ppt/presentation.xml": (
            f"{XML_PROLOG}<p:presentation {PML_NAMESPACES}><p:sldIdLst>"
            + "".join(f'<p:sldId id="{255 + n}" r:id="rId{n + 1}"/>' for n in numbers)
            + '</p:sldIdLst><p:sldSz cx="12192000" cy="6858000"/>'
            '<p:notesSz cx="6858000" cy="9144000"/></p:presentation>'
        ),
        # Relationship ids and slide files numbered apart, as after slides were reordered.
        "ppt/_rels/presentation.xml.rels": rels_xml(
            {
                f"rId{n + 1}": (f"{REL_TYPE}slide", f"slides/slide{n}.xml")
                for n in range(1, len(slides) + 1)
            }
        ),
    }
    for n, shapes in enumerate(slides, 1):
        show = ' show="0"' if n in hidden else ""
        files[f"ppt/slides/slide{n}.xml"] = pptx_slide(shapes, attributes=show)
    for n, text in notes.items():
        files[f"ppt/slides/_rels/slide{n}.xml.rels"] = rels_xml(
            {"rId2": (f"{REL_TYPE}notesSlide", f"../notesSlides/notesSlide{n}.xml")}
        )
        files[f"ppt/notesSlides/_rels/notesSlide{n}.xml.rels"] = rels_xml(
            {"rId1": (f"{REL_TYPE}slide", f"../slides/slide{n}.xml")}
        )
        # A notes page: a picture of the slide, the notes, the slide number.
        files[f"ppt/notesSlides/notesSlide{n}.xml"] = pptx_slide(
            '<p:sp><p:nvSpPr><p:cNvPr id="2" name="Slide Image"/><p:cNvSpPr/><p:nvPr>'
            '<p:ph type="sldImg"/></p:nvPr></p:nvSpPr><p:spPr/></p:sp>'
            + pptx_shape(text, placeholder="body")
            + pptx_shape(str(n), placeholder="sldNum"),
            root="p:notes",
        )
    if title is not None:
        files["docProps/core.xml"] = core_xml(title)
    files.update(parts or {})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


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


def downgrade_schema(conn: Any, version: int) -> None:
    """Turn a current index back into the schema an older ragkit wrote, rows kept, so a test
    can open it and see it upgraded."""
    if version == 3:
        # Schema 3 kept a chunk's text terms and heading terms in two columns.
        from ragkit._language import document_terms
        from ragkit.store._schema import FTS_TOKENIZER

        conn.execute("drop table chunks_fts")
        conn.execute(
            "create virtual table chunks_fts using fts5(text, heading, content='', "
            f'contentless_delete=1, tokenize="{FTS_TOKENIZER}")'
        )
        rows = conn.execute(
            "select c.id, c.text, c.heading, d.language from chunks c "
            "join documents d on d.id = c.document_id"
        ).fetchall()
        conn.executemany(
            "insert into chunks_fts(rowid, text, heading) values (?, ?, ?)",
            [(i, document_terms(t, lang), document_terms(h or "", lang)) for i, t, h, lang in rows],
        )
    if version < 3:
        # Before schema 3 the full text was the chunks' own text, stemmed by FTS5's porter.
        conn.execute("drop trigger chunks_ad")
        conn.execute("drop table chunks_fts")
        conn.execute("drop index documents_language")
        conn.execute("alter table documents drop column language")
        conn.execute(
            "create virtual table chunks_fts using fts5(text, heading, content='chunks', "
            "content_rowid='id', tokenize='porter unicode61')"
        )
        conn.execute(
            "create trigger chunks_ai after insert on chunks begin insert into "
            "chunks_fts(rowid, text, heading) values (new.id, new.text, new.heading); end"
        )
        conn.execute(
            "create trigger chunks_ad after delete on chunks begin insert into "
            "chunks_fts(chunks_fts, rowid, text, heading) "
            "values ('delete', old.id, old.text, old.heading); end"
        )
        conn.execute("insert into chunks_fts(chunks_fts) values ('rebuild')")
    if version < 2:
        conn.execute("alter table chunks drop column ocr")
    conn.execute("update meta set value = ? where key = 'schema_version'", (str(version),))
    conn.execute(f"pragma user_version={version}")


# --- stores --------------------------------------------------------------------------------

StoreFactory = Callable[..., Store]
"""``make(name="i", **Index_arguments)``: the store called ``name`` of this test, opened
(an index file in its tmp_path, or a schema of its own in the test database)."""

BACKENDS = ["sqlite", "postgres"]


@contextmanager
def stores(backend: str, folder: Path, dsn: str | None) -> Iterator[StoreFactory]:
    """A :data:`StoreFactory` for ``backend``; its PostgreSQL schemas (random names, so
    tests never meet) are dropped afterwards."""
    from psycopg import connect, sql

    prefix = f"test_{secrets.token_hex(4)}"
    opened: list[Store] = []

    def make(name: str = "i", **kwargs: Any) -> Store:
        store: Store
        if backend == "sqlite":
            store = Index(folder / f"{name}.db", **kwargs)
        else:
            assert dsn is not None
            store = PostgresIndex(dsn, schema=f"{prefix}_{name}", **kwargs)
        opened.append(store)
        return store

    try:
        yield make
    finally:
        for store in opened:
            store.close()
        if backend == "postgres":
            assert dsn is not None
            with connect(dsn.split("?schema=")[0], autocommit=True) as conn:
                found = conn.execute(
                    "select nspname from pg_namespace where nspname like %s", (f"{prefix}%",)
                ).fetchall()
                for (schema,) in found:
                    conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(schema)))


def with_params(dsn: str, **params: str) -> str:
    """``dsn`` with these query parameters added (``schema=``, ``application_name=``)."""
    return f"{dsn}{'&' if '?' in dsn else '?'}{urlencode(params)}"


def as_role(url: str, role: str) -> str:
    """``url`` connecting as ``role`` (no password: the test server trusts its socket)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.netloc.rpartition('@')[2]}"))


def backend_dsn(request: pytest.FixtureRequest, backend: str) -> str | None:
    """The test database's URL for ``postgres`` (the test is skipped without one)."""
    return str(request.getfixturevalue("postgres_dsn")) if backend == "postgres" else None
