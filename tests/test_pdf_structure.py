"""PDF page structure: running headers and footers are left out of the sections, and the
PDF outline (bookmarks) labels each page with a heading path."""

from __future__ import annotations

import re
from pathlib import Path

import fpdf

from ragkit import Assistant, Config, TextEncoder
from ragkit.ingest import load
from ragkit.store import Index

from .helpers import make_pdf

HEADER = "Keller & Voss LLP - Privileged & Confidential"
BODIES = [
    "The tenant pays a deposit of three months of rent before moving in.",
    "Either party may end the agreement with ninety days of written notice.",
    "Disputes go to arbitration in Riverbend under the commercial rules.",
]


class LetterheadPdf(fpdf.FPDF):
    """A law-firm PDF: the same header line on top of every page, a page counter below."""

    def header(self) -> None:
        self.set_font("Helvetica", size=9)
        self.cell(0, 8, HEADER, new_x="LMARGIN", new_y="NEXT")

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=9)
        self.cell(0, 8, f"Page {self.page_no()} of {{nb}}")


def letterhead_pdf(path: Path) -> Path:
    pdf = LetterheadPdf()
    for body in BODIES:
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 8, body)
    pdf.output(str(path))
    return path


def test_running_header_and_page_footer_are_left_out(tmp_path: Path) -> None:
    doc = load(letterhead_pdf(tmp_path / "brief.pdf"))
    assert [s.page for s in doc.sections] == [1, 2, 3]
    for section, body in zip(doc.sections, BODIES, strict=True):
        assert section.text == body
        assert "Keller" not in section.text and "Page" not in section.text


def test_no_stored_chunk_holds_the_running_header(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    path = letterhead_pdf(tmp_path / "brief.pdf")
    with Assistant(tmp_path / "i.db", config, encoder=encoder) as kb:
        report = kb.add(path)
        assert not report.failed, report.failed
        found = kb.search("notice to end the agreement", k=1)
    assert (Path(found[0].path).name, found[0].page) == ("brief.pdf", 2)
    with Index(tmp_path / "i.db") as index:
        texts = [row[0] for row in index.conn.execute("select text from chunks")]
    assert len(texts) == 3
    assert not [t for t in texts if "Keller" in t or "Page " in t]
    # Kept once, out of the chunks, with the document.
    with Assistant(tmp_path / "i.db", config, encoder=encoder) as kb:
        kb.add(path, tags=["brief"])  # relabelling an unchanged file keeps it too
        (info,) = kb.documents()
    assert info.tags == ("brief",)
    assert info.metadata == {"running_lines": [HEADER, "Page 1 of 3"]}


def test_a_line_on_one_page_only_is_kept(tmp_path: Path) -> None:
    # Two pages are too few to tell layout from content: nothing is dropped, and a line that
    # starts only one page is never a running header.
    pages = [
        f"{HEADER}\nSchedule A lists the furniture.\nPage 1 of 2",
        f"{HEADER}\nSigned in Riverbend.\nPage 2 of 2",
    ]
    doc = load(make_pdf(tmp_path / "short.pdf", pages))
    assert [s.text for s in doc.sections] == pages


def test_a_line_repeated_on_too_few_pages_is_kept(tmp_path: Path) -> None:
    pages = [
        f"{HEADER}\nDraft for review only.\nFirst term.\nPage 1 of 5",
        f"{HEADER}\nSecond term.\nPage 2 of 5",
        f"{HEADER}\nThird term.\nPage 3 of 5",
        f"{HEADER}\nDraft for review only.\nFourth term.\nPage 4 of 5",
        f"{HEADER}\nFifth term.\nPage 5 of 5",
    ]
    doc = load(make_pdf(tmp_path / "draft.pdf", pages))
    assert [s.text for s in doc.sections] == [
        "Draft for review only.\nFirst term.",
        "Second term.",
        "Third term.",
        "Draft for review only.\nFourth term.",
        "Fifth term.",
    ]


def test_a_page_of_nothing_but_running_lines_keeps_them(tmp_path: Path) -> None:
    bodies = ["Recitals.", "Definitions.", "Obligations."]
    pages = [f"{HEADER}\n{body}\nPage {n} of 4" for n, body in enumerate(bodies, start=1)]
    pages.append(f"{HEADER}\nPage 4 of 4")
    doc = load(make_pdf(tmp_path / "cover.pdf", pages))
    assert [s.text for s in doc.sections] == [*bodies, pages[3]]


def test_outline_entries_label_their_pages(tmp_path: Path) -> None:
    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Cover page before any bookmark.")
    for title, subsections in [("Article 1", ["1.1 Term"]), ("Article 2", ["2.1 Deposit"])]:
        pdf.add_page()
        pdf.start_section(title)
        pdf.multi_cell(0, 8, f"{title} opens here.")
        for sub in subsections:
            pdf.add_page()
            pdf.start_section(sub, level=1)
            pdf.multi_cell(0, 8, f"{sub} is explained here.")
    pdf.add_page()
    pdf.multi_cell(0, 8, "This page continues 2.1 without a bookmark of its own.")
    pdf.output(str(tmp_path / "lease.pdf"))

    doc = load(tmp_path / "lease.pdf")
    assert [(s.page, s.heading) for s in doc.sections] == [
        (1, None),
        (2, "Article 1"),
        (3, "Article 1 > 1.1 Term"),
        (4, "Article 2"),
        (5, "Article 2 > 2.1 Deposit"),
        (6, "Article 2 > 2.1 Deposit"),
    ]


def test_a_broken_outline_does_not_fail_the_load(tmp_path: Path) -> None:
    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=12)
    for n in (1, 2):
        pdf.add_page()
        pdf.start_section(f"Part {n}")
        pdf.multi_cell(0, 8, f"Part {n} text.")
    good = tmp_path / "good.pdf"
    pdf.output(str(good))
    # The bookmarks point at a string instead of a page, on which pypdf fails an assertion.
    broken = tmp_path / "broken.pdf"
    data, n = re.subn(rb"/Dest \[\d+ 0 R", b"/Dest [(x)", good.read_bytes())
    assert n == 2
    broken.write_bytes(data)
    doc = load(broken)
    assert [(s.page, s.text) for s in doc.sections] == [(1, "Part 1 text."), (2, "Part 2 text.")]
