"""Filtered search never leaves its filter and still fills k; labels and pruning on ingest."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import ragkit.store._index as index_module
from ragkit import Assistant, Config, Filter
from ragkit.store import Index, Store
from ragkit.store._coarse import CoarseIndex

from .helpers import BACKENDS, SAMPLES, StoreFactory, backend_dsn, rows, stores

# Chunks per document: enough that every filter below keeps more chunks than the coarse
# search rescores (MIN_CANDIDATES), so its approximation really decides what is found, and
# the widest filters more than its Hamming shortlist too.
PER_DOC = 120
# Share of the exact top 10 the coarse search must find in these random vectors (measured
# 0.94 to 1.0 per filter; candidates picked at random would find under a third).
COARSE_RECALL = 0.8


def build(make: StoreFactory, n_docs: int = 40, per_doc: int = PER_DOC) -> Store:
    rng = np.random.default_rng(3)
    idx = make("f", fingerprint="enc", dims=64)
    for d in range(n_docs):
        vecs = rng.normal(size=(per_doc, 64)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        idx.put_document(
            path=f"/docs/{'contracts' if d % 4 == 0 else 'notes'}/d{d}.txt",
            title=f"d{d}",
            sha256=f"{d:064d}",
            size=1,
            mtime=1_700_000_000 + d * 86400,
            chunks=rows(*[f"shared term {d} {i}" for i in range(per_doc)]),
            vectors=vecs,
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


@pytest.fixture(scope="module", params=BACKENDS)
def filtered_index(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("filters")
    with stores(request.param, folder, backend_dsn(request, request.param)) as make:
        yield build(make)


def test_every_filter_keeps_more_chunks_than_the_coarse_search_rescores(
    filtered_index: Store,
) -> None:
    sizes = [len(filtered_index.filtered_ids(where)) for where in FILTERS]
    assert min(sizes) > index_module.MIN_CANDIDATES
    assert max(sizes) > index_module.SHORTLIST * index_module.MIN_CANDIDATES


@pytest.mark.parametrize("coarse", [False, True], ids=["exact", "coarse"])
@pytest.mark.parametrize("where", FILTERS, ids=lambda f: repr(f))
def test_filtered_search_stays_inside_and_fills_k(
    filtered_index: Store, monkeypatch: pytest.MonkeyPatch, where: Filter, coarse: bool
) -> None:
    idx = filtered_index
    sqlite = isinstance(idx, Index)
    rescored: list[int] = []
    if coarse and sqlite:
        search = CoarseIndex.search

        def counted(self: CoarseIndex, *args, **kwargs) -> np.ndarray:  # type: ignore[no-untyped-def]
            ids = search(self, *args, **kwargs)
            rescored.append(len(ids))
            return ids

        monkeypatch.setattr(CoarseIndex, "search", counted)
    allowed = set(int(i) for i in idx.filtered_ids(where))
    vectors = idx.vectors(sorted(allowed))
    rng = np.random.default_rng(5)
    found = 0
    for _ in range(5):
        q = rng.normal(size=64).astype(np.float32)
        q /= np.linalg.norm(q)
        # The approximate path otherwise starts at 20,000 vectors; what it does is the same.
        dense = idx.vector_search(q, 10, where=where, exact=False if coarse else None)
        assert len(dense) == 10 and {i for i, _ in dense} <= allowed
        sims = sorted(((float(v @ q), i) for i, v in vectors.items()), reverse=True)
        exact = [i for _, i in sims[:10]]
        if coarse:
            # Whatever the shortlist, what comes back is rescored exactly and ordered.
            assert [s for _, s in dense] == pytest.approx(
                [float(vectors[i] @ q) for i, _ in dense], abs=1e-5
            )
            assert [s for _, s in dense] == sorted((s for _, s in dense), reverse=True)
            found += len(set(exact) & {i for i, _ in dense})
        else:
            assert [i for i, _ in dense] == exact
    if coarse:
        if sqlite:
            # The approximation ran: fewer chunks were rescored than the filter allows.
            assert len(rescored) == 5 and max(rescored) < len(allowed)
        assert found / 50 >= COARSE_RECALL
    text = idx.text_search("shared term", 10, where=where)
    assert len(text) == 10 and {i for i, _ in text} <= allowed


def test_filter_sql_ignores_unset_fields() -> None:
    assert not Filter() and Filter(tags=("a",))
    assert Filter().sql() == ("1", [])


def test_labels_and_prune_through_the_sdk(tmp_path: Path, config: Config) -> None:
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
