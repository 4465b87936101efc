"""What ragkit creates is private to the user running it, whatever the umask.

Folders are created 0700 and files 0600. SQLite creates an index's ``-wal`` and ``-shm``
files with the index file's own permissions, so they are private too. Folders and files that
already exist are left as they are: `ragkit.doctor` reports an index others can read.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["FILE_MODE", "FOLDER_MODE", "private_file", "private_folder"]

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: Path) -> None:
    """Create ``path`` and its missing parents, each 0700; existing folders are untouched.

    Raises :class:`OSError` as :meth:`Path.mkdir` does (a parent that is a file, no
    permission).
    """
    missing: list[Path] = []
    folder = path
    while not folder.is_dir():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # made by another process just now: theirs to set
        # mkdir's mode is filtered by the umask; an unusual umask (0o277) would leave a
        # folder its owner cannot write.
        os.chmod(folder, FOLDER_MODE)


def private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 if it does not exist; an existing file is untouched."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    try:
        if hasattr(os, "fchmod"):  # not on Windows before Python 3.13
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
