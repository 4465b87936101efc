"""Filtered search never leaves its filter and still fills k; labels and pruning on ingest."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import ragkit.store._index as index_module
from ragkit import Assistant, Config, Filter
from ragkit.store import Index

from .test_store import rows


def build(path: Path, n_docs: int = 40, per_doc: int = 5) -> Index:
    rng = np.random.default_rng(3)
    idx = Index(path, fingerprint="enc", dims=64)
    for d in range(n_docs):
        vecs = rng.normal(size=(per_doc, 64)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        idx.put_document(
            path=f"/docs/{'contracts' if d % 4 == 0 else 'notes'}/d{d}.txt", title=f"d{d}",
            sha256=f"{d:064d}", size=1, mtime=1_700_000_000 + d * 86400,
            chunks=rows(*[f"shared term {d} {i}" for i in range(per_doc)]), vectors=vecs,
            collection="legal" if d % 2 else "clinic",
            metadata={"tags": ["urgent"] if d % 5 == 0 else ["routine"]},
        )
    return idx


FILTERS = [
    Filter(path="*/contracts/*"),
    Filter(collection="legal"),
    Filter(tags=("urgent",)),
    Filter(collection="clinic", tags=("urgent",)),
    Filter(modified_after=1_700_000_000 + 30 * 86400),
    Filter(path="/docs/notes/*", modified_before=1_700_000_000 + 10 * 86400),
]


@pytest.mark.parametrize("coarse", [False, True], ids=["exact", "coarse"])
@pytest.mark.parametrize("where", FILTERS, ids=lambda f: repr(f))
def test_filtered_search_stays_inside_and_fills_k(tmp_path: Path, monkeypatch, where: Filter,
                                                  coarse: bool) -> None:
    if coarse:
        monkeypatch.setattr(index_module, "EXACT_BELOW", 0)
    idx = build(tmp_path / "f.db")
    allowed = set(int(i) for i in idx.filtered_ids(where))
    assert allowed
    rng = np.random.default_rng(5)
    for _ in range(5):
        q = rng.normal(size=64).astype(np.float32)
        q /= np.linalg.norm(q)
        k = min(10, len(allowed))
        dense = idx.vector_search(q, 10, where=where)
        assert len(dense) == k and {i for i, _ in dense} <= allowed
        # The filtered result is the exact top-k of the allowed set.
        sims = sorted(((float(v @ q), i) for i, v in idx.vectors(sorted(allowed)).items()),
                      reverse=True)
        assert [i for _, i in sims[:k]] == [i for i, _ in dense]
    text = idx.text_search("shared term", 10, where=where)
    assert len(text) == min(10, len(allowed)) and {i for i, _ in text} <= allowed
    idx.close()


def test_filter_sql_ignores_unset_fields() -> None:
    assert not Filter() and Filter(tags=("a",))
    assert Filter().sql() == ("1", [])


def test_labels_and_prune_through_the_sdk(tmp_path: Path, config: Config) -> None:
    from .conftest import SAMPLES

    corpus = tmp_path / "c"
    shutil.copytree(SAMPLES, corpus)
    with Assistant(tmp_path / "i.db", config) as kb:
        kb.add(corpus, collection="office", tags=["2026", "demo"], exclude=["*.pdf"])
        docs = kb.documents()
        assert len(docs) == 3 and all(d.collection == "office" for d in docs)
        assert all(d.tags == ("2026", "demo") for d in docs)
        hits = kb.search("parking", k=3, where=Filter(collection="office", tags=("demo",)))
        assert hits and all(h.path.endswith(".md") or h.path.endswith(".txt") for h in hits)
        assert kb.search("parking", where=Filter(collection="nothing-here")) == []
        os.remove(corpus / "visitor-guide.md")
        report = kb.add(corpus, exclude=["*.pdf"], prune=True)
        assert [Path(p).name for p in report.removed] == ["visitor-guide.md"]
        assert report.chunks_embedded == 0 and len(kb.documents()) == 2
