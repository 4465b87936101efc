"""`ragkit eval encryption`: what an encrypted index costs against a plain one, one run.

The encoder dominates both ingest and search and does the same work either way, so its
vectors are computed once (the first, plain ingest) and replayed: the timed ingests and
searches differ only in the SQLite pages they write and read, plain or through SQLCipher.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ragkit._config import Config
from ragkit._errors import ConfigError
from ragkit.eval._retrieval import BeirData
from ragkit.models._interfaces import TextEncoder, encode_queries
from ragkit.store import can_encrypt, change_key

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["EncryptionBench", "evaluate_encryption"]

# A benchmark passphrase: what it protects is deleted with the temporary folder.
_KEY = "ragkit-eval-encryption"


@dataclass
class EncryptionBench:
    """Ingest, search, open and conversion times of one corpus, plain and encrypted."""

    documents: int
    chunks: int
    queries: int
    first_ingest_s: float
    plain_ingest_s: float
    encrypted_ingest_s: float
    plain_search_ms: list[float]
    encrypted_search_ms: list[float]
    identical_results: int
    plain_open_ms: float
    encrypted_open_ms: float
    encrypt_s: float
    plain_bytes: int
    encrypted_bytes: int

    def lines(self) -> list[str]:
        def p(values: list[float], q: float) -> float:
            return float(np.percentile(values, q))

        plain, secret = self.plain_search_ms, self.encrypted_search_ms
        return [
            f"documents {self.documents:,}, chunks {self.chunks:,}, queries {self.queries:,}",
            f"first ingest (plain, with embedding): {self.first_ingest_s:.1f} s",
            f"ingest, vectors replayed: plain {self.plain_ingest_s:.2f} s, encrypted "
            f"{self.encrypted_ingest_s:.2f} s "
            f"(x{self.encrypted_ingest_s / self.plain_ingest_s:.2f})",
            f"hybrid search p50: plain {p(plain, 50):.2f} ms, encrypted {p(secret, 50):.2f} ms "
            f"(x{p(secret, 50) / p(plain, 50):.2f}); p95 {p(plain, 95):.2f} / "
            f"{p(secret, 95):.2f} ms",
            f"identical top-10 results: {self.identical_results}/{self.queries}",
            f"open and first read: plain {self.plain_open_ms:.1f} ms, encrypted "
            f"{self.encrypted_open_ms:.1f} ms (key derivation)",
            f"encrypt the plain index (ragkit encrypt): {self.encrypt_s:.2f} s",
            f"file size: plain {self.plain_bytes / 1e6:.1f} MB, encrypted "
            f"{self.encrypted_bytes / 1e6:.1f} MB",
        ]


class _Replay:
    """The encoder, with every text's vector kept after its first encoding."""

    def __init__(self, encoder: TextEncoder) -> None:
        self.inner = encoder
        self.fingerprint = encoder.fingerprint
        self.dims = encoder.dims
        self.recipe = encoder.recipe
        self.kept: dict[str, np.ndarray] = {}
        # Apart: an encoder may embed a question unlike the same text as a passage (a prefix).
        self.kept_queries: dict[str, np.ndarray] = {}

    def chunking_tokenizer(self) -> Tokenizer:
        return self.inner.chunking_tokenizer()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._replayed(texts, self.inner.encode, self.kept)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._replayed(texts, lambda new: encode_queries(self.inner, new), self.kept_queries)

    def _replayed(
        self,
        texts: Sequence[str],
        encode: Callable[[list[str]], np.ndarray],
        kept: dict[str, np.ndarray],
    ) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in kept]
        if new:
            kept.update(zip(new, encode(new), strict=True))
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        return np.stack([kept[t] for t in texts])


def evaluate_encryption(
    data: BeirData,
    config: Config,
    *,
    max_documents: int | None = None,
    max_queries: int = 200,
    workdir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> EncryptionBench:
    """Ingest ``data`` plain (embedding it), then plain and encrypted again with the same
    vectors, and time the same hybrid searches on both; then encrypt the plain index."""
    from ragkit._assistant import Assistant

    if not can_encrypt():
        raise ConfigError(
            "this Python's SQLite library cannot encrypt: install the encryption extra "
            "(pip install 'ragkit[encryption]')."
        )
    items = list(data.corpus.items())[: max_documents or None]
    if not items:
        raise ConfigError("the data set has no documents to ingest.")
    texts = [(doc_id, text, title) for doc_id, (title, text) in items]
    queries = list(data.queries.values())[:max_queries]

    with tempfile.TemporaryDirectory(prefix="ragkit-encryption-", dir=workdir) as tmp:
        replay = _Replay(Assistant(None, config).encoder)

        def ingest(name: str, key: str | None) -> tuple[Path, float, int]:
            db = Path(tmp) / name
            with Assistant(db, config, encoder=replay, key=key) as kb:
                started = time.perf_counter()
                report = kb.add_texts(
                    texts,
                    progress=(lambda p: progress(name, p.files_done, p.files_total))
                    if progress
                    else None,
                )
                return db, time.perf_counter() - started, report.chunks_embedded

        _, first_s, chunks = ingest("first.db", None)
        plain_db, plain_s, _ = ingest("plain.db", None)
        secret_db, secret_s, _ = ingest("encrypted.db", _KEY)
        replay.encode_queries(queries)

        def opened(db: Path, key: str | None) -> float:
            started = time.perf_counter()
            with Assistant(db, config, encoder=replay, key=key) as kb:
                kb.documents()
                return (time.perf_counter() - started) * 1000

        with (
            Assistant(plain_db, config, encoder=replay) as plain,
            Assistant(secret_db, config, encoder=replay, key=_KEY) as secret,
        ):
            timings: dict[str, list[float]] = {"plain": [], "secret": []}
            identical = 0
            for n, query in enumerate(queries, 1):
                results = []
                # Alternating which goes first spreads the cache's warmth evenly.
                pair = [("plain", plain), ("secret", secret)]
                for label, kb in pair if n % 2 else reversed(pair):
                    started = time.perf_counter()
                    found = kb.search(query, k=10)
                    timings[label].append((time.perf_counter() - started) * 1000)
                    results.append([(p.chunk_id, round(p.rank_score, 9)) for p in found])
                identical += results[0] == results[1]
                if progress:
                    progress("search", n, len(queries))
        plain_open = statistics.median(opened(plain_db, None) for _ in range(5))
        secret_open = statistics.median(opened(secret_db, _KEY) for _ in range(5))
        sizes = plain_db.stat().st_size, secret_db.stat().st_size
        started = time.perf_counter()
        change_key(plain_db, key=None, new_key=_KEY)
        encrypt_s = time.perf_counter() - started
    return EncryptionBench(
        documents=len(texts),
        chunks=chunks,
        queries=len(queries),
        first_ingest_s=first_s,
        plain_ingest_s=plain_s,
        encrypted_ingest_s=secret_s,
        plain_search_ms=timings["plain"],
        encrypted_search_ms=timings["secret"],
        identical_results=identical,
        plain_open_ms=plain_open,
        encrypted_open_ms=secret_open,
        encrypt_s=encrypt_s,
        plain_bytes=sizes[0],
        encrypted_bytes=sizes[1],
    )
