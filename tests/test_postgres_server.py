"""The server the PostgreSQL backend's tests run against (.ci/postgres): pgvector at the vendored
version, its HNSW index answering by cosine distance, and nothing listening on the network."""

from __future__ import annotations

import pytest

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is missing: install ragkit's `postgres` extra ('.[postgres]')"
)
pgvector_psycopg = pytest.importorskip(
    "pgvector.psycopg", reason="pgvector is missing: install ragkit's `postgres` extra"
)
np = pytest.importorskip("numpy")


def test_pgvector_is_the_vendored_version(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        row = conn.execute(
            "select extversion from pg_extension where extname = 'vector'"
        ).fetchone()
    assert row == ("0.8.6",)


def test_hnsw_index_finds_the_nearest_neighbour_by_cosine(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        pgvector_psycopg.register_vector(conn)
        conn.execute("create temp table items (id int primary key, embedding vector(3))")
        conn.execute("create index items_hnsw on items using hnsw (embedding vector_cosine_ops)")
        rows = [(1, [1, 0, 0]), (2, [0, 1, 0]), (3, [5, 5, 0])]
        with conn.cursor() as cur:
            cur.executemany(
                "insert into items values (%s, %s)",
                [(i, np.array(v, dtype=np.float32)) for i, v in rows],
            )
        # Three rows: without this the planner would rather scan the table than the index.
        conn.execute("set enable_seqscan = off")
        query = "select id from items order by embedding <=> %s limit 1"
        # By angle [0.9, 1, 0] is nearest [5, 5, 0]; by Euclidean distance it would be [0, 1, 0].
        near = np.array([0.9, 1, 0], dtype=np.float32)
        plan = "\n".join(r[0] for r in conn.execute("explain " + query, (near,)).fetchall())
        assert "items_hnsw" in plan, plan
        assert conn.execute(query, (near,)).fetchone() == (3,)
        assert conn.execute(
            "select id from items order by embedding <-> %s limit 1", (near,)
        ).fetchone() == (2,)


def test_server_listens_on_no_network(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("show listen_addresses").fetchone() == ("",)
        # Connected through the Unix socket: no client address.
        assert conn.execute("select inet_client_addr()").fetchone() == (None,)
