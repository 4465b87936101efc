"""The ragkit index: documents, chunks, full text (FTS5) and vectors (sqlite-vec) in one file."""

from __future__ import annotations

import functools
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import numpy as np

from ragkit._errors import ChunkingMismatchError, EncoderMismatchError, StoreError
from ragkit._language import UNDETERMINED, chunk_terms, document_language, query_terms
from ragkit._text import STOPWORDS, words
from ragkit.store import _audit
from ragkit.store._audit import AuditEntry
from ragkit.store._coarse import CoarseIndex, pack_bits
from ragkit.store._connect import DEFAULT_BUSY_TIMEOUT, connect, translate_errors
from ragkit.store._fulltext import Postings, correct_totals
from ragkit.store._schema import SCHEMA_VERSION, check_is_index, migrate

__all__ = [
    "ChunkLike",
    "Filter",
    "Index",
    "StoredChunk",
    "StoredDocument",
    "fts_phrases",
    "fts_query",
]


class ChunkLike(Protocol):
    """What the index needs of a chunk (``ragkit.ingest.Chunk`` fits). Read only: a frozen
    dataclass fits as well as a plain object."""

    @property
    def text(self) -> str: ...
    @property
    def ordinal(self) -> int: ...
    @property
    def page(self) -> int | None: ...
    @property
    def heading(self) -> str | None: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def ocr(self) -> bool: ...
    @property
    def n_tokens(self) -> int: ...


@dataclass(frozen=True)
class StoredDocument:
    """A document as the index holds it."""

    id: int
    path: str
    title: str
    sha256: str
    size: int
    mtime: float
    collection: str | None
    metadata: dict[str, Any]
    added_at: float
    n_chunks: int
    language: str = UNDETERMINED
    """ISO 639-1 code of the language detected at ingest ("und" when it could not be told)."""


@dataclass(frozen=True)
class StoredChunk:
    """A chunk with the path and title of its document."""

    id: int
    document_id: int
    path: str
    title: str
    ordinal: int
    text: str
    page: int | None
    heading: str | None
    n_tokens: int
    start: int
    end: int
    ocr: bool
    language: str
    """Its document's language (see ``StoredDocument.language``)."""

    def __post_init__(self) -> None:
        # SQLite hands the flag back as 0 or 1.
        object.__setattr__(self, "ocr", bool(self.ocr))


def fts_query(text: str, languages: Iterable[str] = (UNDETERMINED,)) -> str | None:
    """An FTS5 MATCH expression built from free text, or None when it holds no words.

    Each word becomes the terms the index holds for it in each of ``languages`` (its stem in
    each, see :mod:`ragkit._language`), any of which may match. Every term is quoted, so
    FTS5 operators, quotes and punctuation in the question are taken literally and can never
    raise a syntax error; a number such as "19,350.00" is a phrase of its parts.
    """
    return _expression(fts_phrases(text, languages))


def _expression(phrases: Sequence[Sequence[str]]) -> str | None:
    if not phrases:
        return None
    return " OR ".join('"' + " ".join(p).replace('"', '""') + '"' for p in phrases)


def fts_phrases(text: str, languages: Iterable[str] = (UNDETERMINED,)) -> list[tuple[str, ...]]:
    """The phrases (terms in order) of :func:`fts_query`'s expression, each once."""
    languages = list(languages) or [UNDETERMINED]
    found = [w.lower() for w in words(text)]
    # Stop words are too common to help BM25 but would widen an OR query a great deal.
    kept = [w for w in found if w not in STOPWORDS] or found
    ways = (tuple(way) for w in dict.fromkeys(kept) for way in query_terms(w, languages))
    return list(dict.fromkeys(ways))


@dataclass(frozen=True)
class Filter:
    """Restricts a search to some documents; every field set must hold (AND).

    ``path`` is a glob matched against the whole stored path (``*`` crosses folders, so
    ``*/contracts/*.pdf`` works); ``tags`` requires every tag listed; modification times are
    Unix seconds.
    """

    path: str | None = None
    collection: str | None = None
    tags: tuple[str, ...] = ()
    modified_after: float | None = None
    modified_before: float | None = None

    def __bool__(self) -> bool:
        return any(
            (
                self.path,
                self.collection,
                self.tags,
                self.modified_after is not None,
                self.modified_before is not None,
            )
        )

    def sql(self) -> tuple[str, list[str | float]]:
        """A condition on ``documents d`` and its arguments."""
        clauses: list[str] = []
        args: list[str | float] = []
        if self.path:
            clauses.append("d.path glob ?")
            args.append(self.path)
        if self.collection is not None:
            clauses.append("d.collection = ?")
            args.append(self.collection)
        for tag in self.tags:
            clauses.append(
                "exists (select 1 from json_each(d.metadata, '$.tags') t where t.value = ?)"
            )
            args.append(tag)
        if self.modified_after is not None:
            clauses.append("d.mtime >= ?")
            args.append(self.modified_after)
        if self.modified_before is not None:
            clauses.append("d.mtime < ?")
            args.append(self.modified_before)
        return " and ".join(clauses) or "1", args


# Below this many vectors every float vector is held in memory (at most 30 MB at 384
# dimensions) and the exact search is one matrix product: ~0.5 ms on SciFact's 11.6k chunks
# here, against 10 ms for sqlite-vec's exact scan and 3.7 ms for the coarse search.
EXACT_BELOW = 20_000
# Full-text searches of one snapshot after which its postings are held in memory (below
# EXACT_BELOW chunks, ~20 MB on SciFact): a one-off question never waits for the load.
POSTINGS_AFTER = 2
# Candidates rescored exactly: this many per result wanted, and at least MIN_CANDIDATES;
# the Hamming shortlist before them is SHORTLIST times larger. Chosen with
# `ragkit eval scale` (see README) for recall@10 >= 0.98 against the exact scan.
OVERSAMPLE = 10
MIN_CANDIDATES = 200
SHORTLIST = 10


_CHUNK_COLUMNS = (
    "select c.id, c.document_id, d.path, d.title, c.ordinal, c.text, c.page, c.heading, "
    'c.n_tokens, c.start, c."end", c.ocr, d.language '
    "from chunks c join documents d on d.id = c.document_id"
)


_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")


class _Guardable(Protocol):
    def _translated(self) -> AbstractContextManager[None]: ...


_S = TypeVar("_S", bound=_Guardable)


def guarded(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
    """Raise the database errors of a store's method as ragkit errors naming the index
    (the store's ``_translated()`` says how)."""

    @functools.wraps(method)
    def wrapper(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._translated():
            return method(self, *args, **kwargs)

    return wrapper


# Set in meta by a removal or replacement until its erasure is finished (see Index.erase).
_ERASE = "erase_pending"

# Past a few hundred values in one IN list SQLite's planner prefers scanning the whole table
# (measured: 800 ids out of 20k took 35 ms in one list against 3 ms in batches of 250).
_IN_BATCH = 250

# Full-text segments an ingest may leave before Index.erase merges them into one.
MAX_SEGMENTS = 8


def prepare_document(
    path: str, chunks: Sequence[ChunkLike], vectors: np.ndarray, dims: int | None
) -> tuple[np.ndarray, str, list[str]]:
    """A document's vectors as float32 (checked against the index's ``dims``), its language
    and its chunks' full-text terms: worked out before a write transaction, so the write
    lock is held for the writes alone."""
    if len(chunks) != len(vectors):
        raise StoreError(f"{path}: {len(chunks)} chunks but {len(vectors)} vectors.")
    if len(vectors) and vectors.shape[1] != dims:
        raise StoreError(f"{path}: vectors have {vectors.shape[1]} dims, index has {dims}.")
    language = document_language(c.text for c in chunks)
    terms = [chunk_terms(c.text, c.heading, language) for c in chunks]
    return np.ascontiguousarray(vectors, dtype=np.float32), language, terms


def _best(
    ids: np.ndarray, scores: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """The ``k`` best ``(id, score)``, best first (ties by id), among ``allowed`` ids."""
    if allowed is not None:
        inside = np.isin(ids, allowed, assume_unique=True)
        ids, scores = ids[inside], scores[inside]
    if len(scores) > k > 0:
        # Everything tied with the k-th best stays in, so ties are cut by id below, not
        # by where a partition happened to put them.
        cut = -np.partition(-scores, k - 1)[k - 1]
        ids, scores = ids[scores >= cut], scores[scores >= cut]
    order = np.lexsort((ids, -scores))[:k]
    return [(int(ids[i]), float(scores[i])) for i in order]


def check_encoder(
    where: str, meta: Mapping[str, str], fingerprint: str, dims: int, pack: str | None
) -> None:
    """Refuse an encoder other than the one the index at ``where`` (a file, or a URL
    without its password) records in ``meta``; one that records none binds nothing."""
    stored = meta.get("encoder_fingerprint")
    if stored is None or stored == fingerprint:
        return
    built = meta.get("encoder_pack")
    theirs = f"the encoder pack {built!r}" if built else "another encoder"
    ours = f"{pack!r}, " if pack else ""
    use = f"{built!r}, or leave Config.encoder 'auto'" if built else "(Config.encoder)"
    raise EncoderMismatchError(
        f"{where} was built with {theirs} ({stored[:12]}…, "
        f"{meta.get('dims')} dims), not the configured one ({ours}{fingerprint[:12]}…, "
        f"{dims} dims). Use the encoder pack it was built with {use}, or index the "
        "documents again into a new file."
    )


def chunking_value(settings: Mapping[str, int | str]) -> str:
    """How ``settings`` are recorded in meta."""
    return json.dumps(dict(settings), sort_keys=True)


def check_chunking(where: str, stored: str, settings: Mapping[str, int | str]) -> None:
    """Refuse chunking ``settings`` other than those the index at ``where`` records."""
    if stored == chunking_value(settings):
        return
    recorded = ", ".join(f"{k}={v}" for k, v in json.loads(stored).items())
    asked = ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))
    raise ChunkingMismatchError(
        f"{where} was chunked with {recorded}, but the configuration asks for "
        f"{asked}. Set those Config fields back to the index's values to add to it, "
        "or index the documents into a new file with the new settings."
    )


class SqlReads(ABC):
    """The reads both backends make with the same SQL: documents, languages, chunks by id, a
    chunk's neighbours, every chunk's path. Written with ``?`` marks; :meth:`_rows` runs
    them as the backend's driver wants them."""

    # Follows ORDER BY on text: byte order, as SQLite sorts, whatever a database's collation.
    _BYTE_ORDER = ""
    # The documents' metadata as JSON text.
    _METADATA = "d.metadata"

    @abstractmethod
    def _translated(self) -> AbstractContextManager[None]: ...

    @abstractmethod
    def _kept_read(self, name: str, read: Callable[[], _T]) -> _T: ...

    @abstractmethod
    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """The rows of ``sql`` (``?`` marks) with ``args``."""

    @abstractmethod
    def _one_of(self, column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
        """A condition that ``column`` holds one of ``ids``, and its arguments."""

    @abstractmethod
    def _has_table(self, name: str) -> bool: ...

    @guarded
    def audit_enabled(self) -> bool:
        """Whether every question asked of this index is logged (see ``set_audit``)."""
        rows = self._rows("select value from meta where key = ?", (_audit.AUDIT_KEY,))
        return bool(rows) and rows[0][0] == "on"

    @guarded
    def audit_entries(self, since: str | None = None) -> list[AuditEntry]:
        """The audit log, oldest first; ``since``: entries at or after this ISO time."""
        return _audit.entries(self._rows, since=since) if self._has_table("audit_log") else []

    @guarded
    def audit_first_broken(self) -> int | None:
        """The first audit entry changed or preceded by a removed one, else ``None``."""
        return _audit.first_broken(self._rows) if self._has_table("audit_log") else None

    @guarded
    def document_by_path(self, path: str) -> StoredDocument | None:
        rows = self._documents("where d.path = ?", (path,))
        return rows[0] if rows else None

    @guarded
    def documents(self) -> list[StoredDocument]:
        """Every document, sorted by path (byte order)."""
        return self._documents("", ())

    def _documents(self, where: str, args: tuple[Any, ...]) -> list[StoredDocument]:
        sql = (
            "select d.id, d.path, d.title, d.sha256, d.size, d.mtime, d.collection, "
            f"{self._METADATA}, d.added_at, "
            "(select count(*) from chunks c where c.document_id = d.id), d.language "
            f"from documents d {where} order by d.path{self._BYTE_ORDER}"
        )
        return [
            StoredDocument(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]), r[8], int(r[9]), r[10]
            )
            for r in self._rows(sql, args)
        ]

    @guarded
    def languages(self) -> dict[str, int]:
        """How many documents the index holds in each language (ISO 639-1 codes, see
        ``StoredDocument.language``)."""
        counts = self._kept_read(
            "languages",
            lambda: {
                str(r[0]): int(r[1])
                for r in self._rows(
                    "select language, count(*) from documents group by language "
                    f"order by language{self._BYTE_ORDER}"
                )
            },
        )
        return dict(counts)

    @guarded
    def chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        """The chunks with these ids, keyed by id."""
        if not ids:
            return {}
        condition, args = self._one_of("c.id", ids)
        return {
            r[0]: StoredChunk(*r) for r in self._rows(f"{_CHUNK_COLUMNS} where {condition}", args)
        }

    @guarded
    def neighbours(self, chunk: StoredChunk, span: int) -> list[StoredChunk]:
        """The chunks of the same document within ``span`` ordinals of ``chunk``, in order."""
        rows = self._rows(
            f"{_CHUNK_COLUMNS} where c.document_id = ? and c.ordinal between ? and ? "
            "order by c.ordinal",
            (chunk.document_id, chunk.ordinal - span, chunk.ordinal + span),
        )
        return [StoredChunk(*r) for r in rows]

    @guarded
    def chunk_paths(self) -> dict[int, str]:
        """The document path of every chunk, keyed by chunk id."""
        rows = self._rows(
            "select c.id, d.path from chunks c join documents d on d.id = c.document_id"
        )
        return {int(r[0]): str(r[1]) for r in rows}


class Index(SqlReads):
    """One SQLite file holding everything ragkit knows about a collection of documents.

    ``fingerprint`` and ``dims`` describe the encoder whose vectors go in (``encoder_pack``
    names its pack, recorded when the vectors table is created); an index built with another
    encoder is refused rather than silently mixing vector spaces. Without them
    the index opens for listing and removing only, so those never load an encoder.
    With ``create=False`` nothing is created or converted: a missing file, an empty one and
    a SQLite database of another program are refused with a :class:`~ragkit.StoreError`,
    and an index no encoder was bound to yet stays unbound (it holds no vectors to search).
    A SQLite database of another program is refused with ``create=True`` too.
    A write waits up to ``busy_timeout`` seconds for another connection's write to finish
    before raising :class:`~ragkit.IndexBusyError`; any SQLite failure is raised as a
    :class:`~ragkit.StoreError` naming the file.

    Removed and replaced documents are erased from the file, not only unlinked: SQLite's
    ``secure_delete`` zeroes their rows and freed pages, the full-text index is rewritten
    without their terms and the WAL is checkpointed and truncated (see :meth:`erase`).

    With a ``key`` the file is encrypted with SQLCipher (see :func:`~ragkit.store.connect`).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fingerprint: str | None = None,
        dims: int | None = None,
        recipe: str | None = None,
        encoder_pack: str | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        create: bool = True,
        key: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        if not create and not self.path.is_file():
            what = "is a folder" if self.path.is_dir() else "does not exist"
            raise StoreError(
                f"{self.path} {what}: there is no ragkit index there, and opening one to read "
                "never creates it. An index is created by adding documents to it "
                "(Assistant.add, Assistant.add_texts); check the path."
            )
        self.conn = connect(self.path, create=create, busy_timeout=busy_timeout, key=key)
        try:
            with translate_errors(self.path, busy_timeout):
                check_is_index(self.conn, str(self.path), create=create)
                # A no-op for an index (WAL is recorded in the file); only now is it known
                # that the file is one.
                self.conn.execute("pragma journal_mode=wal")
                migrate(self.conn, str(self.path))
                if fingerprint is not None and dims is not None:
                    self._bind_encoder(fingerprint, dims, recipe, encoder_pack, create=create)
        except BaseException:
            self.conn.close()
            raise
        self.dims = dims
        self._writes = 0
        # Derived reads kept between searches: name -> (snapshot they were read in, value).
        self._kept: dict[str, tuple[tuple[int, int], Any]] = {}

    @property
    @guarded
    def has_vectors(self) -> bool:
        """Whether an encoder has been bound (the vectors table exists)."""
        row = self.conn.execute("select 1 from sqlite_master where name = 'vectors'").fetchone()
        return row is not None

    @guarded
    def meta(self) -> dict[str, str]:
        """The index's own record: schema, encoder fingerprint and recipe, chunking."""
        return dict(self.conn.execute("select key, value from meta").fetchall())

    def bind_encoder(
        self,
        fingerprint: str,
        dims: int,
        recipe: str | None = None,
        encoder_pack: str | None = None,
        *,
        create: bool = True,
    ) -> None:
        """Bind an encoder to an index opened without one, as the constructor's arguments
        of the same names do (to choose the encoder from what :meth:`meta` records)."""
        with translate_errors(self.path, self.busy_timeout):
            self._bind_encoder(fingerprint, dims, recipe, encoder_pack, create=create)
        self.dims = dims

    def _bind_encoder(
        self, fingerprint: str, dims: int, recipe: str | None, pack: str | None, *, create: bool
    ) -> None:
        meta = dict(self.conn.execute("select key, value from meta").fetchall())
        if "encoder_fingerprint" not in meta and create:
            with self.transaction():
                # Read again under the write lock: another process may have bound one.
                meta = dict(self.conn.execute("select key, value from meta").fetchall())
                if "encoder_fingerprint" not in meta:
                    self._create_vectors(fingerprint, dims, recipe, pack)
                    return
        check_encoder(str(self.path), meta, fingerprint, dims, pack)

    def _create_vectors(
        self, fingerprint: str, dims: int, recipe: str | None, pack: str | None
    ) -> None:
        self.conn.execute(
            f"create virtual table if not exists vectors using vec0("
            f"embedding float[{dims}] distance_metric=cosine)"
        )
        self.conn.executemany(
            "insert or replace into meta(key, value) values (?, ?)",
            [
                ("encoder_fingerprint", fingerprint),
                ("encoder_recipe", recipe or "not recorded"),
                # The pack's name lets later commands load the same encoder unasked; an
                # encoder passed in by code has none.
                *([("encoder_pack", pack)] if pack else []),
                ("dims", str(dims)),
                ("schema_version", str(SCHEMA_VERSION)),
                ("sqlite_vec_version", self.conn.execute("select vec_version()").fetchone()[0]),
            ],
        )

    def bind_chunking(self, settings: Mapping[str, int | str]) -> None:
        """Record how the index's documents are chunked, or refuse other settings.

        Mixing two chunkings in one index silently changes what a passage is (and so the
        ranking and the prompt budget), so the first ingest fixes them.
        """
        value = chunking_value(settings)
        with translate_errors(self.path, self.busy_timeout):
            row = self.conn.execute("select value from meta where key = 'chunking'").fetchone()
            if row is None:
                with self.transaction():
                    self.conn.execute(
                        "insert or replace into meta(key, value) values ('chunking', ?)", (value,)
                    )
                return
        check_chunking(str(self.path), row[0], settings)

    def _require_encoder(self) -> None:
        if self.dims is None:
            raise StoreError(
                f"{self.path} was opened without an encoder; open it with the encoder's "
                "fingerprint and dims to add or search vectors."
            )

    def _translated(self) -> AbstractContextManager[None]:
        return translate_errors(self.path, self.busy_timeout)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """An immediate write transaction: all of it lands, or none of it."""
        with translate_errors(self.path, self.busy_timeout):
            self.conn.execute("begin immediate")
            try:
                yield
                self.conn.execute("commit")
            except BaseException:
                # After a full disk or an I/O error SQLite has already rolled back, and a
                # second rollback would hide the error that matters.
                if self.conn.in_transaction:
                    self.conn.execute("rollback")
                raise

    # audit log -----------------------------------------------------------------------------

    def set_audit(self, enabled: bool) -> None:
        """Switch the audit log on or off for every program using this index; the switch is
        logged too. Entries stay when it is switched off."""
        with self.transaction():
            _audit.create(self.conn)
            self.conn.execute(
                "insert or replace into meta(key, value) values (?, ?)",
                (_audit.AUDIT_KEY, "on" if enabled else "off"),
            )
            _audit.append(self._rows, "audit on" if enabled else "audit off", {})

    def log(self, action: str, detail: dict[str, Any]) -> None:
        """Add an entry to the audit log (which must have been switched on)."""
        with self.transaction():
            _audit.append(self._rows, action, detail)

    def copy_audit(self, entries: Sequence[AuditEntry], enabled: bool) -> int:
        """Append another index's audit log as it is and set the switch as it was there (see
        :func:`ragkit.migrate`); returns how many entries were added."""
        with self.transaction():
            _audit.create(self.conn)
            added = _audit.copy(self._rows, entries, str(self.path))
            self.conn.execute(
                "insert or replace into meta(key, value) values (?, ?)",
                (_audit.AUDIT_KEY, "on" if enabled else "off"),
            )
        return added

    # documents -----------------------------------------------------------------------------

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        rows: list[Any] = self.conn.execute(sql, args).fetchall()
        return rows

    def _one_of(self, column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
        return f"{column} in ({','.join('?' * len(ids))})", list(ids)

    def _has_table(self, name: str) -> bool:
        return bool(self._rows("select 1 from sqlite_master where name = ?", (name,)))

    def _kept_read(self, name: str, read: Callable[[], _T]) -> _T:
        """``read()``, kept until this or another connection writes (a search needs the same
        few derived reads every time, and a count over every vector costs a millisecond)."""
        snapshot = (self.conn.execute("pragma data_version").fetchone()[0], self._writes)
        kept = self._kept.get(name)
        if kept is None or kept[0] != snapshot:
            kept = (snapshot, read())
            self._kept[name] = kept
        value: _T = kept[1]
        return value

    def put_document(
        self,
        *,
        path: str,
        title: str,
        sha256: str,
        size: int,
        mtime: float,
        chunks: Sequence[ChunkLike],
        vectors: np.ndarray,
        collection: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        """Insert a document or replace all of an existing one, in one transaction."""
        self._require_encoder()
        blobs, language, terms = prepare_document(path, chunks, vectors, self.dims)
        codes = pack_bits(blobs)
        with self.transaction():
            self._writes += 1
            self._delete(path)
            cur = self.conn.execute(
                "insert into documents(path, sha256, size, mtime, title, collection, metadata, "
                "added_at, language) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    path,
                    sha256,
                    size,
                    mtime,
                    title,
                    collection,
                    json.dumps(metadata or {}),
                    time.time(),
                    language,
                ),
            )
            doc_id = cur.lastrowid
            for chunk, row_terms, vector, code in zip(chunks, terms, blobs, codes, strict=True):
                cur = self.conn.execute(
                    'insert into chunks(document_id, ordinal, text, page, heading, start, "end", '
                    "n_tokens, ocr) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc_id,
                        chunk.ordinal,
                        chunk.text,
                        chunk.page,
                        chunk.heading,
                        chunk.start,
                        chunk.end,
                        chunk.n_tokens,
                        chunk.ocr,
                    ),
                )
                self.conn.execute(
                    "insert into chunks_fts(rowid, terms) values (?, ?)",
                    (cur.lastrowid, row_terms),
                )
                self.conn.execute(
                    "insert into vectors(rowid, embedding) values (?, ?)",
                    (cur.lastrowid, vector.tobytes()),
                )
                self.conn.execute(
                    "insert into embeddings(chunk_id, bits, vector) values (?, ?, ?)",
                    (cur.lastrowid, code.tobytes(), vector.tobytes()),
                )
        return int(doc_id)

    def touch_document(
        self,
        path: str,
        mtime: float,
        *,
        collection: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Record a new mtime (and labels, where given) for a document whose content did not
        change."""
        with self.transaction():
            self.conn.execute("update documents set mtime = ? where path = ?", (mtime, path))
            if collection is not None:
                self.conn.execute(
                    "update documents set collection = ? where path = ?", (collection, path)
                )
            if metadata is not None:
                self.conn.execute(
                    "update documents set metadata = ? where path = ?", (json.dumps(metadata), path)
                )

    def remove_document(self, path: str) -> bool:
        """Delete a document and all its rows and erase them from the file (see
        :meth:`erase`); False if it was not in the index."""
        return bool(self.remove_documents([path]))

    def remove_documents(self, paths: Iterable[str]) -> list[str]:
        """Delete these documents in one transaction, then erase them from the file (see
        :meth:`erase`); returns the paths that were in the index."""
        paths = list(paths)
        if not paths:
            return []
        with self.transaction():
            self._writes += 1
            removed = [path for path in paths if self._delete(path)]
        self.erase()
        return removed

    def _delete(self, path: str) -> bool:
        row = self.conn.execute("select id from documents where path = ?", (path,)).fetchone()
        if row is None:
            return False
        # vec0 tables take no part in foreign keys, so their rows go explicitly (sqlite-vec
        # zeroes a deleted vector's slot in its chunk).
        if self.has_vectors:
            self.conn.execute(
                "delete from vectors where rowid in (select id from chunks where document_id = ?)",
                (row[0],),
            )
        self.conn.execute("delete from chunks where document_id = ?", (row[0],))
        self.conn.execute("delete from documents where id = ?", (row[0],))
        # Committed with the deletion, so an erasure cut short is finished by the next one.
        self.conn.execute(f"insert or replace into meta(key, value) values ('{_ERASE}', '1')")
        return True

    @guarded
    def erase(self) -> None:
        """Finish erasing the documents removed or replaced since the last erasure.

        ``secure_delete`` has already zeroed their rows, but FTS5 keeps a deleted row's
        terms in its index segments (marked deleted) until they are merged: the full-text
        index is rewritten without them (FTS5 ``optimize``), and BM25's row count and
        average length are counted again from the rows left (FTS5 keeps a deleted row's share
        of them). The WAL is then checkpointed and truncated, so no earlier page image holding
        the text stays in it. The cost is a rewrite of the full-text index (SciFact's 11.6k
        chunks: 0.05 s).

        With nothing removed, the full-text index is merged only once additions have left it
        in more than :data:`MAX_SEGMENTS` segments: a search reads each term's list in every
        segment (SciFact after ingest, 17 segments: BM25 p50 5.8 ms, merged 4.7 ms).
        """
        erasing = self.conn.execute(f"select 1 from meta where key = '{_ERASE}'").fetchone()
        if erasing is None:
            segments = self.conn.execute("select count(distinct segid) from chunks_fts_idx")
            if segments.fetchone()[0] <= MAX_SEGMENTS:
                return
        with self.transaction():
            self._writes += 1
            self._merge_full_text()
        if erasing is not None:
            self._correct_totals()
            self._checkpoint()

    @guarded
    def vacuum(self) -> None:
        """Rewrite the whole file so that nothing deleted remains in it, whoever deleted it
        (an older ragkit erased nothing): the full-text index is merged, the file rebuilt
        from its live rows by SQLite's VACUUM (free pages dropped), and the WAL checkpointed
        and truncated."""
        with self.transaction():
            self._writes += 1
            self._merge_full_text()
        self._correct_totals()
        self.conn.execute("vacuum")
        self._checkpoint()

    def _correct_totals(self) -> None:
        """BM25's statistics counted again from the rows left (see ``correct_totals``)."""
        with self.transaction():
            self._writes += 1
            correct_totals(self.conn, "chunks_fts")

    def _merge_full_text(self) -> None:
        self.conn.execute("insert into chunks_fts(chunks_fts) values ('optimize')")
        self.conn.execute(f"delete from meta where key = '{_ERASE}'")

    def _checkpoint(self) -> None:
        # Waits (busy timeout) for readers of older snapshots, then empties the WAL file.
        self.conn.execute("pragma wal_checkpoint(TRUNCATE)").fetchone()

    # search --------------------------------------------------------------------------------

    @guarded
    def vector_count(self) -> int:
        return self._kept_read(
            "vector_count",
            lambda: int(self.conn.execute("select count(*) from embeddings").fetchone()[0]),
        )

    @guarded
    def vector_search(
        self,
        query: np.ndarray,
        k: int,
        *,
        exact: bool | None = None,
        candidates: int | None = None,
        where: Filter | None = None,
    ) -> list[tuple[int, float]]:
        """``(chunk_id, cosine similarity)`` of the ``k`` nearest chunks, best first.

        ``exact=True`` compares the query with every float vector (held in memory below
        :data:`EXACT_BELOW` vectors, scanned by sqlite-vec above); ``exact=False`` takes
        Hamming-nearest sign-bit candidates and rescores them exactly. The default is exact
        below :data:`EXACT_BELOW` vectors (or matching chunks), where it is fastest.
        ``candidates`` overrides how many coarse candidates are rescored. ``where`` restricts
        the search to matching documents before ranking, so k results come back whenever k
        chunks match.
        """
        self._require_encoder()
        if not self.has_vectors or not self.vector_count():
            return []  # opened to read before any document was added, or emptied since
        query = np.ascontiguousarray(query, dtype=np.float32)
        allowed = self.filtered_ids(where) if where else None
        small = self.vector_count() < EXACT_BELOW
        if exact is None:
            exact = small or (allowed is not None and len(allowed) < EXACT_BELOW)
        if exact and small:
            ids, matrix = self._matrix()
            return _best(ids, matrix @ query, k, allowed)
        if exact and allowed is not None:
            return self._rescore([int(i) for i in allowed], query, k)
        if exact:
            rows = self.conn.execute(
                "select rowid, distance from vectors where embedding match ? and k = ? "
                "order by distance",
                (query.tobytes(), k),
            ).fetchall()
            return [(int(r[0]), 1.0 - float(r[1])) for r in rows]
        depth = candidates or max(k * OVERSAMPLE, MIN_CANDIDATES)
        coarse = self.coarse().search(query, SHORTLIST * depth, depth, allowed=allowed)
        return self._rescore([int(i) for i in coarse], query, k)

    def _rescore(self, ids: list[int], query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact cosine of these chunks' float vectors; the ``k`` best, best first."""
        rows = self._vector_rows(ids)
        if not rows:
            return []
        found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return _best(found, vectors.reshape(len(found), -1) @ query, k)

    @guarded
    def filtered_ids(self, where: Filter) -> np.ndarray:
        """Ids of the chunks of every document that matches ``where``, ascending."""
        condition, args = where.sql()
        rows = self.conn.execute(
            f"select c.id from chunks c join documents d on d.id = c.document_id where {condition} "
            "order by c.id",
            args,
        ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    @guarded
    def coarse(self) -> CoarseIndex:
        """The in-memory sign-bit index, reloaded when this or another connection wrote."""
        return self._kept_read("coarse", lambda: CoarseIndex(*self._embeddings("bits", np.uint8)))

    def _matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """Every chunk id and its float vector (one row each), held in memory; only for
        indexes of fewer than :data:`EXACT_BELOW` vectors."""
        return self._kept_read("matrix", lambda: self._embeddings("vector", np.float32))

    def _embeddings(self, column: str, dtype: type) -> tuple[np.ndarray, np.ndarray]:
        """Every chunk id and its ``column`` of ``embeddings`` as one row of ``dtype``."""
        rows = self.conn.execute(f"select chunk_id, {column} from embeddings").fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        width = len(rows[0][1]) // np.dtype(dtype).itemsize if rows else 0
        values: np.ndarray = np.frombuffer(b"".join(r[1] for r in rows), dtype=dtype)
        return ids, values.reshape(len(rows), width)

    @guarded
    def text_search(
        self, text: str, k: int, *, where: Filter | None = None
    ) -> list[tuple[int, float]]:
        """``(chunk_id, BM25 score)`` of the ``k`` best full-text matches, best first."""
        phrases = fts_phrases(text, self.languages())
        if not phrases:
            return []
        postings = self._postings()
        # FTS5 folds diacritics as it tokenizes the query; ASCII terms need no folding, so
        # only they are looked up in memory as they are.
        if postings is not None and all(t.isascii() for p in phrases for t in p):
            return _best(*postings.scores(phrases), k, self.filtered_ids(where) if where else None)
        query = _expression(phrases)
        condition, args = where.sql() if where else ("1", [])
        restrict = (
            "and rowid in (select c.id from chunks c join documents d on d.id = c.document_id "
            f"where {condition})"
            if where
            else ""
        )
        rows = self.conn.execute(
            "select rowid, bm25(chunks_fts) as score from chunks_fts where chunks_fts match ? "
            f"{restrict} order by score limit ?",
            (query, *args, k),
        ).fetchall()
        # FTS5's bm25() is negative, lower is better; flip it so higher is better.
        return [(int(r[0]), -float(r[1])) for r in rows]

    def _postings(self) -> Postings | None:
        """The full-text postings in memory (see :mod:`ragkit.store._fulltext`), once this
        connection has searched the same snapshot :data:`POSTINGS_AFTER` times: loading
        them (~0.9 s on SciFact's 11.6k chunks) pays only in a process that keeps
        searching, and a write by anyone starts the count again."""
        searches = self._kept_read("text_searches", lambda: [0])
        searches[0] += 1
        if searches[0] <= POSTINGS_AFTER or self.vector_count() >= EXACT_BELOW:
            return None
        return self._kept_read("postings", lambda: Postings.read(self.conn, "chunks_fts"))

    @guarded
    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored float vectors of these chunks, keyed by id."""
        return {int(i): np.frombuffer(blob, dtype=np.float32) for i, blob in self._vector_rows(ids)}

    def _vector_rows(self, ids: Sequence[int]) -> list[tuple[int, bytes]]:
        """``(chunk_id, float32 blob)`` of these chunks, fetched in batches of ``_IN_BATCH``."""
        rows: list[tuple[int, bytes]] = []
        for start in range(0, len(ids), _IN_BATCH):
            batch = list(ids[start : start + _IN_BATCH])
            marks = ",".join("?" * len(batch))
            rows += self.conn.execute(
                f"select chunk_id, vector from embeddings where chunk_id in ({marks})",
                batch,
            ).fetchall()
        return rows

    @guarded
    def counts(self) -> dict[str, int]:
        """Row counts of documents, chunks, full-text rows and vectors (they must agree)."""
        q = self.conn.execute
        return {
            "documents": q("select count(*) from documents").fetchone()[0],
            "chunks": q("select count(*) from chunks").fetchone()[0],
            # The FTS5 table keeps no content; its docsize shadow table holds one row per
            # chunk actually indexed.
            "fts": q("select count(*) from chunks_fts_docsize").fetchone()[0],
            "vectors": q("select count(*) from vectors").fetchone()[0] if self.has_vectors else 0,
            "embeddings": q("select count(*) from embeddings").fetchone()[0],
        }
