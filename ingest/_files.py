"""Finding the files to ingest: folder walks with glob filters and ``.ragkitignore`` files."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ragkit._errors import LoadError

from ._load import SUPPORTED_SUFFIXES

IGNORE_FILE = ".ragkitignore"


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
) -> Iterator[Path]:
    """Yield the files to ingest from files and directories, each file once.

    A file named directly is yielded whatever its suffix or the filters (``load`` then says
    if the type is unsupported). A directory is walked recursively in sorted order, skipping
    hidden entries (names starting with "."), files whose suffix is not supported, and what
    the filters leave out; symlinked directories are not followed, so a link cycle cannot
    loop.

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
    :class:`LoadError` ("no such file or directory") instead of after a long batch; an
    unreadable ``.ragkitignore`` also raises :class:`LoadError`.
    """
    roots = [Path(p) for p in paths]
    for root in roots:
        if not root.exists():
            raise LoadError(root, "no such file or directory")
    includes = _rules(_patterns(include), "")
    excludes = _rules(_patterns(exclude), "")
    return _walk(roots, includes, excludes)


def _patterns(given: Iterable[str] | None) -> list[str]:
    # A lone string is one pattern, not a sequence of one-character patterns ("*", ...).
    return [given] if isinstance(given, str) else list(given or ())


def _walk(roots: list[Path], includes: list[_Rule], excludes: list[_Rule]) -> Iterator[Path]:
    seen: set[Path] = set()
    for root in roots:
        for path in _files_under(root, includes, excludes) if root.is_dir() else [root]:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                yield path


def _files_under(root: Path, includes: list[_Rule], excludes: list[_Rule]) -> list[Path]:
    found: list[Path] = []
    # (directory, its path relative to root with a trailing "/", the ignore rules in force)
    pending: list[tuple[Path, str, list[_Rule]]] = [(root, "", [])]
    while pending:
        directory, rel_dir, ignored = pending.pop()
        ignored = ignored + _ignore_file_rules(directory, rel_dir)
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue  # an unreadable folder is skipped, as os.walk does
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = rel_dir + entry.name
            if entry.is_dir(follow_symlinks=False):
                if not _verdict(ignored, rel, True) and not _verdict(excludes, rel, True):
                    pending.append((Path(entry.path), rel + "/", ignored))
            elif (
                entry.is_file()
                and Path(entry.name).suffix.lower() in SUPPORTED_SUFFIXES
                and not _verdict(ignored, rel, False)
                and not _verdict(excludes, rel, False)
                and (not includes or _included(includes, rel))
            ):
                found.append(Path(entry.path))
    return sorted(found)


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
