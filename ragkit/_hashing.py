"""File hashing: the one streamed sha256 used for documents and model packs."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

__all__ = ["Progress", "sha256_file"]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(task, done, total)`` during long operations (bytes or steps)."""

# Large enough that hashing runs at the digest's speed, small enough to keep memory flat.
_BLOCK = 1 << 20


def sha256_file(path: Path, progress: Progress | None = None, task: str = "") -> str:
    """The hex sha256 of a file's bytes, read in blocks, reporting bytes read to ``progress``.

    Raises ``OSError`` when the file cannot be read or is not a regular file: a named pipe
    or a device is refused without waiting on it or reading it.
    """
    digest = hashlib.sha256()
    done = 0
    _regular(path, os.stat(path).st_mode)  # a device is not even opened
    # Non-blocking, so that a file swapped for a named pipe since does not wait for a writer.
    with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as stream:
        info = os.fstat(stream.fileno())
        _regular(path, info.st_mode)
        total = info.st_size
        while block := stream.read(_BLOCK):
            digest.update(block)
            done += len(block)
            if progress:
                progress(task or f"hashing {path.name}", done, total)
    return digest.hexdigest()


def _regular(path: Path, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, "not a regular file (a pipe, socket or device)", str(path))
