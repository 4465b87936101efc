"""What ragkit's SDK needs of an index, whichever database holds it, and how one is opened.

:class:`~ragkit.store.Index` (one SQLite file) and
:class:`~ragkit.store.PostgresIndex` (a schema of a PostgreSQL database) both satisfy
:class:`Store`; the Assistant, ingestion and retrieval use nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ragkit._errors import ConfigError
from ragkit.store._audit import AuditEntry
from ragkit.store._connect import DEFAULT_BUSY_TIMEOUT
from ragkit.store._index import ChunkLike, Filter, Index, StoredChunk, StoredDocument

__all__ = ["Store", "is_url", "open_store"]


class Store(Protocol):
    """An index: documents, their chunks, full text and vectors, and its own record.

    Every failure of the database is raised as a :class:`~ragkit.StoreError` naming the
    index (a file, or a URL without its password) and what to do; a write that waited
    longer than the busy timeout for another writer as :class:`~ragkit.IndexBusyError`.
    """

    dims: int | None
    """The bound encoder's dimensions; ``None`` when opened without an encoder."""

    @property
    def has_vectors(self) -> bool:
        """Whether an encoder has been bound (vectors can be stored)."""
        ...

    def meta(self) -> dict[str, str]:
        """The index's own record: schema, encoder fingerprint and recipe, chunking."""
        ...

    def bind_encoder(
        self,
        fingerprint: str,
        dims: int,
        recipe: str | None = None,
        encoder_pack: str | None = None,
        *,
        create: bool = True,
    ) -> None:
        """Bind an encoder to an index opened without one; an index built with another
        encoder raises :class:`~ragkit.EncoderMismatchError` (with ``create`` an index
        bound to none records this one)."""
        ...

    def bind_chunking(self, settings: Mapping[str, int | str]) -> None:
        """Record how the index's documents are chunked on first use, or raise
        :class:`~ragkit.ChunkingMismatchError` for other settings than recorded."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc: object) -> None: ...

    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction, one writer at a time: all of it lands, or none of it."""
        ...

    def audit_enabled(self) -> bool:
        """Whether every question asked of this index is logged."""
        ...

    def set_audit(self, enabled: bool) -> None:
        """Switch the audit log on or off for every program using this index (logged too)."""
        ...

    def log(self, action: str, detail: dict[str, Any]) -> None:
        """Add an entry to the audit log (which must have been switched on)."""
        ...

    def copy_audit(self, entries: Sequence[AuditEntry], enabled: bool) -> int:
        """Append another index's audit log as it is (hashes and all) and set the switch as
        it was there; returns how many entries were added."""
        ...

    def audit_entries(self, since: str | None = None) -> list[AuditEntry]:
        """The audit log, oldest first; ``since``: entries at or after this ISO time."""
        ...

    def audit_first_broken(self) -> int | None:
        """The first audit entry changed or preceded by a removed one, else ``None``."""
        ...

    def document_by_path(self, path: str) -> StoredDocument | None:
        """The document stored under ``path`` (a resolved file path or a text's source)."""
        ...

    def documents(self) -> list[StoredDocument]:
        """Every document, sorted by path."""
        ...

    def languages(self) -> dict[str, int]:
        """How many documents the index holds in each language (ISO 639-1 codes)."""
        ...

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
        """Insert a document or replace all of an existing one, in one transaction;
        returns its id. Needs an encoder bound."""
        ...

    def touch_document(
        self,
        path: str,
        mtime: float,
        *,
        collection: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Record a new mtime (and labels, where given) for an unchanged document."""
        ...

    def remove_document(self, path: str) -> bool:
        """Delete a document and erase it (see :meth:`erase`); False if it was not there."""
        ...

    def remove_documents(self, paths: Iterable[str]) -> list[str]:
        """Delete these documents in one transaction, then erase them; returns the paths
        that were in the index."""
        ...

    def erase(self) -> None:
        """Finish erasing the documents removed or replaced since the last erasure (what is
        guaranteed depends on the database: see each backend)."""
        ...

    def vacuum(self) -> None:
        """Rewrite the whole index so that nothing deleted remains in it."""
        ...

    def vector_count(self) -> int:
        """How many vectors the index holds."""
        ...

    def vector_search(
        self,
        query: np.ndarray,
        k: int,
        *,
        exact: bool | None = None,
        candidates: int | None = None,
        where: Filter | None = None,
    ) -> list[tuple[int, float]]:
        """``(chunk_id, cosine similarity)`` of the ``k`` nearest chunks, best first (ties
        by id). ``exact`` forces (True) or forbids (False) comparing the query with every
        vector; by default the index chooses by its size. ``candidates``: how many an
        approximate search considers. ``where`` restricts the search to matching documents
        before ranking, so k results come back whenever k chunks match."""
        ...

    def filtered_ids(self, where: Filter) -> np.ndarray:
        """Ids of the chunks of every document that matches ``where``, ascending."""
        ...

    def text_search(
        self, text: str, k: int, *, where: Filter | None = None
    ) -> list[tuple[int, float]]:
        """``(chunk_id, BM25 score)`` of the ``k`` best full-text matches, best first: the
        question's words as the terms of each language the index holds, scored as FTS5's
        ``bm25()`` scores them (sign flipped, so higher is better)."""
        ...

    def chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        """The chunks with these ids, keyed by id."""
        ...

    def neighbours(self, chunk: StoredChunk, span: int) -> list[StoredChunk]:
        """The chunks of the same document within ``span`` ordinals of ``chunk``, in order."""
        ...

    def chunk_paths(self) -> dict[int, str]:
        """The document path of every chunk, keyed by chunk id."""
        ...

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored float vectors of these chunks, keyed by id."""
        ...

    def counts(self) -> dict[str, int]:
        """Row counts of documents, chunks, full-text rows and vectors (they must agree)."""
        ...


_SCHEMES = ("postgresql://", "postgres://")


def is_url(location: str | Path) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than an index file."""
    return isinstance(location, str) and location.lower().startswith(_SCHEMES)


def open_store(
    location: str | Path,
    *,
    fingerprint: str | None = None,
    dims: int | None = None,
    recipe: str | None = None,
    encoder_pack: str | None = None,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    create: bool = True,
    key: str | None = None,
    pool: int = 0,
) -> Store:
    """The index at ``location``: a ``postgresql://`` (or ``postgres://``) URL opens a
    :class:`~ragkit.store.PostgresIndex` (the ``postgres`` extra), anything else the SQLite
    :class:`~ragkit.store.Index` file. The keyword arguments are :class:`Index`'s; a ``key``
    encrypts a SQLite file only, and is a :class:`~ragkit.ConfigError` with a URL; ``pool``
    is :class:`PostgresIndex`'s (a SQLite connection serves the thread that opened it)."""
    if not is_url(location):
        return Index(
            location,
            fingerprint=fingerprint,
            dims=dims,
            recipe=recipe,
            encoder_pack=encoder_pack,
            busy_timeout=busy_timeout,
            create=create,
            key=key,
        )
    from ragkit.store._postgres import PostgresIndex, redacted

    if key is not None:
        raise ConfigError(
            f"{redacted(str(location))}: an index key encrypts a SQLite index file; a "
            "PostgreSQL index is kept encrypted by its server (TLS to it, sslmode=verify-full "
            "in the URL, and encrypted disks), so give no key."
        )
    return PostgresIndex(
        str(location),
        fingerprint=fingerprint,
        dims=dims,
        recipe=recipe,
        encoder_pack=encoder_pack,
        busy_timeout=busy_timeout,
        create=create,
        pool=pool,
    )
