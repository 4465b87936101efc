"""ragkit.store: the index (schema, migrations, vectors, full text) in one SQLite file, or in
a PostgreSQL schema shared by several machines; :func:`open_store` opens either."""

from ragkit.store._audit import AuditEntry
from ragkit.store._cipher import change_key
from ragkit.store._connect import (
    can_encrypt,
    cipher_version,
    connect,
    index_files,
    is_encrypted,
    sqlite_library,
)
from ragkit.store._index import (
    EXACT_BELOW,
    ChunkLike,
    Filter,
    Index,
    StoredChunk,
    StoredDocument,
    fts_query,
)
from ragkit.store._interface import Store, is_url, open_store
from ragkit.store._postgres import PostgresIndex, redacted
from ragkit.store._schema import SCHEMA_VERSION

__all__ = [
    "EXACT_BELOW",
    "SCHEMA_VERSION",
    "AuditEntry",
    "ChunkLike",
    "Filter",
    "Index",
    "PostgresIndex",
    "Store",
    "StoredChunk",
    "StoredDocument",
    "can_encrypt",
    "change_key",
    "cipher_version",
    "connect",
    "fts_query",
    "index_files",
    "is_encrypted",
    "is_url",
    "open_store",
    "redacted",
    "sqlite_library",
]
