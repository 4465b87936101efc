"""File hashing: the one streamed sha256 used for documents and model packs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

__all__ = ["Progress", "sha256_file"]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(task, done, total)`` during long operations (bytes or steps)."""

# Large enough that hashing runs at the digest's speed, small enough to keep memory flat.
_BLOCK = 1 << 20


def sha256_file(path: Path, progress: Progress | None = None, task: str = "") -> str:
    """The hex sha256 of a file's bytes, read in blocks, reporting bytes read to ``progress``.

    Raises ``OSError`` when the file cannot be read.
    """
    digest = hashlib.sha256()
    total = path.stat().st_size if progress else 0
    done = 0
    with path.open("rb") as stream:
        while block := stream.read(_BLOCK):
            digest.update(block)
            done += len(block)
            if progress:
                progress(task or f"hashing {path.name}", done, total)
    return digest.hexdigest()
