"""The one way ragkit opens SQLite: a library that can load sqlite-vec, WAL, secure delete,
busy timeout, and files private to their owner."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, cast
from urllib.request import pathname2url

from ragkit._errors import IndexBusyError, IndexCorruptError, StoreError
from ragkit._private import private_file, private_folder

__all__ = ["DEFAULT_BUSY_TIMEOUT", "connect", "sqlite_library", "translate_errors"]

# Seconds a write waits for another connection's write lock before giving up. An ingest
# holds it for one document at a time, so waiting outlasts any single document's write.
DEFAULT_BUSY_TIMEOUT = 30.0


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
    return cast(ModuleType, dbapi2)  # pysqlite3 is untyped


def connect(
    path: str | Path,
    *,
    readonly: bool = False,
    create: bool = True,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
) -> Any:
    """Open ``path`` with sqlite-vec loaded, foreign keys, ``secure_delete`` and a busy
    timeout of ``busy_timeout`` seconds.

    With ``create`` (and not ``readonly``) a missing file is created private (0600, its
    missing folders 0700, whatever the umask), and a new or empty file is switched to WAL
    journaling. Without it the file must exist. An existing file is never changed here: the
    caller checks what it is before writing to it (see :class:`~ragkit.store.Index`).
    ``secure_delete`` makes SQLite overwrite deleted rows and freed pages with zeros, so
    removed text does not linger in the file.

    The connection is in autocommit mode; callers open explicit transactions. SQLite errors
    are raised as :class:`StoreError` subclasses naming the file (see :func:`translate_errors`).
    """
    import sqlite_vec

    lib = sqlite_library()
    target = Path(path)
    memory = str(path) == ":memory:"
    creating = create and not readonly and not memory
    fresh = False
    if creating:
        try:
            private_folder(target.parent)
            private_file(target)
            fresh = target.stat().st_size == 0
        except OSError as exc:
            raise StoreError(
                f"{target}: it or its folder cannot be created ({exc.strerror or exc}); use "
                "another index path."
            ) from exc
    if memory:
        uri, as_uri = ":memory:", False
    else:
        # A URI, so SQLite itself never creates the file: only the code above does.
        mode = "ro" if readonly else "rw"
        uri, as_uri = f"file:{pathname2url(str(target.absolute()))}?mode={mode}", True
    with translate_errors(target, busy_timeout):
        conn = lib.connect(
            uri, uri=as_uri, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.enable_load_extension(True)
            sqlite_vec.load(conn)
            conn.enable_load_extension(False)
            conn.execute("pragma secure_delete=on")
            if memory or (creating and fresh):
                _switch_to_wal(conn, busy_timeout)
            conn.execute("pragma synchronous=normal")
            conn.execute("pragma foreign_keys=on")
            conn.execute(f"pragma busy_timeout={round(busy_timeout * 1000)}")
            # Memory-mapped reads: rescoring fetches a few hundred scattered vectors per query,
            # and mapping them costs far less than a read() system call per page.
            conn.execute("pragma mmap_size=1073741824")
        except BaseException:
            conn.close()
            raise
    return conn


def _switch_to_wal(conn: Any, busy_timeout: float) -> None:
    """Switch a new database to WAL. Two processes making the same new file both try to;
    SQLite refuses one at once rather than wait (a lock upgrade could deadlock), so the
    waiting is done here, up to the busy timeout."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            conn.execute("pragma journal_mode=wal")
            return
        except sqlite_library().OperationalError as exc:
            if not any(m in str(exc) for m in _BUSY) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


# SQLite's own wording of each error (sqlite3_errstr), the same in every SQLite release and
# in both DB-API modules; Python 3.10's sqlite3 exposes no error codes to match instead.
_BUSY = ("database is locked", "database table is locked", "database is busy")
_CORRUPT = ("file is not a database", "database disk image is malformed")
_FULL = "database or disk is full"
_IO = "disk I/O error"
_READONLY = "attempt to write a readonly database"
_CANT_OPEN = "unable to open database file"


def store_error(path: Path, exc: Exception, busy_timeout: float) -> StoreError:
    """The ragkit error for SQLite's ``exc`` on the index at ``path``, saying what to do."""
    text = str(exc)
    if any(m in text for m in _BUSY):
        return IndexBusyError(
            f"{path} is locked: another process kept writing to it for longer than the busy "
            f"timeout ({busy_timeout:g} s). Try again when it has finished, or raise "
            "Config.busy_timeout."
        )
    if any(m in text for m in _CORRUPT):
        return IndexCorruptError(
            f"{path} is not a usable ragkit index ({text}): the file is not a SQLite database, "
            "or it is damaged. Restore it from a backup, or index the documents again into a "
            "new file."
        )
    if _FULL in text:
        return StoreError(
            f"{path}: the disk is full ({text}); free space on the volume that holds it and "
            "try again."
        )
    if _IO in text:
        return StoreError(
            f"{path}: the disk failed to read or write it ({text}); check the volume that "
            "holds it (a removed drive, a network share that went away) and try again."
        )
    if _READONLY in text:
        return StoreError(
            f"{path} cannot be written ({text}); check the permissions of the file and its "
            "folder, or use a copy you can write."
        )
    if _CANT_OPEN in text:
        return StoreError(
            f"{path} cannot be opened ({text}); check that its folder exists and can be "
            "written, or use another index path."
        )
    return StoreError(f"{path}: SQLite failed ({text}).")


@contextmanager
def translate_errors(path: Path, busy_timeout: float) -> Iterator[None]:
    """Raise SQLite errors from the block as :class:`StoreError` subclasses naming ``path``."""
    try:
        yield
    except sqlite_library().Error as exc:
        raise store_error(path, exc, busy_timeout) from exc
