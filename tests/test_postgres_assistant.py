"""The Assistant on a PostgreSQL index: given a URL, it ingests and searches as on SQLite."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from ragkit import Assistant, Config, ConfigError, StoreError, TextEncoder, doctor, migrate
from ragkit.store import PostgresIndex

from .helpers import SAMPLES, as_role, stores, with_params

QUESTIONS = [
    "When does the clinic open?",
    "parking for visitors",
    "How much does a lost key fob cost?",
    "office lease rent",
]


def test_an_assistant_on_postgres_finds_what_one_on_sqlite_finds(
    postgres_dsn: str, tmp_path: Path, samples_index: Path, config: Config, encoder: TextEncoder
) -> None:
    with stores("postgres", tmp_path, postgres_dsn) as make:
        store = make("samples")  # created empty; the Assistant fills it
        assert isinstance(store, PostgresIndex)
        dsn = with_params(postgres_dsn, schema=store.schema)
        with (
            Assistant(dsn, config, encoder=encoder) as pg,
            Assistant(samples_index, config, encoder=encoder) as lite,
        ):
            report = pg.add(SAMPLES)
            assert not report.failed and report.added
            assert [d.path for d in pg.documents()] == [d.path for d in lite.documents()]
            for question in QUESTIONS:
                for mode in ("hybrid", "bm25", "dense"):
                    mine = pg.search(question, k=3, mode=mode)
                    theirs = lite.search(question, k=3, mode=mode)
                    assert [(p.path, p.text) for p in mine] == [(p.path, p.text) for p in theirs]
                    assert [p.similarity for p in mine] == pytest.approx(
                        [p.similarity for p in theirs], abs=1e-5
                    )
            again = pg.add(SAMPLES)
            assert again.chunks_embedded == 0
            assert pg.remove(SAMPLES / "visitor-guide.md")
            assert all(not p.path.endswith("visitor-guide.md") for p in pg.search("parking"))
            with pytest.raises(ConfigError, match="server's business"):
                pg.encrypt("secret")


def test_a_key_or_a_missing_schema_is_refused(postgres_dsn: str, config: Config) -> None:
    absent = with_params(postgres_dsn, schema="absent")
    with pytest.raises(ConfigError, match="server"):
        Assistant(absent, config, key="k").documents()
    with pytest.raises(StoreError, match="no schema 'absent'"):
        Assistant(absent, config).documents()


def test_a_server_that_is_not_there_says_so(tmp_path: Path, config: Config) -> None:
    url = f"postgresql://ragkit:hunter2@/ragkit?host={tmp_path}"
    with pytest.raises(StoreError, match="is the server running") as raised:
        Assistant(url, config).documents()
    assert "hunter2" not in str(raised.value)


def test_doctor_checks_the_server_the_index_and_the_role(
    postgres_dsn: str, tmp_path: Path, samples_index: Path, config: Config
) -> None:
    import psycopg

    reader = f"reader_{secrets.token_hex(4)}"
    with stores("postgres", tmp_path, postgres_dsn) as make:
        store = make("checked")
        assert isinstance(store, PostgresIndex)
        url = with_params(postgres_dsn, schema=store.schema)
        copied = migrate(samples_index, url)

        def checks(location: str) -> dict[str, tuple[bool, str]]:
            found = doctor(config, db=location)
            return {c.name: (c.ok, c.detail) for c in found if c.name.startswith("postgresql")}

        mine = checks(url)
        assert mine["postgresql"][0] and "pgvector 0.8.6" in mine["postgresql"][1]
        assert mine["postgresql index"][0]
        assert f": {copied} documents" in mine["postgresql index"][1]
        assert mine["postgresql role"] == (True, "this role may search, add and remove documents")
        with Assistant(url, config) as kb:
            kb.set_audit(True)
        as_reader = as_role(url, reader)
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute(f"create role {reader} login")
            try:
                admin.execute(f"grant usage on schema {store.schema} to {reader}")
                admin.execute(f"grant select on all tables in schema {store.schema} to {reader}")
                ok, detail = checks(as_reader)["postgresql role"]
                assert not ok and f"GRANT INSERT ON {store.schema}.audit_log" in detail
                admin.execute(f"grant insert on {store.schema}.audit_log to {reader}")
                ok, detail = checks(as_reader)["postgresql role"]
                assert ok and detail.startswith("this role may search but not change the index")
            finally:
                admin.execute(f"drop owned by {reader}")
                admin.execute(f"drop role {reader}")
    gone = checks(f"postgresql://ragkit@/ragkit?host={tmp_path}")
    assert gone == {"postgresql index": (False, gone["postgresql index"][1])}
    assert "is the server running" in gone["postgresql index"][1]
