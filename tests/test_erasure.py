"""Erased means erased: a removed or replaced document leaves none of its text, full-text
terms or vectors in the index file, its WAL or its free pages, checked on the raw bytes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Assistant, Config, TextEncoder
from ragkit.cli import main
from ragkit.store import Index

SURNAME = "Xyloquist"
SENTENCE = "Mrs Xyloquist disclosed a seizure disorder and a penicillin allergy at her intake."
OTHERS = {
    "boiler.txt": "The boiler in the basement is serviced every October by the landlord.",
    "keys.txt": "A lost key fob costs forty dollars to replace at the front desk.",
    "parking.txt": "Staff park behind the building; visitors use the street meters.",
}


def _secrets(vectors: list[bytes]) -> list[bytes]:
    """What must not be found: the sentence, the surname and its tail (FTS5 stores a term
    after the prefix it shares with the previous one), and each of the removed vectors."""
    return [
        SENTENCE.lower().encode(),
        SURNAME.lower().encode(),
        SURNAME.lower()[3:].encode(),
        b"seizure",
        b"penicillin",
        *(v[:32] for v in vectors),
    ]


def _found(db: Path, vectors: list[bytes]) -> dict[str, list[bytes]]:
    """Which secrets the raw bytes of the index, its -wal and its -shm hold, per file."""
    found = {}
    for name in (db.name, f"{db.name}-wal", f"{db.name}-shm"):
        path = db.with_name(name)
        if not path.exists():
            continue
        data = path.read_bytes()
        lowered = data.lower()
        hits = [s for s in _secrets(vectors) if (s in data or s in lowered)]
        if hits:
            found[name] = hits
    return found


def _vectors_of(db: Path, key: str) -> list[bytes]:
    with Index(db) as index:
        rows = index.conn.execute(
            "select e.vector from embeddings e join chunks c on c.id = e.chunk_id "
            "join documents d on d.id = c.document_id where d.path = ?",
            (key,),
        ).fetchall()
    assert rows
    return [r[0] for r in rows]


def _corpus(folder: Path) -> Path:
    folder.mkdir()
    for name, text in OTHERS.items():
        (folder / name).write_text(text)
    (folder / "intake-17.txt").write_text(f"Intake notes. {SENTENCE}\n")
    return folder


def _remove(kb: Assistant, note: Path) -> None:
    assert kb.remove(note) == [str(note.resolve())]


def _prune(kb: Assistant, note: Path) -> None:
    note.unlink()
    assert kb.add(note.parent, prune=True).removed == [str(note.resolve())]


def _change(kb: Assistant, note: Path) -> None:
    note.write_text("Intake notes. The patient reported no allergies and takes no medication.\n")
    assert kb.add(note.parent).updated == [str(note.resolve())]


WAYS: dict[str, Callable[[Assistant, Path], None]] = {
    "remove": _remove,
    "prune": _prune,
    "changed file": _change,
}


@pytest.mark.parametrize("way", WAYS)
def test_a_removed_or_replaced_file_leaves_no_trace_in_the_index_files(
    tmp_path: Path, config: Config, encoder: TextEncoder, way: str
) -> None:
    folder = _corpus(tmp_path / "docs")
    note = folder / "intake-17.txt"
    db = tmp_path / "index.db"
    with Assistant(db, config, encoder=encoder) as kb:
        assert len(kb.add(folder).added) == 4
    vectors = _vectors_of(db, str(note.resolve()))
    # The check can see what it looks for: the document is there before.
    assert _found(db, vectors)[db.name]
    with Assistant(db, config, encoder=encoder) as kb:
        WAYS[way](kb, note)
        # While the index is still open: nothing in the file or in its WAL.
        assert _found(db, vectors) == {}
        assert kb.search("When is the boiler serviced?", k=1)[0].path.endswith("boiler.txt")
        if way == "changed file":
            assert kb.search("allergies medication", k=1)[0].path == str(note.resolve())
    assert _found(db, vectors) == {}
    with Index(db, create=False) as index:
        counts = index.counts()
        assert counts["chunks"] == counts["fts"] == counts["vectors"] == counts["embeddings"]
        assert index.conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        rows = index.conn.execute("select count(*) from chunks_fts where chunks_fts match 'boiler'")
        assert rows.fetchone()[0] == 1


def test_a_text_replaced_by_add_texts_leaves_no_trace(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    db = tmp_path / "index.db"
    with Assistant(db, config, encoder=encoder) as kb:
        kb.add_texts([("note-17", SENTENCE, f"{SURNAME} intake"), ("boiler", OTHERS["boiler.txt"])])
    vectors = _vectors_of(db, "note-17")
    assert _found(db, vectors)[db.name]
    with Assistant(db, config, encoder=encoder) as kb:
        report = kb.add_texts([("note-17", "The patient reported no allergies.", "Intake")])
        assert report.updated == ["note-17"]
        assert _found(db, vectors) == {}
        assert kb.search("allergies", k=1)[0].path == "note-17"
    assert _found(db, vectors) == {}


def test_vacuum_erases_what_an_older_ragkit_left_behind(
    tmp_path: Path, config: Config, encoder: TextEncoder, home: Path
) -> None:
    folder = _corpus(tmp_path / "docs")
    note = str((folder / "intake-17.txt").resolve())
    db = tmp_path / "index.db"
    with Assistant(db, config, encoder=encoder) as kb:
        kb.add(folder)
    vectors = _vectors_of(db, note)
    # Removed as ragkit did before erasure: rows deleted, nothing zeroed or merged.
    with Index(db, create=False) as index:
        index.conn.execute("pragma secure_delete=off")
        with index.transaction():
            index._delete(note)
            index.conn.execute("delete from meta where key = 'erase_pending'")
    assert _found(db, vectors)[db.name]
    before = db.stat().st_mode
    result = CliRunner().invoke(main, ["--home", str(home), "--db", str(db), "vacuum"])
    assert result.exit_code == 0, result.output
    assert "vacuumed" in result.output
    assert _found(db, vectors) == {}
    assert db.stat().st_mode == before
    with Assistant(db, config, encoder=encoder) as kb:
        assert len(kb.documents()) == 3
        assert kb.search("lost key fob", k=1)[0].path.endswith("keys.txt")
        kb.vacuum()  # again, from the SDK: an index with nothing to erase stays whole
        assert kb.search("street meters", k=1)[0].path.endswith("parking.txt")


def test_every_page_of_a_removed_pdf_is_erased(samples_copy: Path, config: Config) -> None:
    with Index(samples_copy) as index:
        (path,) = [d.path for d in index.documents() if d.path.endswith("office-lease.pdf")]
        rows = index.conn.execute(
            "select c.text from chunks c join documents d on d.id = c.document_id where d.path = ?",
            (path,),
        ).fetchall()
    probes = [r[0][:60].encode() for r in rows]
    assert len(probes) > 1 and all(p in samples_copy.read_bytes() for p in probes)
    with Assistant(samples_copy, config) as kb:
        assert kb.remove(path) == [path]
    data = b"".join(f.read_bytes() for f in samples_copy.parent.glob(f"{samples_copy.name}*"))
    assert [p for p in probes if p in data] == []
