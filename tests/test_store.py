"""The index through the store interface on both backends (SQLite with sqlite-vec and FTS5,
PostgreSQL with pgvector), and the SQLite file's own workings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragkit import EncoderMismatchError, StoreError
from ragkit.store import Filter, Index, Store, connect, fts_query, sqlite_library
from ragkit.store._fulltext import Postings
from ragkit.store._index import POSTINGS_AFTER, _best, _expression

from .helpers import BACKENDS, StoreFactory, backend_dsn, rows, stores, unit


@pytest.fixture
def index(tmp_path: Path) -> Index:
    with Index(tmp_path / "i.db", fingerprint="enc-a", dims=8) as idx:
        yield idx


@pytest.fixture(params=BACKENDS)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Makes fresh stores of one backend (each test runs on both)."""
    with stores(request.param, tmp_path, backend_dsn(request, request.param)) as make:
        yield make


@pytest.fixture
def store(make_store: StoreFactory) -> Store:
    return make_store(fingerprint="enc-a", dims=8)


def put(
    index: Store, path: str, texts: list[str], seed: int = 0, vectors: np.ndarray | None = None
) -> int:
    """Store ``texts`` as the chunks of one document, with ``vectors`` or random unit ones."""
    return index.put_document(
        path=path,
        title=path,
        sha256="x" * 64,
        size=1,
        mtime=0.0,
        chunks=rows(*texts),
        vectors=unit(len(texts), seed=seed) if vectors is None else vectors,
    )


def test_connection_loads_sqlite_vec_with_wal(tmp_path: Path) -> None:
    conn = connect(tmp_path / "c.db")
    assert conn.execute("select vec_version()").fetchone()[0].startswith("v")
    assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert conn.execute("pragma foreign_keys").fetchone()[0] == 1
    assert sqlite_library() is sqlite_library()


def test_replace_and_remove_keep_tables_in_step(store: Store) -> None:
    index = store
    put(index, "/a.txt", ["alpha one", "alpha two", "alpha three"])
    put(index, "/b.txt", ["beta"])
    assert index.counts() == {"documents": 2, "chunks": 4, "fts": 4, "vectors": 4, "embeddings": 4}
    put(index, "/a.txt", ["alpha replaced"], seed=1)
    assert index.counts() == {"documents": 2, "chunks": 2, "fts": 2, "vectors": 2, "embeddings": 2}
    assert [c for c, _ in index.text_search("three", 5)] == []
    assert index.remove_document("/a.txt") and not index.remove_document("/a.txt")
    assert index.counts() == {"documents": 1, "chunks": 1, "fts": 1, "vectors": 1, "embeddings": 1}
    if isinstance(index, Index):
        assert index.conn.execute("pragma integrity_check").fetchone()[0] == "ok"


def test_failed_write_leaves_previous_version_whole(store: Store) -> None:
    index = store
    put(index, "/a.txt", ["old text"])
    broken = rows("new text", "more")
    broken[1].n_tokens = None  # violates NOT NULL half-way through the document
    with pytest.raises(StoreError, match=r"(?i)not.null"):
        index.put_document(
            path="/a.txt",
            title="a",
            sha256="y" * 64,
            size=1,
            mtime=0.0,
            chunks=broken,
            vectors=unit(2),
        )
    doc = index.document_by_path("/a.txt")
    assert doc is not None and doc.sha256 == "x" * 64 and doc.n_chunks == 1
    assert index.counts() == {"documents": 1, "chunks": 1, "fts": 1, "vectors": 1, "embeddings": 1}


def test_vector_search_returns_cosine_similarity(store: Store) -> None:
    index = store
    vectors = unit(3)
    index.put_document(
        path="/v",
        title="v",
        sha256="z" * 64,
        size=1,
        mtime=0.0,
        chunks=rows("a", "b", "c"),
        vectors=vectors,
    )
    hits = index.vector_search(vectors[1], 3)
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    ids = index.chunks([hits[0][0]])
    assert ids[hits[0][0]].text == "b"


def test_other_encoder_is_refused(make_store: StoreFactory) -> None:
    make_store(fingerprint="enc-a", dims=8).close()
    with pytest.raises(EncoderMismatchError, match="another encoder"):
        make_store(fingerprint="enc-b", dims=8)


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"notes\.db"):
        Index(bogus, fingerprint="enc-a", dims=8)


def test_index_without_encoder_lists_and_removes(store: Store, make_store: StoreFactory) -> None:
    put(store, "/a.txt", ["alpha"])
    with make_store() as plain:
        assert [d.path for d in plain.documents()] == ["/a.txt"]
        with pytest.raises(StoreError, match="without an encoder"):
            plain.vector_search(unit(1)[0], 1)
        assert plain.remove_document("/a.txt")


FTS_CHUNKS = [
    "patient records",
    "пациент карта",
    "患者の記録",
    "rock and roll or not",
    "plan b, near x y",
    "col val",
    "don't start",
]


# Each query is taken literally, word by word: FTS5 syntax in it neither raises nor acts.
@pytest.mark.parametrize(
    "text,found",
    [
        ('"', set()),
        ("", set()),
        ("???", set()),
        ("AND OR NOT", {"rock and roll or not"}),  # only stop words: they are searched for
        ("a* (b", {"plan b, near x y"}),
        ("NEAR(x y)", {"plan b, near x y"}),
        ("col:val", {"col val"}),
        ("пациент", {"пациент карта"}),
        ("患者の記録", {"患者の記録"}),
        ("don't", {"don't start"}),
        ("^start", {"don't start"}),
        ("Patients' RECORDS?", {"patient records"}),
    ],
)
def test_fts_query_never_raises_and_finds_its_chunk(
    store: Store, text: str, found: set[str]
) -> None:
    put(store, "/a.txt", FTS_CHUNKS)
    hits = store.text_search(text, 5)
    assert {c.text for c in store.chunks([i for i, _ in hits]).values()} == found


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_fts_query_is_always_valid(text: str) -> None:
    query = fts_query(text)
    conn = connect(":memory:")
    conn.execute("create virtual table t using fts5(x)")
    if query is not None:
        conn.execute("select * from t where t match ?", (query,)).fetchall()


def assert_found_once_written(idx: Store, vector: np.ndarray, *, exact: bool | None) -> None:
    """A chunk written after the search loaded its in-memory data is found by that vector."""
    put(idx, "/fresh", ["fresh"], vectors=vector[None, :])
    best = idx.vector_search(vector, 1, exact=exact)[0]
    assert idx.chunks([best[0]])[best[0]].text == "fresh"


def test_coarse_search_agrees_with_exact_search(make_store: StoreFactory) -> None:
    """The approximate search (sign-bit candidates rescored exactly; HNSW) finds the exact
    top-k on clustered data."""
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(20, 128))
    data = centers[rng.integers(0, 20, 3000)] + 0.6 * rng.normal(size=(3000, 128))
    data = (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)
    with make_store("c", fingerprint="enc", dims=128) as idx:
        for start in range(0, 3000, 500):
            put(idx, f"/d{start}", [f"t{i}" for i in range(500)], vectors=data[start : start + 500])
        hits = 0
        for q in data[rng.choice(3000, 30, replace=False)]:
            exact = [i for i, _ in idx.vector_search(q, 10, exact=True)]
            coarse = idx.vector_search(q, 10, exact=False)
            hits += len(set(exact) & {i for i, _ in coarse})
            assert [s for _, s in coarse] == sorted((s for _, s in coarse), reverse=True)
        assert hits / 300 >= 0.98
        # A write invalidates the in-memory codes: the new vector is found at once.
        assert_found_once_written(idx, -data[0], exact=False)


def test_exact_search_in_memory_agrees_with_sqlite_vec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-memory matrix of a small index gives sqlite-vec's exact scan's ranking and
    cosines, and sees a write made after it was loaded."""
    from ragkit.store import _index

    rng = np.random.default_rng(3)
    data = rng.normal(size=(300, 16))
    data = (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)
    with Index(tmp_path / "m.db", fingerprint="enc", dims=16) as idx:
        put(idx, "/a", [f"t{i}" for i in range(300)], vectors=data)
        queries = data[:20] + 0.3 * rng.normal(size=(20, 16))
        queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
        in_memory = [idx.vector_search(q, 15) for q in queries]
        monkeypatch.setattr(_index, "EXACT_BELOW", 0)
        scanned = [idx.vector_search(q, 15, exact=True) for q in queries]
        monkeypatch.undo()
        for mine, theirs in zip(in_memory, scanned, strict=True):
            assert [i for i, _ in mine] == [i for i, _ in theirs]
            assert np.allclose([s for _, s in mine], [s for _, s in theirs], atol=1e-5)
        assert_found_once_written(idx, queries[0], exact=None)


def test_erase_merges_a_full_text_index_left_in_many_segments(index: Index) -> None:
    """Documents added one transaction each leave one full-text segment each; erase() merges
    them once there are more than MAX_SEGMENTS, and the same searches find the same rows."""
    from ragkit.store._index import MAX_SEGMENTS

    def segments() -> int:
        rows = index.conn.execute("select count(distinct segid) from chunks_fts_idx")
        return int(rows.fetchone()[0])

    for n in range(MAX_SEGMENTS + 4):
        put(index, f"/d{n}", [f"harbour report number {n}", f"ferry timetable {n}"])
    before = index.text_search("harbour ferry", 50)
    assert segments() > MAX_SEGMENTS
    index.erase()
    assert segments() == 1
    assert sorted(index.text_search("harbour ferry", 50)) == sorted(before)


def test_an_index_emptied_of_documents_finds_nothing(store: Store) -> None:
    index = store
    put(index, "/a.txt", ["alpha"])
    assert index.vector_search(unit(1)[0], 3)  # the in-memory vectors are loaded
    index.remove_document("/a.txt")
    assert index.vector_search(unit(1)[0], 3) == []
    assert index.vector_search(unit(1)[0], 3, exact=False) == []


def _fts5_ranking(index: Index, phrases: list[tuple[str, ...]]) -> list[tuple[int, float]]:
    rows = index.conn.execute(
        "select rowid, bm25(chunks_fts) from chunks_fts where chunks_fts match ?",
        (_expression(phrases),),
    ).fetchall()
    return sorted(((int(r[0]), -float(r[1])) for r in rows), key=lambda r: (-r[1], r[0]))


def test_postings_in_memory_score_exactly_as_fts5(index: Index) -> None:
    rng = np.random.default_rng(7)
    vocabulary = [f"w{n}" for n in range(40)] + ["19", "350", "00"]
    weights = 1 / np.arange(1, len(vocabulary) + 1)  # a few common words, many rare ones
    for d in range(30):
        texts = [
            " ".join(rng.choice(vocabulary, size=rng.integers(0, 30), p=weights / weights.sum()))
            for _ in range(4)
        ]
        put(index, f"/{d}.txt", [*texts, "paid 19,350.00 on time"], seed=d)
    index.remove_document("/3.txt")  # deleted rows leave FTS5's statistics changed
    postings = Postings.read(index.conn, "chunks_fts")
    for _ in range(50):
        phrases = [
            tuple(rng.choice(vocabulary, size=rng.integers(1, 3)))
            for _ in range(rng.integers(1, 6))
        ]
        phrases = list(dict.fromkeys([*phrases, ("19", "350", "00")]))
        expected = _fts5_ranking(index, phrases)
        assert _best(*postings.scores(phrases), len(expected) + 5) == expected
        # The best few agree too (only ties at the cut could differ).
        assert _best(*postings.scores(phrases), 3) == expected[:3]


def test_text_search_moves_to_memory_only_for_an_unchanged_index(index: Index) -> None:
    put(index, "/a.txt", ["alpha beta", "gamma"])
    first = index.text_search("alpha gamma", 10)
    for _ in range(POSTINGS_AFTER + 1):
        assert index.text_search("alpha gamma", 10) == first
    assert "postings" in index._kept
    assert len(index.text_search("gamma", 10)) == 1
    put(index, "/b.txt", ["gamma gamma delta"], seed=1)
    # The written index is searched at once, not the postings read before the write.
    for _ in range(POSTINGS_AFTER + 2):
        assert len(index.text_search("gamma", 10)) == 2
    assert len(index.text_search("gamma", 10, where=Filter(path="/b.txt"))) == 1
    umlaut = index.text_search("Über", 10)  # not ASCII: FTS5 folds it, so FTS5 answers
    assert umlaut == []


def test_removals_and_replacements_leave_bm25_as_a_fresh_index_scores_it(
    index: Index, tmp_path: Path
) -> None:
    """FTS5 forgets a deleted row's terms but not its share of the row count and average
    length; after the erasure that follows every removal they are counted again, so an
    index ranks as one built afresh with the same chunks, from FTS5 and from memory."""
    texts = {f"/{d}.txt": [f"harbour ferry report {d} " * (d + 1), "timetable"] for d in range(8)}
    for path, chunks in texts.items():
        put(index, path, chunks)
    index.remove_documents(["/1.txt", "/2.txt", "/3.txt"])
    put(index, "/4.txt", ["harbour"])  # replaced
    del texts["/1.txt"], texts["/2.txt"], texts["/3.txt"]
    texts["/4.txt"] = ["harbour"]
    index.erase()
    with Index(tmp_path / "fresh.db", fingerprint="enc-a", dims=8) as fresh:
        for path, chunks in sorted(texts.items()):
            put(fresh, path, chunks)
        for _ in range(POSTINGS_AFTER + 2):  # from FTS5, then from memory
            mine = index.text_search("harbour report", 10)
            theirs = fresh.text_search("harbour report", 10)
            assert [index.chunks([i])[i].text for i, _ in mine] == [
                fresh.chunks([i])[i].text for i, _ in theirs
            ]
            assert [s for _, s in mine] == pytest.approx([s for _, s in theirs], rel=1e-12)


def test_postgres_scores_bm25_as_fts5(
    index: Index, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The same documents in both backends, after the same removal and replacement:
    PostgreSQL's full-text search ranks and scores as FTS5's bm25() does."""
    rng = np.random.default_rng(11)
    vocabulary = [f"w{n}" for n in range(40)] + ["19", "350", "00", "école", "ecole"]
    weights = 1 / np.arange(1, len(vocabulary) + 1)
    docs = {
        f"/{d}.txt": [
            *(
                " ".join(
                    rng.choice(vocabulary, size=rng.integers(0, 30), p=weights / weights.sum())
                )
                for _ in range(4)
            ),
            "paid 19,350.00 on time",
        ]
        for d in range(30)
    }
    with stores("postgres", tmp_path, backend_dsn(request, "postgres")) as make:
        other = make(fingerprint="enc-a", dims=8)
        for target in (index, other):
            for d, (path, texts) in enumerate(docs.items()):
                put(target, path, texts, seed=d)
            target.remove_document("/3.txt")
            put(target, "/4.txt", docs["/5.txt"], seed=4)
            target.erase()
        for _ in range(40):
            words = rng.choice(vocabulary, size=rng.integers(1, 6))
            question = " ".join(words) + " 19,350.00"
            mine, theirs = index.text_search(question, 20), other.text_search(question, 20)
            # Chunk ids differ between the backends: compare texts and scores.
            assert [index.chunks([i])[i].text for i, _ in mine] == [
                other.chunks([i])[i].text for i, _ in theirs
            ]
            assert [s for _, s in mine] == pytest.approx([s for _, s in theirs], rel=1e-9)


@pytest.mark.parametrize(
    "pattern",
    [
        "*",
        "/docs/*.pdf",
        "*/contracts/*",
        "/a?c",
        "/[ab]*",
        "/[^a]*",
        "/[]x]*",
        "/[a-c]?",
        "*.(x)+",
        "/a\\b*",
        "/[x",
        "*[*]*",
        "/A*",
    ],
)
def test_globs_match_as_in_sqlite(pattern: str, request: pytest.FixtureRequest) -> None:
    """A path filter's glob selects the same paths in PostgreSQL as SQLite's GLOB."""
    import psycopg

    from ragkit.store._postgres import glob_regex

    paths = [
        "/abc",
        "/a/b/c",
        "/docs/x.pdf",
        "/docs/sub/y.pdf",
        "/b",
        "/]z",
        "/a\\bc",
        "/x/contracts/1",
        "/q.(x)+",
        "/c*d",
        "/Abc",
        "/a\nc",
        "/é1",
        "/[x",
    ]
    conn = connect(":memory:")
    expected = [p for p in paths if conn.execute("select ? glob ?", (p, pattern)).fetchone()[0]]
    regex = glob_regex(pattern)
    with psycopg.connect(backend_dsn(request, "postgres") or "") as pg:
        found = [
            p for p in paths if regex and pg.execute("select %s ~ %s", (p, regex)).fetchone()[0]
        ]
    assert found == expected
