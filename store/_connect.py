"""The one way ragkit opens SQLite: a library that can load sqlite-vec, WAL, secure delete,
busy timeout, files private to their owner, and SQLCipher encryption when a key is given."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, cast
from urllib.request import pathname2url

from ragkit._errors import IndexBusyError, IndexCorruptError, IndexKeyError, StoreError
from ragkit._private import private_file, private_folder

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "can_encrypt",
    "cipher_version",
    "connect",
    "index_files",
    "is_encrypted",
    "quote_key",
    "sqlite_library",
    "translate_errors",
]

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

    SQLCipher's ``sqlcipher3`` (the ``encryption`` extra) is preferred: without a key it reads
    and writes plain SQLite files, and with one it encrypts every page. Else the standard
    library's ``sqlite3``, and where that was built without extension loading, ``pysqlite3``
    (from pysqlite3-binary). The choice is made once: loading sqlite-vec into two different
    SQLite libraries in one process crashes.
    """
    import sqlite3

    try:
        from sqlcipher3 import dbapi2 as sqlcipher
    except ImportError:
        pass
    else:
        if _can_load_extensions(sqlcipher):
            return cast(ModuleType, sqlcipher)  # sqlcipher3 is untyped
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


@functools.lru_cache(maxsize=1)
def cipher_version() -> str | None:
    """SQLCipher's version when this process's SQLite library is SQLCipher, else ``None``
    (asked once: the library is chosen once per process)."""
    conn = sqlite_library().connect(":memory:")
    try:
        row = conn.execute("pragma cipher_version").fetchone()
    finally:
        conn.close()
    return str(row[0]) if row else None


def can_encrypt() -> bool:
    """Whether this process's SQLite library is SQLCipher, so an index can be encrypted."""
    return cipher_version() is not None


# The first 16 bytes of every plain SQLite database; SQLCipher puts its random salt there.
_SQLITE_HEADER = b"SQLite format 3\x00"


def index_files(path: str | Path) -> list[Path]:
    """The index file at ``path`` and the files SQLite keeps beside it (write-ahead log,
    shared memory, rollback journal), whether they exist or not."""
    return [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]


def is_encrypted(path: str | Path) -> bool:
    """Whether ``path`` holds data that is not a plain SQLite database: an encrypted index,
    or a damaged or foreign file (only its key tells which). False for a missing or empty
    file."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_HEADER))
    except OSError:
        return False
    return bool(head) and head != _SQLITE_HEADER


def quote_key(key: str) -> str:
    """``key`` as an SQL string literal for ``pragma key`` and ``attach ... key``, which take
    no bound parameters. SQLCipher derives the page key from it (PBKDF2-HMAC-SHA512,
    256,000 iterations)."""
    if not key or "\x00" in key:
        raise IndexKeyError(
            "an index key must be a non-empty passphrase without NUL characters; give another."
        )
    return "'" + key.replace("'", "''") + "'"


def connect(
    path: str | Path,
    *,
    readonly: bool = False,
    create: bool = True,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    key: str | None = None,
) -> Any:
    """Open ``path`` with sqlite-vec loaded, foreign keys, ``secure_delete`` and a busy
    timeout of ``busy_timeout`` seconds.

    With a ``key`` the file is a SQLCipher database: every page, of the file and of its WAL,
    is encrypted (AES-256, each page authenticated), a new file is created encrypted, and a
    wrong key raises :class:`IndexKeyError`, as does a key for a plain file (its owner
    believes it encrypted). Without a key an encrypted file is :class:`IndexCorruptError`.

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
    if not memory:
        _check_key(target, key)
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
            if key is not None:
                _apply_key(conn, target, key)
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


def _check_key(path: Path, key: str | None) -> None:
    """Refuse a key for a plain index. (Without a key, an encrypted file fails as SQLite
    reads it: it cannot be told from a damaged one.)"""
    if key is None:
        return
    if not can_encrypt():
        raise IndexKeyError(
            f"{path}: a key was given, but this Python's SQLite library cannot encrypt; "
            "install the encryption extra (pip install 'ragkit[encryption]', which brings "
            "sqlcipher3)."
        )
    if not is_encrypted(path) and path.is_file() and path.stat().st_size > 0:
        raise IndexKeyError(
            f"{path} is not encrypted, but a key was given: open it without a key, or "
            "encrypt it first (Assistant.encrypt)."
        )


def _apply_key(conn: Any, path: Path, key: str) -> None:
    # SQLCipher prints a line to stderr for each page a wrong key fails to decrypt.
    conn.execute("pragma cipher_log_level = NONE")
    conn.execute(f"pragma key = {quote_key(key)}")
    try:
        # The key is only tried on the first read (any pragma naming the schema reads too).
        conn.execute("select count(*) from sqlite_master").fetchone()
    except sqlite_library().DatabaseError as exc:
        if not any(m in str(exc) for m in _CORRUPT):
            raise
        raise IndexKeyError(
            f"the key does not open {path}: the key is wrong, or the file is damaged. Give "
            "the key it was encrypted with."
        ) from None
    # Sorts and temporary indexes would otherwise spill plain pages into temp files.
    conn.execute("pragma temp_store = memory")
    # SQLCipher cannot memory-map an encrypted file, so SQLite's own page cache is all that
    # keeps decrypted pages: with the default 2 MiB a SciFact search (60 MB index) took
    # 271 ms against 32 ms plain; 64 MiB brought it to 13 ms, as plain. Pages are cached
    # only as they are read.
    conn.execute("pragma cache_size = -131072")


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
            "or it is damaged, or it is an encrypted index opened without its key. Give its key "
            "if it is encrypted; else restore it from a backup, or index the documents again "
            "into a new file."
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
