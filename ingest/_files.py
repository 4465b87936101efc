"""Finding the files to ingest: folder walks with glob filters and ``.ragkitignore`` files."""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ragkit._errors import LoadError

from ._load import SUPPORTED_SUFFIXES, unsupported_reason

IGNORE_FILE = ".ragkitignore"
"""The name of the file whose gitignore-style patterns exclude entries of its folder."""

Skipped = Callable[[str, str], None]
"""Called as ``skipped(path, reason)`` for an entry a folder walk passes over as unusable."""

_LOOP = "symbolic link loop (too many levels of symbolic links)"
_NOT_UTF8 = "name is not valid UTF-8 (its undecodable bytes shown as \\xNN); rename it to index it"


@dataclass(frozen=True)
class _Rule:
    """One gitignore-style pattern, relative to the directory ``base`` ("" or "a/b/")."""

    regex: re.Pattern[str]
    negated: bool
    dir_only: bool
    base: str

    def matches(self, rel: str, is_dir: bool) -> bool:
        if (self.dir_only and not is_dir) or not rel.startswith(self.base):
            return False
        return self.regex.fullmatch(rel, len(self.base)) is not None


def iter_files(
    paths: Iterable[str | Path],
    *,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    skipped: Skipped | None = None,
    unsupported: Skipped | None = None,
    within: Iterable[str | Path] | None = None,
) -> Iterator[Path]:
    """Yield the files to ingest from files and directories, each file once.

    A file named directly is yielded whatever its suffix or the filters (``load`` then says
    if the type is unsupported). A directory is walked recursively in sorted order, skipping
    hidden entries (names starting with "."), files whose suffix is not supported, and what
    the filters leave out; symlinked directories are not followed, so a link cycle cannot
    loop. A file passed over for its type is reported to ``unsupported(path, reason)`` when
    it is given, so no document in a folder is left out without a word.

    No single entry stops a walk. Entries that cannot be indexed are passed over, and
    reported to ``skipped(path, reason)`` when it is given (hidden and filtered-out entries
    are not): a name that is not valid UTF-8 (the path is given with its undecodable bytes
    escaped as ``\\xNN``), a symbolic link that is broken, loops or leads to a folder, a
    named pipe, socket or device (never opened, so nothing waits on it) and a folder that
    cannot be read.

    Filters use gitignore syntax on the path relative to the walked directory, with "/"
    separators: ``*`` and ``?`` stay within one path segment, ``**`` spans any number of
    them, a pattern without a "/" (other than a trailing one) matches at any depth, a
    trailing "/" matches only directories, a leading "!" re-admits what an earlier pattern
    in the same list matched (the last matching pattern wins), and matching is
    case-sensitive. A matching directory covers everything below it. With ``include``, only
    files that match it are yielded; files that match ``exclude`` are not, e.g.
    ``include=["*.pdf", "*.md"], exclude=["drafts/", "*.tmp.md"]``. A ``.ragkitignore`` file
    in any walked directory excludes what its patterns match, relative to that directory;
    blank lines and lines starting with "#" are skipped.

    Every path is checked before anything is yielded, so a typo fails fast with
    :class:`LoadError` ("no such file or directory"; or a broken or looping link, a pipe or
    a device, a name that is not UTF-8) instead of after a long batch; an unreadable
    ``.ragkitignore`` also raises :class:`LoadError`.

    ``within`` (paths spelled as the walk spells them: joined onto the given ones) narrows
    a walk to what changed: only the files at or under those paths are yielded or reported, and
    only the folders leading to them are read, with every rule applied as in a whole walk.
    """
    roots = [Path(p) for p in paths]
    for root in roots:
        if not root.exists():
            raise LoadError(printable_path(root), _missing(root))
        if not root.is_dir() and not root.is_file():  # a pipe or a device: never opened
            raise LoadError(printable_path(root), _not_regular(root.stat().st_mode))
        if not _is_utf8(root.absolute()):  # nothing under it could be indexed either
            raise LoadError(printable_path(root), _NOT_UTF8)
    includes = _rules(_patterns(include), "")
    excludes = _rules(_patterns(exclude), "")
    scope = _Scope(within) if within is not None else None
    return _walk(
        roots, includes, excludes, skipped or _unreported, unsupported or _unreported, scope
    )


class _Scope:
    """The paths a walk is narrowed to: which entries it must look at to find them all."""

    def __init__(self, paths: Iterable[str | Path]) -> None:
        self.targets = {os.path.normpath(p) for p in paths}
        self.ancestors = {a for t in self.targets for a in _parents(t)}

    def covers(self, path: str) -> bool:
        """Whether ``path`` is a target, under one, or a folder leading to one."""
        return path in self.ancestors or any(p in self.targets for p in (path, *_parents(path)))


def _parents(path: str) -> Iterator[str]:
    parent = os.path.dirname(path)
    while parent != path:
        yield parent
        path, parent = parent, os.path.dirname(parent)


def _unreported(path: str, reason: str) -> None:
    pass


def printable_path(path: str | Path) -> str:
    """``path`` with the bytes of a name that is not UTF-8 (held as lone surrogates, as
    Python decodes file names) written ``\\xNN``, so it can be printed and stored."""
    text = str(path)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate not made by surrogateescape
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _is_utf8(path: str | Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _missing(path: Path) -> str:
    """Why a path that does not exist as far as ``Path.exists`` can tell cannot be used."""
    if not path.is_symlink():
        return "no such file or directory"
    try:
        path.stat()
    except OSError as error:
        return _link_problem(error)
    return "no such file or directory"


def _link_problem(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return _LOOP
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return "broken symbolic link (what it points to does not exist)"
    return f"cannot follow symbolic link: {error.strerror or error}"


def _not_regular(mode: int) -> str:
    kind = (
        "a named pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a file or folder"
    )
    return f"not a regular file: {kind}; never opened"


def _patterns(given: Iterable[str] | None) -> list[str]:
    # A lone string is one pattern, not a sequence of one-character patterns ("*", ...).
    return [given] if isinstance(given, str) else list(given or ())


def _walk(
    roots: list[Path],
    includes: list[_Rule],
    excludes: list[_Rule],
    skipped: Skipped,
    unsupported: Skipped,
    scope: _Scope | None,
) -> Iterator[Path]:
    seen: set[Path] = set()
    for root in roots:
        if root.is_dir():
            found = _files_under(root, includes, excludes, skipped, unsupported, scope)
        else:
            found = [root] if scope is None or scope.covers(os.path.normpath(root)) else []
        for path in found:
            try:
                key = path.resolve()
            except (OSError, RuntimeError):  # made a link loop since the walk saw it
                skipped(printable_path(path), _LOOP)
                continue
            if not _is_utf8(key):  # a link to a file whose name is not UTF-8
                skipped(printable_path(path), _NOT_UTF8)
                continue
            if key not in seen:
                seen.add(key)
                yield path


def _files_under(
    root: Path,
    includes: list[_Rule],
    excludes: list[_Rule],
    skipped: Skipped,
    unsupported: Skipped,
    scope: _Scope | None,
) -> list[Path]:
    found: list[Path] = []
    # (directory, its path relative to root with a trailing "/", the ignore rules in force)
    pending: list[tuple[Path, str, list[_Rule]]] = [(root, "", [])]
    while pending:
        directory, rel_dir, ignored = pending.pop()
        ignored = ignored + _ignore_file_rules(directory, rel_dir)
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as error:
            skipped(printable_path(directory), f"cannot read folder: {error.strerror or error}")
            continue
        for entry in entries:
            if entry.name.startswith(".") or (scope is not None and not scope.covers(entry.path)):
                continue
            rel = rel_dir + entry.name
            kind, problem = _kind(entry, directory)
            if _verdict(ignored, rel, kind == "dir") or _verdict(excludes, rel, kind == "dir"):
                continue
            if kind == "dir":
                if not _is_utf8(entry.name):
                    skipped(printable_path(entry.path), "folder " + _NOT_UTF8)
                else:
                    pending.append((Path(entry.path), rel + "/", ignored))
            elif includes and not _included(includes, rel):
                continue
            elif kind == "file":
                suffix = Path(entry.name).suffix.lower()
                if suffix not in SUPPORTED_SUFFIXES:
                    unsupported(printable_path(entry.path), unsupported_reason(suffix))
                    continue
                if _is_utf8(entry.name):
                    found.append(Path(entry.path))
                else:
                    skipped(printable_path(entry.path), "file " + _NOT_UTF8)
            else:
                skipped(printable_path(entry.path), problem)
    return sorted(found)


def _kind(entry: os.DirEntry[str], directory: Path) -> tuple[str, str]:
    """``("dir", "")`` for a folder to walk, ``("file", "")`` for a regular file (or a link
    to one), or ``("skip", why)``. Nothing is opened: a pipe or a device is known by its
    mode, and a link that leads to a folder is not followed."""
    try:
        if entry.is_dir(follow_symlinks=False):
            return "dir", ""
        if entry.is_symlink():
            try:
                mode = os.stat(entry.path).st_mode
            except OSError as error:
                return "skip", _link_problem(error)
            if stat.S_ISDIR(mode):
                target = os.path.realpath(entry.path)
                here = os.path.realpath(directory)
                if here == target or here.startswith(target.rstrip("/") + "/"):
                    return "skip", "symbolic link loop: it leads to a folder it is inside"
                return "skip", "symbolic link to a folder; not followed (give the folder itself)"
        else:
            mode = entry.stat(follow_symlinks=False).st_mode
    except OSError as error:
        return "skip", f"cannot read: {error.strerror or error}"
    return ("file", "") if stat.S_ISREG(mode) else ("skip", _not_regular(mode))


def _verdict(rules: list[_Rule], rel: str, is_dir: bool) -> bool:
    """Whether the last rule that matches ``rel`` is a positive one."""
    for rule in reversed(rules):
        if rule.matches(rel, is_dir):
            return not rule.negated
    return False


def _included(includes: list[_Rule], rel: str) -> bool:
    # Directories are not pruned by ``include`` (a "*.pdf" directory rarely exists), so a
    # pattern naming a directory is tried against each of the file's parent directories.
    parts = rel.split("/")
    parents = ["/".join(parts[:end]) for end in range(1, len(parts))]
    return _verdict(includes, rel, False) or any(
        _verdict(includes, parent, True) for parent in parents
    )


def _ignore_file_rules(directory: Path, rel_dir: str) -> list[_Rule]:
    path = directory / IGNORE_FILE
    if not path.is_file():
        return []
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as error:
        raise LoadError(path, f"cannot read ignore file: {error.strerror or error}") from error
    return _rules(text.splitlines(), rel_dir)


def _rules(patterns: Iterable[str], base: str) -> list[_Rule]:
    rules: list[_Rule] = []
    for pattern in patterns:
        line = pattern.rstrip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        # A backslash escapes a leading "!" or "#" that is part of a name.
        line = line.removeprefix("!").removeprefix("\\")
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        line = line.lstrip("/")
        if not line:
            continue
        prefix = "" if anchored else "(?:.*/)?"  # any depth
        try:
            regex = re.compile(prefix + _translate(line), re.DOTALL)
        except re.error:
            # A malformed bracket such as "[z-a]" names no path; read it literally.
            regex = re.compile(prefix + re.escape(line), re.DOTALL)
        rules.append(_Rule(regex, negated, dir_only, base))
    return rules


def _translate(glob: str) -> str:
    """A regex for a glob where ``*`` and ``?`` stay within a path segment and ``**`` does not."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")  # zero or more whole directories
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[" and (close := glob.find("]", i + 2)) != -1:
            members = glob[i + 1 : close].replace("\\", "\\\\")
            if members[0] == "!":
                members = "^" + members[1:]
            elif members[0] == "^":
                members = "\\" + members
            out.append(f"[{members}]")
            i = close + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)
