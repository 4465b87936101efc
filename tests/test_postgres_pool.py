"""A pooled PostgreSQL index (``Config.postgres_pool``, what `ragkit serve` uses): threads share
it through one psycopg_pool, a connection the server drops is replaced before a call uses it,
and the server's search threads all borrow from that one pool."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ragkit import Assistant, Config, StoreError, TextEncoder
from ragkit.server import ServerSettings, create_app
from ragkit.store import PostgresIndex
from ragkit.store._index import POSTINGS_AFTER

from .helpers import SAMPLES, rows, stores, unit, with_params
from .test_server import running

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is missing: install ragkit's `postgres` extra ('.[postgres]')"
)

WORDS = ["parking", "records", "invoices", "holidays"]
QUESTIONS = ["When does the clinic open?", "parking for visitors", "office lease rent"]


def _backends(dsn: str, application: str) -> int:
    """Connections open to the server under ``application``'s name."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        row = admin.execute(
            "select count(*) from pg_stat_activity where application_name = %s", (application,)
        ).fetchone()
    return int(row[0]) if row else 0


def _all_closed(dsn: str, application: str) -> bool:
    """Whether the server has seen every connection under ``application``'s name close (a
    backend leaves pg_stat_activity a moment after its client hangs up)."""
    deadline = time.monotonic() + 10
    while _backends(dsn, application):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def filled(postgres_dsn: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The URL of a fresh index of three documents (four chunks each), naming the connections
    it opens, and that name."""
    with stores("postgres", tmp_path, postgres_dsn) as make:
        store = make("pool", fingerprint="enc-a", dims=8)
        assert isinstance(store, PostgresIndex)
        for i in range(3):
            store.put_document(
                path=f"d{i}.md",
                title=f"d{i}",
                sha256="x" * 64,
                size=1,
                mtime=0.0,
                chunks=rows(*(f"document {i} part {j} about {w}" for j, w in enumerate(WORDS))),
                vectors=unit(4, seed=i),
            )
        application = f"ragkit_test_{secrets.token_hex(4)}"
        yield (
            with_params(postgres_dsn, schema=store.schema, application_name=application),
            application,
        )


def test_threads_share_a_pooled_index_and_find_what_one_thread_finds(
    filled: tuple[str, str], postgres_dsn: str
) -> None:
    url, application = filled
    queries = unit(12, seed=99)
    with (
        PostgresIndex(url, fingerprint="enc-a", dims=8, pool=3) as first,
        PostgresIndex(url, fingerprint="enc-a", dims=8, pool=3) as second,
    ):

        def search(i: int) -> tuple[list[int], list[float]]:
            """The chunks found and their scores: pgvector's scan first, then the vectors held
            in memory, whose float arithmetic differs in the last digits."""
            index = first if i % 2 else second
            word = WORDS[i % len(WORDS)]
            found = index.vector_search(queries[i], 5) + index.text_search(word, 5)
            return [c for c, _ in found], [s for _, s in found]

        alone = [search(i) for i in range(len(queries))]
        assert all(len(ids) == 5 + 3 for ids, _ in alone)
        with ThreadPoolExecutor(8) as pool:
            together = list(pool.map(search, list(range(len(queries))) * 4))
        assert [ids for ids, _ in together] == [ids for ids, _ in alone] * 4
        for (_, mine), (_, theirs) in zip(together, alone * 4, strict=True):
            assert mine == pytest.approx(theirs, abs=1e-6)
        # Both indexes borrowed from one pool of at most three connections.
        assert 1 <= _backends(postgres_dsn, application) <= 3
    assert _all_closed(postgres_dsn, application)


def test_a_pooled_index_replaces_connections_the_server_dropped(
    filled: tuple[str, str], postgres_dsn: str
) -> None:
    url, application = filled
    query = unit(1, seed=5)[0]
    with (
        PostgresIndex(url, fingerprint="enc-a", dims=8, pool=2) as pooled,
        PostgresIndex(url, fingerprint="enc-a", dims=8) as own,
    ):
        before = pooled.vector_search(query, 3)
        assert own.vector_search(query, 3) == before
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            dropped = admin.execute(
                "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity "
                "where application_name = %s) t",
                (application,),
            ).fetchone()
        assert dropped is not None and dropped[0] >= 2
        # The pool checks a connection before lending it; the index's own one is simply gone.
        assert pooled.vector_search(query, 3) == before
        with pytest.raises(StoreError, match="cannot reach the PostgreSQL server"):
            own.vector_search(query, 3)


def test_a_closed_pooled_index_says_so(filled: tuple[str, str]) -> None:
    url, _ = filled
    index = PostgresIndex(url, fingerprint="enc-a", dims=8, pool=2)
    index.close()
    with pytest.raises(StoreError, match="closed"):
        index.documents()


def test_serve_searches_postgres_on_several_threads_from_one_pool(
    postgres_dsn: str, tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    application = f"ragkit_test_{secrets.token_hex(4)}"
    with stores("postgres", tmp_path, postgres_dsn) as make:
        store = make("served")
        assert isinstance(store, PostgresIndex)
        url = with_params(postgres_dsn, schema=store.schema, application_name=application)
        with Assistant(url, config, encoder=encoder) as kb:
            assert kb.add(SAMPLES).added

        def open_assistant(cfg: Config) -> Assistant:
            assert cfg.postgres_pool == 5  # three search threads, the answer and write lanes
            return Assistant(url, cfg, encoder=encoder)

        settings = ServerSettings(db=url, config=config, search_threads=3)
        with running(create_app(settings, open_assistant=open_assistant)) as base:

            def search(question: str) -> list[tuple[str, str]]:
                reply = httpx.post(
                    f"{base}/v1/search", json={"query": question, "k": 3}, timeout=60
                )
                assert reply.status_code == 200, reply.text
                return [(p["path"], p["text"]) for p in reply.json()["data"]]

            alone = [search(q) for q in QUESTIONS]
            assert all(len(found) == 3 for found in alone)
            with ThreadPoolExecutor(6) as pool:
                together = list(pool.map(search, QUESTIONS * 4))
            assert together == alone * 4
            lanes = httpx.get(f"{base}/healthz").json()["lanes"]
            assert lanes["search"]["threads"] == 3
            assert lanes["search"]["served"] == len(QUESTIONS) * 5
            assert 1 <= _backends(postgres_dsn, application) <= 5
        assert _all_closed(postgres_dsn, application)


def test_indexes_sharing_a_pool_hold_one_copy_of_what_they_derive(
    filled: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = filled
    with (
        PostgresIndex(url, fingerprint="enc-a", dims=8, pool=2) as first,
        PostgresIndex(url, fingerprint="enc-a", dims=8, pool=2) as second,
    ):
        # From this many searches on, the postings are held in memory.
        for _ in range(POSTINGS_AFTER + 1):
            found = first.text_search("parking", 5)

        def read_again() -> None:
            raise AssertionError("the postings were read a second time")

        monkeypatch.setattr(second, "_all_postings", read_again)
        for _ in range(POSTINGS_AFTER + 1):
            assert second.text_search("parking", 5) == found
        # A write moves the generation: both read the tables afresh.
        first.remove_document("d0.md")
        monkeypatch.undo()
        assert [i for i, _ in second.text_search("parking", 5)] == [i for i, _ in found[1:]]
