"""Reading never creates or converts a file: only adding documents (`ragkit ingest`) makes an
index. A missing path, an empty file and another program's SQLite database are refused
with a clear error, and left exactly as they were."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Assistant, Config, StoreError, TextEncoder
from ragkit.cli import main
from ragkit.store import Index, sqlite_library

READS: dict[str, Callable[[Assistant], object]] = {
    "documents": lambda kb: kb.documents(),
    "search": lambda kb: kb.search("deposit"),
    "ask": lambda kb: kb.ask("What is the deposit?", mode="extractive"),
    "chat": lambda kb: kb.chat(mode="extractive").ask("What is the deposit?"),
    "remove": lambda kb: kb.remove("/docs/a.txt"),
    "vacuum": lambda kb: kb.vacuum(),
}


def _foreign(path: Path) -> Path:
    """Another program's SQLite database, in its own (rollback) journal mode."""
    conn = sqlite_library().connect(str(path))
    conn.execute("create table patients (id integer primary key, name text)")
    conn.execute("insert into patients (name) values ('Xyloquist')")
    conn.commit()
    conn.close()
    return path


def _state(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the sha256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("read", READS)
def test_reading_a_missing_index_is_an_error_and_creates_nothing(
    tmp_path: Path, config: Config, encoder: TextEncoder, read: str
) -> None:
    db = tmp_path / "typo" / "index.db"
    with (
        Assistant(db, config, encoder=encoder) as kb,
        pytest.raises(StoreError, match="does not exist") as caught,
    ):
        READS[read](kb)
    assert str(db) in str(caught.value) and "Assistant.add" in str(caught.value)
    assert not (tmp_path / "typo").exists()


def _empty_or_foreign(db: Path, kind: str) -> Path:
    """An empty file, or a SQLite database of another program's, at ``db``."""
    if kind == "empty":
        db.write_bytes(b"")
    else:
        _foreign(db)
    return db


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("kind", ["empty", "foreign"])
def test_an_empty_file_or_another_programs_database_is_refused_untouched(
    tmp_path: Path, config: Config, encoder: TextEncoder, read: str, kind: str
) -> None:
    db = _empty_or_foreign(tmp_path / "data.db", kind)
    before = _state(tmp_path)
    with (
        Assistant(db, config, encoder=encoder) as kb,
        pytest.raises(StoreError, match="is empty" if kind == "empty" else "another program"),
    ):
        READS[read](kb)
    assert _state(tmp_path) == before


def test_adding_never_converts_another_programs_database(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    db = _foreign(tmp_path / "data.db")
    before = _state(tmp_path)
    with (
        Assistant(db, config, encoder=encoder) as kb,
        pytest.raises(StoreError, match=r"another program \(it holds patients\)"),
    ):
        kb.add_texts([("note", "The clinic opens at eight.")])
    assert _state(tmp_path) == before


def test_adding_makes_an_index_of_a_missing_or_empty_file(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for db in (tmp_path / "new" / "index.db", empty):
        with Assistant(db, config, encoder=encoder) as kb:
            kb.add_texts([("note", "The clinic opens at eight on weekdays.")])
            assert [d.path for d in kb.documents()] == ["note"]
        assert db.read_bytes()[18:20] == b"\x02\x02"  # WAL


def test_searching_an_index_with_no_encoder_bound_writes_nothing(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    db = tmp_path / "index.db"
    Index(db).close()  # an index no document was ever added to
    before = _state(tmp_path)
    with Assistant(db, config, encoder=encoder) as kb:
        assert kb.search("deposit") == [] and kb.documents() == []
        assert kb.ask("What is the deposit?").abstained
    assert _state(tmp_path) == before
    with Index(db, create=False) as index:
        assert not index.has_vectors and "encoder_fingerprint" not in index.meta()


# the command line ---------------------------------------------------------------------------

COMMANDS = [
    ["ls"],
    ["search", "deposit"],
    ["ask", "What is the deposit?"],
    ["ask", "--json", "What is the deposit?"],
    ["chat"],
    ["rm", "/docs/a.txt"],
    ["vacuum"],
    ["doctor"],
]


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input="/exit\n", catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_a_command_on_a_missing_db_says_only_ingest_creates_one(
    tmp_path: Path, home: Path, command: list[str]
) -> None:
    db = tmp_path / "typo" / "index.db"
    code, output = _cli("--home", str(home), "--db", str(db), *command)
    assert code == 1
    assert f"{db} does not exist" in output and "only `ragkit ingest` creates an index" in output
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != ["doctor"]], ids=" ".join)
@pytest.mark.parametrize("kind", ["empty", "foreign"])
def test_a_command_on_an_empty_or_foreign_file_refuses_it_untouched(
    tmp_path: Path, home: Path, command: list[str], kind: str
) -> None:
    db = _empty_or_foreign(tmp_path / "data.db", kind)
    before = _state(tmp_path)
    code, output = _cli("--home", str(home), "--db", str(db), *command)
    assert code == 1 and str(db) in output
    assert ("is empty" if kind == "empty" else "SQLite database of another program") in output
    assert _state(tmp_path) == before


def test_the_default_index_missing_is_an_error_too(tmp_path: Path) -> None:
    code, output = _cli("--home", str(tmp_path / "home"), "ls")
    assert code == 1 and "nothing ingested yet" in output
    assert not (tmp_path / "home").exists()


def test_ingest_creates_the_index(tmp_path: Path, home: Path) -> None:
    (tmp_path / "note.txt").write_text("The clinic opens at eight on weekdays.")
    db = tmp_path / "new" / "index.db"
    code, output = _cli("--home", str(home), "--db", str(db), "ingest", str(tmp_path / "note.txt"))
    assert code == 0, output
    code, output = _cli("--home", str(home), "--db", str(db), "ls")
    assert code == 0 and "1 documents" in output
