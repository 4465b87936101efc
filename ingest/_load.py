"""Finding files and dispatching them to the loader for their format."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ragkit._errors import LoadError

from ._markdown import load_markdown
from ._pdf import load_pdf
from ._text import load_text
from ._types import Document, Section

Loader = Callable[[Path, bytes], tuple[str, tuple[Section, ...]]]

_LOADERS: dict[str, Loader] = {
    ".txt": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".pdf": load_pdf,
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_LOADERS)
_HASH_BLOCK = 1 << 20


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Yield the files to ingest from files and directories, each file once.

    A file named directly is yielded whatever its suffix (``load`` then says if the type is
    unsupported). A directory is walked recursively in sorted order, skipping hidden entries
    (names starting with ".") and files whose suffix is not supported; symlinked
    directories are not followed, so a link cycle cannot loop. Every path is checked before
    anything is yielded, so a typo fails fast with :class:`LoadError`
    ("no such file or directory") instead of after a long batch.
    """
    roots = [Path(p) for p in paths]
    for root in roots:
        if not root.exists():
            raise LoadError(root, "no such file or directory")
    return _walk(roots)


def _walk(roots: list[Path]) -> Iterator[Path]:
    seen: set[Path] = set()
    for root in roots:
        for path in [root] if not root.is_dir() else _files_under(root):
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                yield path


def _files_under(directory: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        found.extend(
            Path(dirpath, name)
            for name in filenames
            if not name.startswith(".") and Path(name).suffix.lower() in SUPPORTED_SUFFIXES
        )
    return sorted(found)


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes, read in blocks.

    Lets a caller skip an unchanged file before parsing it. Raises :class:`LoadError` when
    the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while block := stream.read(_HASH_BLOCK):
                digest.update(block)
    except OSError as error:
        raise LoadError(path, _describe(error)) from error
    return digest.hexdigest()


def load(path: str | Path) -> Document:
    """Read one file and return it as a :class:`Document` of located sections.

    The format is chosen by suffix (see ``SUPPORTED_SUFFIXES``). Any file that cannot be
    read or parsed raises :class:`LoadError` naming the path and the reason; no other
    exception escapes for bad file content.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    loader = _LOADERS.get(suffix)
    if loader is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise LoadError(path, f"unsupported file type {suffix or '(no suffix)'}; supported: {supported}")
    try:
        with open(path, "rb") as stream:
            mtime = os.fstat(stream.fileno()).st_mtime
            data = stream.read()
    except OSError as error:
        raise LoadError(path, _describe(error)) from error
    if not data.strip():
        raise LoadError(path, "file is empty")
    title, sections = loader(path, data)
    return Document(
        path=path.resolve(),
        title=title,
        sections=sections,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        mtime=mtime,
    )


def _describe(error: OSError) -> str:
    if error.errno == errno.ENOENT:
        return "no such file or directory"
    if error.errno == errno.EISDIR:
        return "is a directory, not a file"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "cannot read file: permission denied"
    return f"cannot read file: {error.strerror or error}"
