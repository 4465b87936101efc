"""The one way ragkit opens SQLite: a library that can load sqlite-vec, WAL, busy timeout."""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType
from typing import Any

from ragkit._errors import StoreError

__all__ = ["connect", "sqlite_library"]


def _can_load_extensions(module: ModuleType) -> bool:
    try:
        conn = module.connect(":memory:")
    except Exception:
        return False
    try:
        conn.enable_load_extension(True)
        conn.enable_load_extension(False)
        return True
    except AttributeError:
        return False
    except Exception:
        return False
    finally:
        conn.close()


@functools.lru_cache(maxsize=1)
def sqlite_library() -> ModuleType:
    """The DB-API module used for every connection in this process.

    The standard library's ``sqlite3`` is preferred; where it was built without extension
    loading, ``pysqlite3`` (from pysqlite3-binary) takes its place. The choice is made once:
    loading sqlite-vec into two different SQLite libraries in one process crashes.
    """
    import sqlite3

    if _can_load_extensions(sqlite3):
        return sqlite3
    try:
        from pysqlite3 import dbapi2
    except ImportError:
        raise StoreError(
            "this Python's sqlite3 cannot load extensions and pysqlite3 is not installed; "
            "run `pip install pysqlite3-binary` (Linux) or use a Python built with "
            "--enable-loadable-sqlite-extensions."
        ) from None
    if not _can_load_extensions(dbapi2):
        raise StoreError("pysqlite3 cannot load extensions either; sqlite-vec cannot be used.")
    return dbapi2


def connect(path: str | Path, *, readonly: bool = False) -> Any:
    """Open ``path`` with sqlite-vec loaded, WAL journaling, foreign keys and a busy timeout.

    The connection is in autocommit mode; callers open explicit transactions.
    """
    import sqlite_vec

    lib = sqlite_library()
    target = Path(path)
    if not readonly:
        target.parent.mkdir(parents=True, exist_ok=True)
    uri = f"file:{target}?mode=ro" if readonly else str(target)
    try:
        conn = lib.connect(uri, uri=readonly, timeout=30.0, isolation_level=None,
                           check_same_thread=False)
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
        if not readonly:
            conn.execute("pragma journal_mode=wal")
        conn.execute("pragma synchronous=normal")
        conn.execute("pragma foreign_keys=on")
        conn.execute("pragma busy_timeout=30000")
        # Memory-mapped reads: rescoring fetches a few hundred scattered vectors per query,
        # and mapping them costs far less than a read() system call per page.
        conn.execute("pragma mmap_size=1073741824")
    except lib.DatabaseError as exc:
        raise StoreError(
            f"{target}: cannot open as a ragkit index ({exc}); is it a SQLite file? "
            "Choose another path with --db or remove the file."
        ) from exc
    return conn
