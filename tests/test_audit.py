"""The audit log: off by default; when on, every question and search is logged with its
sources before it is answered, by any program using the index; entries cannot be changed
through SQLite, and a change made around the triggers is found by the hash chain."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Assistant, Config, StoreError, TextEncoder, migrate
from ragkit.cli import main
from ragkit.store import Index, PostgresIndex, connect

from .helpers import SAMPLES, as_role, stores, with_params

FOLLOW_UP = "and how much is its security deposit?"


@pytest.fixture
def audited(samples_copy: Path, config: Config, encoder: TextEncoder) -> Path:
    with Assistant(samples_copy, config, encoder=encoder) as kb:
        kb.set_audit(True)
    return samples_copy


def test_nothing_is_logged_by_default(
    samples_copy: Path, config: Config, encoder: TextEncoder
) -> None:
    with Assistant(samples_copy, config, encoder=encoder) as kb:
        kb.search("security deposit")
        kb.ask("How long are closed matter files kept?", mode="extractive")
        assert kb.audit_log() == []
    with Index(samples_copy) as index:
        tables = {r[0] for r in index.conn.execute("select name from sqlite_master")}
    assert "audit_log" not in tables


def test_questions_searches_and_follow_ups_are_logged_with_their_sources(
    audited: Path, config: Config, encoder: TextEncoder
) -> None:
    # Another Assistant (another program) logs too: the switch is in the index.
    with Assistant(audited, config, encoder=encoder) as kb:
        found = kb.search("security deposit", k=3)
        answer = kb.ask("How long are closed matter files kept?", mode="extractive")
        chat = kb.chat(mode="extractive")
        chat.ask("What does the lease say about the rent?")
        chat.ask(FOLLOW_UP)
        log = kb.audit_log()
    assert [e.action for e in log] == ["audit on", "search", "ask", "ask", "ask"]
    assert all(e.user and e.at.endswith("+00:00") for e in log)
    search, ask, follow_up = log[1], log[2], log[4]
    assert search.detail["question"] == "security deposit"
    assert [s["path"] for s in search.detail["sources"]] == [p.path for p in found]
    assert ask.detail["question"] == answer.question
    # Every passage the answer was given, and so every one it could cite, is among them.
    logged = {(s["path"], s["page"], s["heading"]) for s in ask.detail["sources"]}
    assert {(p.path, p.page, p.heading) for p in answer.passages} <= logged
    assert follow_up.detail["question"] == FOLLOW_UP
    assert follow_up.detail["query"] != FOLLOW_UP  # searched as the standalone rewrite
    with Assistant(audited, config, encoder=encoder) as kb:
        assert kb.audit_log(since="2000-01-01")[-1] == follow_up
        assert kb.audit_log(since="9999-01-01") == []
        kb.set_audit(False)
        kb.search("security deposit")
        assert [e.action for e in kb.audit_log()][-1] == "audit off"
        assert kb.verify_audit_log() is None


def test_entries_cannot_be_changed_or_removed_and_tampering_is_found(
    audited: Path, config: Config, encoder: TextEncoder
) -> None:
    with Assistant(audited, config, encoder=encoder) as kb:
        for question in ("first question", "second question", "third question"):
            kb.search(question)
    conn = connect(audited)
    try:
        for statement in ("update audit_log set user = 'someone'", "delete from audit_log"):
            with pytest.raises(Exception, match="append-only"):
                conn.execute(statement)
        # Around the triggers, as anyone who can write the file could.
        conn.execute("drop trigger audit_log_no_update")
        conn.execute("drop trigger audit_log_no_delete")
        conn.execute("delete from audit_log where id = 3")
    finally:
        conn.close()
    with Assistant(audited, config, encoder=encoder) as kb:
        assert kb.verify_audit_log() == 4
    result = CliRunner().invoke(main, ["--db", str(audited), "audit", "verify"])
    assert result.exit_code == 1 and "audit entry 4" in result.output


def test_an_encrypted_index_keeps_its_audit_log_encrypted(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    db = tmp_path / "secret.db"
    question = "Zyxwvut asked about the security deposit"
    with Assistant(db, config, encoder=encoder, key="k") as kb:
        kb.add([SAMPLES / "office-lease.pdf"])
        kb.set_audit(True)
        kb.search(question)
        assert kb.audit_log()[-1].detail["question"] == question
    for suffix in ("", "-wal"):
        path = Path(f"{db}{suffix}")
        assert not path.exists() or b"zyxwvut" not in path.read_bytes().lower()


def test_cli_audit_commands(samples_copy: Path, home: Path) -> None:
    base = ["--home", str(home), "--db", str(samples_copy)]

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, [*base, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert "no audit entries" in run("audit", "show")
    run("audit", "on")
    run("search", "security deposit [sic]")
    shown = run("audit", "show")
    assert "security deposit [sic]" in shown and "office-lease.pdf, p. 2" in shown
    assert "audit log whole: 2 entries" in run("audit", "verify")
    assert '"action": "search"' in run("audit", "show", "--json")
    run("audit", "off")
    run("search", "rent")
    assert run("audit", "show").rstrip().splitlines()[-1].split()[2:4] == ["audit", "off"]


def test_the_audit_log_on_postgres(
    postgres_dsn: str, tmp_path: Path, samples_index: Path, config: Config, encoder: TextEncoder
) -> None:
    psycopg = pytest.importorskip("psycopg")
    reader = f"reader_{secrets.token_hex(4)}"
    with stores("postgres", tmp_path, postgres_dsn) as make:
        store = make("audited")
        assert isinstance(store, PostgresIndex)
        url = with_params(postgres_dsn, schema=store.schema)
        migrate(samples_index, url)
        with Assistant(url, config, encoder=encoder) as kb:
            kb.set_audit(True)
            found = kb.search("security deposit", k=3)
            kb.ask("How long are closed matter files kept?", mode="extractive")
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute(f"set search_path to {store.schema}")
            # A role that only searches: it reads the index and adds to the log, nothing more.
            admin.execute(f"create role {reader} login")
            admin.execute(f"grant usage on schema {store.schema} to {reader}")
            admin.execute(f"grant select on all tables in schema {store.schema} to {reader}")
            admin.execute(f"grant insert on audit_log to {reader}")
            try:
                with Assistant(as_role(url, reader), config, encoder=encoder) as kb:
                    kb.search("notice period")
                    with pytest.raises(StoreError, match="permission denied"):
                        kb.add([SAMPLES / "visitor-guide.md"], collection="x")
                with Assistant(url, config, encoder=encoder) as kb:
                    log = kb.audit_log()
                    assert [e.action for e in log] == ["audit on", "search", "ask", "search"]
                    assert [s["path"] for s in log[1].detail["sources"]] == [p.path for p in found]
                    assert kb.verify_audit_log() is None
                for statement in (
                    "update audit_log set action = 'nothing'",
                    "delete from audit_log",
                    "truncate audit_log",
                ):
                    with pytest.raises(psycopg.Error, match="append-only"):
                        admin.execute(statement)
                # Around the triggers, as the schema's owner could.
                admin.execute("drop trigger audit_log_no_change on audit_log")
                admin.execute("delete from audit_log where id = 2")
                with Assistant(url, config, encoder=encoder) as kb:
                    assert kb.verify_audit_log() == 3
            finally:
                admin.execute(f"drop owned by {reader}")
                admin.execute(f"drop role {reader}")
