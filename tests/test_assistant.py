"""End to end on real parts: sqlite-vec, the int8 ONNX encoder, SmolLM2-135M through llama.cpp."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ragkit import Assistant, Config, ModelPackError
from ragkit.models import Generator
from ragkit.store import Index

from .helpers import SAMPLES, assert_answer_invariants


def test_ingest_reports_and_reingest_embeds_nothing(tmp_path: Path, config: Config) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLES, corpus)
    with Assistant(tmp_path / "i.db", config) as kb:
        first = kb.add(corpus)
        assert len(first.added) == 5 and not first.failed and first.chunks_embedded > 20
        second = kb.add(corpus)
        assert second.chunks_embedded == 0 and len(second.unchanged) == 5
        # A changed file is replaced as a whole; an mtime-only change embeds nothing.
        note = corpus / "visitor-guide.md"
        os.utime(corpus / "data-retention.txt")
        note.write_text(note.read_text() + "\n\nThe lobby closes at 9 p.m. on holidays.\n")
        third = kb.add(corpus)
        assert third.updated == [str(note)] and len(third.unchanged) == 4
        assert 0 < third.chunks_embedded < first.chunks_embedded
        counts = Index(kb.db_path).counts()
        assert counts["chunks"] == counts["fts"] == counts["vectors"]
        assert counts["documents"] == 5


def test_bad_files_are_reported_and_the_rest_indexed(tmp_path: Path, config: Config) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(SAMPLES / "office-policy.md", folder)
    shutil.copy(SAMPLES / "clinic-handbook.pdf", folder)
    good_pdf = (SAMPLES / "office-lease.pdf").read_bytes()
    (folder / "corrupt.pdf").write_bytes(good_pdf[: len(good_pdf) // 3])
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 40)
    with Assistant(tmp_path / "i.db", config) as kb:
        report = kb.add(folder)
        reasons = {Path(f.path).name: f.reason for f in report.failed}
        assert set(reasons) == {"corrupt.pdf", "empty.txt", "binary.txt"}
        assert "PDF" in reasons["corrupt.pdf"] and "empty" in reasons["empty.txt"]
        assert "binary" in reasons["binary.txt"]
        assert sorted(Path(p).name for p in report.added) == [
            "clinic-handbook.pdf",
            "office-policy.md",
        ]
        assert report.ok
        assert {Path(d.path).name for d in kb.documents()} == {
            "clinic-handbook.pdf",
            "office-policy.md",
        }


def test_nothing_ingestible_is_not_ok(tmp_path: Path, config: Config) -> None:
    (tmp_path / "empty.md").write_text("   \n")
    with Assistant(tmp_path / "i.db", config) as kb:
        report = kb.add([tmp_path / "empty.md", tmp_path / "missing.pdf"])
    assert not report.ok and len(report.failed) == 2


def test_search_finds_the_page(samples_copy: Path, config: Config) -> None:
    with Assistant(samples_copy, config) as kb:
        hits = kb.search("vaccine refrigerator temperature range", k=3)
    assert Path(hits[0].path).name == "clinic-handbook.pdf" and hits[0].page == 3
    assert hits[0].rank_score >= hits[-1].rank_score
    assert kb.search("   ") == []


# SmolLM2 through llama.cpp, end to end. What a greedy model writes can differ between
# CPUs, so only what holds for any text it writes is asserted.
@pytest.mark.parametrize(
    "question",
    [
        "Which company shreds the firm's confidential paper?",
        "Where is the crash cart kept in the clinic?",
    ],
)
def test_a_real_model_streams_an_answer_ragkit_checks(
    samples_index: Path, config: Config, question: str
) -> None:
    with Assistant(samples_index, config) as kb:
        stream = kb.ask_stream(question)
        pieces = list(stream)
        answer = stream.answer
        assert isinstance(kb.generator, Generator)
    assert answer.question == question and answer.mode == "generate" and answer.text
    assert answer.passages and answer.prompt_tokens > 0
    assert_answer_invariants(answer, pieces)


def test_irrelevant_question_abstains_without_the_model(samples_copy: Path, config: Config) -> None:
    # A generator pack that does not exist proves the model is never loaded.
    with Assistant(samples_copy, config.replace(generator="no-such-pack")) as kb:
        answer = kb.ask("Which team won the 1954 football world cup final?")
        assert answer.abstained and not answer.citations
        assert "don't know" in answer.text
        with pytest.raises(ModelPackError, match="no-such-pack"):
            kb.ask("When does the clinic close on Fridays?")


def test_remove_deletes_every_row(samples_copy: Path, config: Config) -> None:
    with Assistant(samples_copy, config) as kb:
        target = next(d.path for d in kb.documents() if d.path.endswith("office-lease.pdf"))
        assert kb.remove([target]) == [target]
        assert kb.remove([target]) == []
        assert all(not d.path.endswith("office-lease.pdf") for d in kb.documents())
        hits = kb.search("security deposit", k=10)
    assert all(not h.path.endswith("office-lease.pdf") for h in hits)
    counts = Index(samples_copy).counts()
    assert counts["chunks"] == counts["fts"] == counts["vectors"] and counts["documents"] == 4


def test_pdf_pages_without_text_are_reported(tmp_path: Path, config: Config) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in ("The boiler is serviced every October.", None, "Fire drills happen in March."):
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 10, text)
    pdf.output(str(tmp_path / "scan.pdf"))
    with Assistant(tmp_path / "i.db", config) as kb:
        report = kb.add(tmp_path / "scan.pdf")
        assert report.added and not report.failed
        assert len(report.warnings) == 1 and "page(s) 2 " in report.warnings[0].reason
        assert {h.page for h in kb.search("fire drills boiler", k=5)} == {1, 3}
