"""ragkit.store: the SQLite index (schema, migrations, vectors, full text)."""

from ragkit.store._connect import connect, sqlite_library
from ragkit.store._index import ChunkLike, Filter, Index, StoredChunk, StoredDocument, fts_query
from ragkit.store._schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "ChunkLike",
    "Filter",
    "Index",
    "StoredChunk",
    "StoredDocument",
    "connect",
    "fts_query",
    "sqlite_library",
]
