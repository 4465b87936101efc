"""OCR of scanned PDF pages: pages without a text layer are rendered and read offline, their
text marked as recognised in sections, chunks, passages and citations; ``ocr`` modes, the
pinned model files, the time limit and the page cap."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Assistant, Config
from ragkit._errors import LoadError
from ragkit.cli import main as cli
from ragkit.ingest import _ocr, load
from ragkit.store import SCHEMA_VERSION

from .helpers import INTAKE, downgrade_schema, make_pdf, make_scanned_pdf

FOLLOW_UP = ["Follow-up visits are scheduled every six weeks", "at the Elm Street office."]


def words(text: str) -> set[str]:
    return {w.strip(".,").casefold() for w in text.split()}


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scans")
    return make_scanned_pdf(folder / "intake.pdf", [INTAKE, FOLLOW_UP])


def test_scanned_pages_are_read_with_their_page_numbers(scan: Path) -> None:
    doc = load(scan)
    assert [s.page for s in doc.sections] == [1, 2]
    assert all(s.ocr for s in doc.sections)
    # Recognition may misread a letter or a space; most words of each page must be there.
    for section, lines in zip(doc.sections, [INTAKE, FOLLOW_UP], strict=True):
        expected = words(" ".join(lines))
        assert len(expected & words(section.text)) >= 0.7 * len(expected), section.text
    assert "penicillin" in doc.sections[0].text.casefold()
    assert doc.pages_without_text == () and doc.warnings == ()


def test_only_pages_without_text_are_recognised(tmp_path: Path) -> None:
    mixed = make_scanned_pdf(
        tmp_path / "mixed.pdf", [[], INTAKE], text_pages={0: "A typed cover letter."}
    )
    doc = load(mixed)
    assert [(s.page, s.ocr) for s in doc.sections] == [(1, False), (2, True)]
    assert doc.sections[0].text == "A typed cover letter."
    forced = load(mixed, ocr="force")
    assert [(s.page, s.ocr) for s in forced.sections] == [(1, True), (2, True)]
    assert "cover" in forced.sections[0].text.casefold()
    off = load(mixed, ocr="off")
    assert [s.page for s in off.sections] == [1] and off.pages_without_text == (2,)


def test_ocr_off_on_a_scan_says_how_to_read_it(scan: Path) -> None:
    with pytest.raises(LoadError, match=r"no extractable text in 2 pages .*Config\.ocr"):
        load(scan, ocr="off")


def test_ocr_stops_at_its_deadline_with_a_warning(tmp_path: Path) -> None:
    mixed = make_scanned_pdf(
        tmp_path / "late.pdf", [[], INTAKE, FOLLOW_UP], text_pages={0: "Typed first page."}
    )
    doc = load(mixed, ocr_deadline=time.monotonic() - 1)
    assert [s.page for s in doc.sections] == [1]
    assert doc.pages_without_text == (2, 3)
    (warning,) = doc.warnings
    assert "OCR stopped at the time limit after 0 of 2 scanned pages" in warning
    assert "pages 2-3" in warning and "parse_timeout" in warning


def test_without_ocr_installed_scans_are_reported_and_force_is_refused(
    scan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_ocr, "ocr_unavailable", lambda: "OCR needs pypdfium2: install it")
    monkeypatch.setattr("ragkit.ingest._pdf.ocr_unavailable", _ocr.ocr_unavailable)
    with pytest.raises(LoadError, match=r"no extractable text in 2 pages .*ragkit\[ocr\]"):
        load(scan)
    with pytest.raises(LoadError, match="OCR needs pypdfium2"):
        load(scan, ocr="force")


def test_a_model_file_that_is_not_the_pinned_one_is_refused(
    scan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_ocr, "_engine", None)
    pinned = dict(_ocr._MODELS)
    pinned["rec"] = (*pinned["rec"][:2], "0" * 64)
    monkeypatch.setattr(_ocr, "_MODELS", pinned)
    with pytest.raises(LoadError, match=r"PP-OCRv6_rec_small\.onnx is not the pinned file"):
        load(scan)


def test_the_page_cap_stops_a_huge_pdf_with_a_warning(tmp_path: Path) -> None:
    # As the issue measured it: 90,000 pages, which read whole became 90,000 chunks.
    path = tmp_path / "archive.pdf"
    path.write_bytes(many_pages(90_000))
    doc = load(path)
    assert len(doc.sections) == 10_000 and doc.sections[-1].page == 10_000
    (warning,) = doc.warnings
    assert "only the first 10,000 of its 90,000 pages were read" in warning
    assert "max_pages_per_file" in warning


def test_page_cap_warning_reaches_the_ingest_report(tmp_path: Path, config: Config) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "archive.pdf").write_bytes(many_pages(30))
    make_pdf(folder / "memo.pdf", ["A short memo."])
    with Assistant(tmp_path / "i.db", config.replace(max_pages_per_file=5)) as kb:
        report = kb.add(folder)
        assert report.ok and len(report.added) == 2
        (warning,) = report.warnings
        assert warning.path.endswith("archive.pdf")
        assert "only the first 5 of its 30 pages" in warning.reason
        pages = {p.page for p in kb.search("Record of the archive", k=20) if p.path == warning.path}
        assert pages and max(pages) <= 5


def test_a_scanned_sentence_is_found_and_cited_with_its_page(
    scan: Path, tmp_path: Path, config: Config, home: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "intake.pdf").write_bytes(scan.read_bytes())
    make_pdf(folder / "parking.pdf", ["Visitors park on level 2 of the garage."])
    db = tmp_path / "i.db"
    base = ["--home", str(home), "--db", str(db)]
    runner = CliRunner()
    result = runner.invoke(cli, [*base, "ingest", str(folder)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, [*base, "search", "--json", "allergy to penicillin"])
    assert result.exit_code == 0, result.output
    top = json.loads(result.output)[0]
    assert top["path"].endswith("intake.pdf") and top["page"] == 1 and top["ocr"] is True
    result = runner.invoke(cli, [*base, "search", "allergy to penicillin"])
    assert "intake.pdf, p. 1 (OCR)" in result.output
    with Assistant(db, config) as kb:
        answer = kb.ask("What is the patient allergic to?", mode="extractive")
        assert not answer.abstained
        cited = answer.citations[0]
        assert cited.ocr and cited.page == 1 and cited.path.endswith("intake.pdf")
        assert answer.passages[cited.n - 1].location == "intake.pdf, p. 1 (OCR)"


def many_pages(n: int) -> bytes:
    """A PDF of ``n`` one-line pages, written directly (a PDF library takes minutes)."""
    out = [b"%PDF-1.4\n"]
    offsets = [0] * (4 + 2 * n)
    position = len(out[0])

    def add(number: int, body: bytes) -> None:
        nonlocal position
        part = b"%d 0 obj\n%s\nendobj\n" % (number, body)
        offsets[number] = position
        out.append(part)
        position += len(part)

    add(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(n))
    add(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n))
    add(3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i in range(n):
        stream = b"BT /F1 12 Tf 72 720 Td (Record %d of the archive.) Tj ET" % (i + 1)
        add(
            4 + 2 * i,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
            b"<< /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i),
        )
        add(5 + 2 * i, b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    total = 4 + 2 * n
    out.append(b"xref\n0 %d\n0000000000 65535 f \n" % total)
    out += [b"%010d 00000 n \n" % offset for offset in offsets[1:]]
    out.append(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (total, position))
    return b"".join(out)


def test_an_index_from_before_ocr_is_upgraded_in_place(tmp_path: Path, config: Config) -> None:
    db = tmp_path / "old.db"
    with Assistant(db, config) as kb:
        kb.add_texts([("memo", "Visitors park on level 2 of the garage.")])
        # The schema as ragkit wrote it before chunks recorded OCR (schema 1).
        downgrade_schema(kb._open(with_encoder=False).conn, 1)
    with Assistant(db, config) as kb:
        (passage,) = kb.search("where do visitors park", k=1)
        assert passage.path == "memo" and passage.ocr is False
        conn = kb._open(with_encoder=False).conn
        assert conn.execute("pragma user_version").fetchone()[0] == SCHEMA_VERSION
        meta = dict(conn.execute("select key, value from meta"))
        assert meta["schema_version"] == str(SCHEMA_VERSION)
