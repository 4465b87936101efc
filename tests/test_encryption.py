"""Encryption at rest (SQLCipher): no plaintext on disk, a wrong or missing key refused, the
same search results as a plain index, and plain <-> encrypted conversion that leaves no
plain copy behind."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Assistant, Config, IndexCorruptError, IndexKeyError, TextEncoder
from ragkit.cli import main
from ragkit.store import Index, is_encrypted

from .helpers import ROOT, SAMPLES

KEY = "correct horse 'battery' staple"
QUESTIONS = [
    json.loads(line)["question"]
    for line in (ROOT / "samples" / "questions.jsonl").read_text().splitlines()
    if line.strip()
]
# Text of the samples that must never be readable in an encrypted index's bytes: words of
# the documents, a full-text term, a file name.
SECRETS = [b"19,350.00", b"shredded", b"fire drill", b"office-lease", b"harbor"]


def _plaintext(db: Path) -> dict[str, list[bytes]]:
    found = {}
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db}{suffix}")
        if path.exists():
            data = path.read_bytes().lower()
            hits = [s for s in SECRETS if s.lower() in data]
            if hits:
                found[path.name] = hits
    return found


def _results(kb: Assistant) -> list[list[tuple[str, str, float]]]:
    return [
        [(p.location, p.text, round(p.similarity, 6)) for p in kb.search(q, k=5)] for q in QUESTIONS
    ]


@pytest.fixture(scope="module")
def encrypted(
    tmp_path_factory: pytest.TempPathFactory, config: Config, encoder: TextEncoder
) -> Path:
    db = tmp_path_factory.mktemp("encrypted") / "index.db"
    with Assistant(db, config, encoder=encoder, key=KEY) as kb:
        assert not kb.add(SAMPLES).failed
        # Checked while the connection is open too: the WAL holds the latest pages.
        assert _plaintext(db) == {}
    return db


def test_the_samples_are_indexed_as_plain_sqlite_first(samples_index: Path) -> None:
    # Shows the plaintext check can fail: a plain index holds every secret.
    assert set(_plaintext(samples_index)[samples_index.name]) == set(SECRETS)
    assert not is_encrypted(samples_index)


def test_an_encrypted_index_holds_no_plaintext(encrypted: Path) -> None:
    assert is_encrypted(encrypted)
    assert _plaintext(encrypted) == {}
    assert encrypted.read_bytes()[:16] != b"SQLite format 3\x00"


def test_search_results_are_those_of_the_plain_index(
    encrypted: Path, samples_index: Path, config: Config, encoder: TextEncoder
) -> None:
    with (
        Assistant(encrypted, config, encoder=encoder, key=KEY) as secret,
        Assistant(samples_index, config, encoder=encoder) as plain,
    ):
        assert len(secret.documents()) == len(plain.documents()) == 5
        assert _results(secret) == _results(plain)


def test_a_wrong_or_missing_key_is_refused(encrypted: Path, config: Config) -> None:
    with (
        Assistant(encrypted, config, key="wrong") as kb,
        pytest.raises(IndexKeyError, match="key does not open"),
    ):
        kb.documents()
    with Assistant(encrypted, config) as kb, pytest.raises(IndexCorruptError, match="its key"):
        kb.documents()


def test_a_key_for_a_plain_index_is_refused(samples_copy: Path, config: Config) -> None:
    before = samples_copy.read_bytes()
    with Assistant(samples_copy, config, key=KEY) as kb, pytest.raises(IndexKeyError):
        kb.documents()
    assert samples_copy.read_bytes() == before


def test_encrypt_and_decrypt_convert_and_leave_no_plain_copy(
    samples_copy: Path, config: Config, encoder: TextEncoder
) -> None:
    # A second name for the plain file's inode: what it holds after the conversion is what
    # the old file left in the filesystem.
    old = samples_copy.with_name("old-inode.db")
    os.link(samples_copy, old)
    with Assistant(samples_copy, config, encoder=encoder) as kb:
        plain_results = _results(kb)
        kb.encrypt(KEY)
        assert _plaintext(samples_copy) == {}
        assert old.read_bytes() == bytes(old.stat().st_size)  # zeroed
        assert _results(kb) == plain_results
        kb.encrypt("another key")  # a new key for an encrypted index
    with Assistant(samples_copy, config, encoder=encoder, key="another key") as kb:
        assert _results(kb) == plain_results
        kb.decrypt()
    assert not is_encrypted(samples_copy)
    # A plain index again, readable by any SQLite.
    conn = sqlite3.connect(samples_copy)
    try:
        assert conn.execute("select count(*) from documents").fetchone()[0] == 5
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    assert sorted(p.name for p in samples_copy.parent.iterdir()) == ["index.db", "old-inode.db"]
    assert oct(samples_copy.stat().st_mode & 0o777) == oct(0o600)


def test_a_converted_index_keeps_its_schema_version(samples_copy: Path) -> None:
    with Index(samples_copy) as index:
        version = index.conn.execute("pragma user_version").fetchone()[0]
    with Assistant(samples_copy) as kb:
        kb.encrypt(KEY)
    with Index(samples_copy, key=KEY) as index:
        assert index.conn.execute("pragma user_version").fetchone()[0] == version


def _cli(*args: str, env: dict[str, str] | None = None, ok: bool = True) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert (result.exit_code == 0) == ok, result.output
    return result.output


def test_cli_keys_come_from_a_file_or_the_environment(tmp_path: Path, home: Path) -> None:
    db, key_file = tmp_path / "secret.db", tmp_path / "key"
    key_file.write_text(KEY + "\n")  # the trailing newline is not part of the key
    base = ["--home", str(home), "--db", str(db)]
    _cli(
        *base,
        "--key-file",
        str(key_file),
        "ingest",
        "--encrypt",
        str(SAMPLES / "data-retention.txt"),
    )
    assert is_encrypted(db) and _plaintext(db) == {}
    assert "1 documents" in _cli(*base, "ls", env={"RAGKIT_KEY": KEY})
    # No key and no terminal to ask in: a clear error naming both ways to give it.
    out = _cli(*base, "ls", ok=False)
    assert "--key-file" in out and "RAGKIT_KEY" in out
    assert "key does not open" in _cli(*base, "ls", env={"RAGKIT_KEY": "wrong"}, ok=False)
    _cli(*base, "decrypt", env={"RAGKIT_KEY": KEY})
    assert not is_encrypted(db)
    assert "1 documents" in _cli(*base, "ls")
    _cli(*base, "encrypt", env={"RAGKIT_KEY": "k2"})
    assert is_encrypted(db) and "1 documents" in _cli(*base, "ls", env={"RAGKIT_KEY": "k2"})
    # --encrypt never converts an existing plain index (that is `ragkit encrypt`).
    plain = tmp_path / "plain.db"
    _cli("--home", str(home), "--db", str(plain), "ingest", str(SAMPLES / "visitor-guide.md"))
    out = _cli(
        "--home",
        str(home),
        "--db",
        str(plain),
        "ingest",
        "--encrypt",
        str(SAMPLES),
        env={"RAGKIT_KEY": KEY},
        ok=False,
    )
    assert "ragkit encrypt" in out and not is_encrypted(plain)
