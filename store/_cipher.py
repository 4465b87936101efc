"""Converting an index between plain and encrypted, or from one key to another."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

from ragkit._errors import StoreError
from ragkit._private import private_file
from ragkit.store._connect import (
    DEFAULT_BUSY_TIMEOUT,
    connect,
    index_files,
    quote_key,
    translate_errors,
)
from ragkit.store._schema import check_is_index

__all__ = ["change_key"]


def change_key(
    path: str | Path,
    *,
    key: str | None,
    new_key: str | None,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
) -> None:
    """Rewrite the index at ``path``, opened with ``key``, as a new file under ``new_key``
    (``None``: plain), then put it in the old one's place.

    SQLCipher cannot encrypt a file in place, so ``sqlcipher_export`` copies every table,
    full-text and vector index into a private file beside it, which is checked before it
    replaces the index in one rename. The old file's bytes are then overwritten with zeros
    before the last handle on them goes: its plain pages do not stay behind in the
    filesystem's free blocks (a copy-on-write filesystem or an SSD may still keep older
    blocks; only an index created encrypted never had plain pages). Run it while no other
    process uses the index.
    """
    path = Path(path)
    if key == new_key:
        return
    target = path.with_name(f".{path.name}.rekey-{os.getpid()}")
    _remove(target)
    conn = connect(path, create=False, busy_timeout=busy_timeout, key=key)
    try:
        with translate_errors(path, busy_timeout):
            check_is_index(conn, str(path), create=False)
            version = conn.execute("pragma user_version").fetchone()[0]
            # Everything committed is in the main file, so the copy below misses nothing.
            conn.execute("pragma wal_checkpoint(TRUNCATE)").fetchone()
            private_file(target)
            attach_key = quote_key(new_key) if new_key is not None else "''"
            conn.execute(f"attach database ? as target key {attach_key}", (str(target),))
            try:
                conn.execute("begin immediate")  # no other writer until the copy is whole
                conn.execute("select sqlcipher_export('target')")
                # sqlcipher_export copies rows, not the header's schema version.
                conn.execute(f"pragma target.user_version = {int(version)}")
                conn.execute("commit")
            finally:
                if conn.in_transaction:
                    conn.execute("rollback")
                conn.execute("detach database target")
        copy = connect(target, create=False, busy_timeout=busy_timeout, key=new_key)
        try:
            with translate_errors(target, busy_timeout):
                copy.execute("pragma journal_mode=wal")
                problem = copy.execute("pragma quick_check").fetchone()[0]
                if problem != "ok":
                    raise StoreError(
                        f"{path} was left as it was: its converted copy failed SQLite's check "
                        f"({problem}). Run the index's vacuum, then try again."
                    )
        finally:
            copy.close()
        _fsync(target)
        with open(path, "r+b") as old:
            conn.close()  # the last connection: SQLite removes the -wal and -shm files
            os.replace(target, path)
            _fsync(path.parent)
            _zero(old)
    except BaseException:
        conn.close()
        _remove(target)
        raise


def _zero(f: BinaryIO) -> None:
    fd = f.fileno()
    size = os.fstat(fd).st_size
    block = bytes(1 << 20)
    os.lseek(fd, 0, os.SEEK_SET)
    written = 0
    while written < size:
        written += os.write(fd, block[: min(len(block), size - written)])
    os.fsync(fd)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    for file in index_files(path):
        with contextlib.suppress(FileNotFoundError):
            os.remove(file)
