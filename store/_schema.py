"""Schema of the index and its migrations, applied in order inside one transaction each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ragkit._errors import StoreError

SCHEMA_VERSION = 4

# What FTS5 does to the terms ragkit writes: split at spaces, fold case and accents.
FTS_TOKENIZER = "unicode61 remove_diacritics 2 categories 'L* N* Co M*'"

# Each entry upgrades the schema from version i to i + 1.
_MIGRATIONS: list[str] = [
    """
    create table meta (key text primary key, value text not null);
    create table documents (
        id integer primary key,
        path text not null unique,
        sha256 text not null,
        size integer not null,
        mtime real not null,
        title text not null,
        collection text,
        metadata text not null default '{}',
        added_at real not null
    );
    create table chunks (
        id integer primary key,
        document_id integer not null references documents(id) on delete cascade,
        ordinal integer not null,
        text text not null,
        page integer,
        heading text,
        start integer not null,
        "end" integer not null,
        n_tokens integer not null,
        unique (document_id, ordinal)
    );
    create table embeddings (
        chunk_id integer primary key references chunks(id) on delete cascade,
        bits blob not null,
        vector blob not null
    );
    create virtual table chunks_fts using fts5(
        text, heading, content='chunks', content_rowid='id', tokenize='porter unicode61'
    );
    create trigger chunks_ai after insert on chunks begin
        insert into chunks_fts(rowid, text, heading) values (new.id, new.text, new.heading);
    end;
    create trigger chunks_ad after delete on chunks begin
        insert into chunks_fts(chunks_fts, rowid, text, heading)
        values ('delete', old.id, old.text, old.heading);
    end;
    """,
    # Chunks whose text OCR recognised from a scanned page, so citations can say so.
    """
    alter table chunks add column ocr integer not null default 0;
    update meta set value = '2' where key = 'schema_version';
    """,
    # Full text as the terms ragkit._language writes for each document's language (stems,
    # character pairs for unspaced scripts), so FTS5 only splits them at spaces and folds
    # accents; marks stay inside words (Indic vowel signs). The table keeps no text of its
    # own: a removed chunk's terms go with it (contentless_delete). Filled by _fill_terms.
    f"""
    alter table documents add column language text not null default 'und';
    create index documents_language on documents(language);
    drop trigger chunks_ai;
    drop trigger chunks_ad;
    drop table chunks_fts;
    create virtual table chunks_fts using fts5(
        text, heading, content='', contentless_delete=1, tokenize="{FTS_TOKENIZER}"
    );
    create trigger chunks_ad after delete on chunks begin
        delete from chunks_fts where rowid = old.id;
    end;
    update meta set value = '3' where key = 'schema_version';
    """,
    # One column holding a chunk's heading terms, then its text terms. FTS5's bm25() adds up
    # a row's matches and length over all its columns, so the scores are the same, and a
    # search reads half the per-row data: SciFact BM25 p50 6.5 -> 5.0 ms. Filled by
    # _index_terms.
    f"""
    drop table chunks_fts;
    create virtual table chunks_fts using fts5(
        terms, content='', contentless_delete=1, tokenize="{FTS_TOKENIZER}"
    );
    update meta set value = '4' where key = 'schema_version';
    """,
]


def _detect_languages(conn: Any) -> None:
    """Detect each document's language from its chunks (schema 3)."""
    from ragkit._language import document_language

    for (doc_id,) in conn.execute("select id from documents").fetchall():
        texts = conn.execute(
            "select text from chunks where document_id = ? order by ordinal", (doc_id,)
        ).fetchall()
        language = document_language(r[0] for r in texts)
        conn.execute("update documents set language = ? where id = ?", (language, doc_id))


def _index_terms(conn: Any) -> None:
    """Write every chunk's full-text terms, in its document's language (schema 4)."""
    from ragkit._language import chunk_terms

    rows = conn.execute(
        "select c.id, c.text, c.heading, d.language from chunks c "
        "join documents d on d.id = c.document_id order by c.id"
    ).fetchall()
    conn.executemany(
        "insert into chunks_fts(rowid, terms) values (?, ?)",
        [(r[0], chunk_terms(r[1], r[2], r[3])) for r in rows],
    )


# Migrations that need ragkit's code, not only SQL: run after the SQL of that version.
_FILLS: dict[int, Callable[[Any], None]] = {3: _detect_languages, 4: _index_terms}

# The tables every ragkit index has; a SQLite file without them belongs to another program.
RAGKIT_TABLES = frozenset({"meta", "documents", "chunks", "embeddings", "chunks_fts"})


def check_is_index(conn: Any, path: str, *, create: bool) -> None:
    """Refuse a file that is not a ragkit index, before anything is written to it.

    An empty file (or a SQLite database with nothing in it) becomes an index only when
    ``create`` is set; a SQLite database of another program is never touched.
    """
    version = conn.execute("pragma user_version").fetchone()[0]
    names = [
        r[0]
        for r in conn.execute(
            "select name from sqlite_master where name not like 'sqlite_%' order by name"
        )
    ]
    if not names and version == 0:
        if create:
            return
        raise StoreError(
            f"{path} is empty: it is not a ragkit index, and opening it to read does not make "
            "it one. An index is created by adding documents to it (Assistant.add, "
            "Assistant.add_texts); check the path."
        )
    if not RAGKIT_TABLES <= set(names):
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        raise StoreError(
            f"{path} is a SQLite database of another program (it holds {shown or 'no tables'}), "
            "not a ragkit index; ragkit leaves it as it is. Use another index path."
        )


def migrate(conn: Any, path: str) -> None:
    """Bring the schema at ``path`` up to :data:`SCHEMA_VERSION`."""
    version = conn.execute("pragma user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer ragkit (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade ragkit to use it."
        )
    if version == SCHEMA_VERSION:
        return
    conn.execute("begin immediate")
    try:
        # Read again under the write lock: another process may have migrated it meanwhile.
        version = conn.execute("pragma user_version").fetchone()[0]
        for target in range(version + 1, SCHEMA_VERSION + 1):
            # executescript would commit the open transaction; run statements one by one.
            for statement in _split(_MIGRATIONS[target - 1]):
                conn.execute(statement)
            if target in _FILLS:
                _FILLS[target](conn)
            conn.execute(f"pragma user_version={target}")
        conn.execute("commit")
    except BaseException:
        # SQLite has already rolled back after a full disk or an I/O error.
        if conn.in_transaction:
            conn.execute("rollback")
        raise


def _split(script: str) -> list[str]:
    """Split a script into whole statements (trigger bodies hold ';' of their own)."""
    from ragkit.store._connect import sqlite_library

    statements, current = [], ""
    for line in script.strip().splitlines(keepends=True):
        current += line
        if sqlite_library().complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements
