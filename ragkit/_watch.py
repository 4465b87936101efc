"""Watching folders: the index kept in step with them as their files change.

Filesystem events (watchdog: inotify on Linux) only say which paths to look at again; what
is indexed, skipped or pruned there is decided by the walk and ingest of
:meth:`Assistant.add`, narrowed to those paths, so a watch and an ``add`` never disagree.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from ragkit import ingest
from ragkit._errors import ConfigError, LoadError
from ragkit._types import IngestFailure, IngestReport

__all__ = ["watch_folders"]

Sync = Callable[[Collection[str] | None], IngestReport]
"""``sync(within)``: :meth:`Assistant.add` of the watched folders with ``prune``, narrowed to
the paths ``within`` (``None``: all of it)."""

# While changes keep coming, a pass still runs this many debounce periods after the first
# of them, so a folder written to without a pause is indexed all the same.
MAX_WAIT = 10
# The shortest sleep between looks for changes, so that ``debounce=0`` does not spin.
_TICK = 0.05
# Opening, reading and attribute changes (a read updates the access time) are left out: a
# pass reads the files it indexes, and must not set off the next pass.
_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,
]


def watch_folders(
    folders: list[Path],
    sync: Sync,
    *,
    own_files: Collection[Path],
    debounce: float,
    on_report: Callable[[IngestReport], None] | None,
    stop: threading.Event | None,
) -> None:
    """Run :meth:`Assistant.watch` on ``folders`` (absolute, resolved); ``own_files`` are
    the index's files, whose changes are the passes' own writes."""
    if not debounce >= 0:  # NaN too
        raise ConfigError(f"debounce is {debounce} s; it must be 0 or more seconds.")
    for folder in folders:
        if not folder.is_dir():
            exists = folder.exists()
            reason = "not a folder; watch the folder that holds it" if exists else "no such folder"
            raise LoadError(ingest.printable_path(folder), reason)
    report_to = on_report or _unreported
    stop = stop or threading.Event()
    changes = _Changes(folders, own_files)
    # Watching starts before the first pass, so nothing changed during it goes unseen.
    observer, warnings = _observe(folders, changes, poll=max(debounce, 1.0))
    try:
        report = sync(None)
        report.warnings[:0] = warnings
        report_to(report)
        while not stop.is_set():
            due = changes.due(debounce)
            wait = max(debounce, _TICK) if due is None else due - time.monotonic()
            if wait > 0:
                stop.wait(wait)
                continue
            report = sync(changes.take())
            if _news(report):
                report_to(report)
    finally:
        _shut(observer)


def _unreported(report: IngestReport) -> None:
    pass


def _news(report: IngestReport) -> bool:
    """Whether a pass found more than unchanged files (a file saved as it was, or touched)."""
    return bool(
        report.added
        or report.updated
        or report.removed
        or report.failed
        or report.skipped
        or report.warnings
    )


class _Changes(FileSystemEventHandler):
    """The paths filesystem events touched since the last pass, and when the events came.

    Called on watchdog's thread; the watch loop reads it on its own."""

    def __init__(self, folders: list[Path], own_files: Collection[Path]) -> None:
        self._prefixes = [os.path.join(folder, "") for folder in folders]
        # Events name paths under the resolved folders; so must the index's files.
        self._own = {str(p.parent.resolve() / p.name) for p in own_files}
        self._lock = threading.Lock()
        self._paths: set[str] = set()
        self._first = self._last = 0.0

    def on_any_event(self, event: FileSystemEvent) -> None:
        touched = {
            scope
            for path in (event.src_path, event.dest_path)
            if path and (scope := self._scope(os.fsdecode(path))) is not None
        }
        if not touched:
            return
        now = time.monotonic()
        with self._lock:
            if not self._paths:
                self._first = now
            self._paths |= touched
            self._last = now

    def _scope(self, path: str) -> str | None:
        """What a pass must look at again after a change at ``path``: the path itself, or
        the folder of a changed ``.ragkitignore`` (its rules apply to all of it); ``None``
        for the index's own files and for hidden entries, which no pass indexes."""
        if path in self._own:
            return None
        prefix = next((p for p in self._prefixes if os.path.join(path, "").startswith(p)), None)
        if prefix is None:  # the far end of a move out of the folders
            return None
        parts = path[len(prefix) :].split(os.sep) if len(path) > len(prefix) else []
        if parts and parts[-1] == ingest.IGNORE_FILE:
            path, parts = os.path.dirname(path), parts[:-1]
        return None if any(part.startswith(".") for part in parts) else path

    def due(self, debounce: float) -> float | None:
        """When the changes seen so far are to be indexed (``time.monotonic``), or ``None``."""
        with self._lock:
            if not self._paths:
                return None
            return min(self._last + debounce, self._first + MAX_WAIT * debounce)

    def take(self) -> list[str]:
        """The paths changed since the last call."""
        with self._lock:
            paths, self._paths = self._paths, set()
        return sorted(paths)


def _observe(
    folders: list[Path], handler: _Changes, *, poll: float
) -> tuple[BaseObserver, list[IngestFailure]]:
    """An observer of ``folders`` that is running: the system's (inotify) where it can watch
    every folder in them, else one that polls them every ``poll`` seconds, with a warning."""
    watched_before = _inotify_watches()
    folder_count = sum(1 for folder in folders for _ in os.walk(folder))
    try:
        observer = _started(Observer(), folders, handler)
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EMFILE):
            raise LoadError(
                ", ".join(ingest.printable_path(f) for f in folders),
                f"cannot watch: {error.strerror or error}",
            ) from error
        limit = "max_user_instances" if error.errno == errno.EMFILE else "max_user_watches"
    else:
        watched = _inotify_watches()
        # watchdog leaves a subfolder it could not watch unwatched without a word; the count
        # of the process's inotify watches is the only sign of it.
        if watched is None or watched_before is None or watched - watched_before >= folder_count:
            return observer, []
        _shut(observer)
        limit = "max_user_watches"
    warning = IngestFailure(
        path=", ".join(ingest.printable_path(f) for f in folders),
        reason=(
            f"the system's inotify limit (fs.inotify.{limit}) is too low to watch these "
            f"{folder_count:,} folders, so they are polled every {poll:g} s instead (slower "
            f"to notice changes, and busier); raise fs.inotify.{limit} (sysctl) to watch them "
            "as they change"
        ),
    )
    return _started(PollingObserver(timeout=poll), folders, handler), [warning]


def _started(observer: BaseObserver, folders: list[Path], handler: _Changes) -> BaseObserver:
    for folder in folders:
        observer.schedule(handler, folder, recursive=True, event_filter=_EVENTS)
    try:
        observer.start()
    except BaseException:
        _shut(observer)  # its own threads (inotify's reader) run from its construction
        raise
    return observer


def _shut(observer: BaseObserver) -> None:
    observer.stop()
    if observer.is_alive():
        observer.join()


def _inotify_watches() -> int | None:
    """How many inotify watches this process holds (``None`` where /proc cannot tell)."""
    total = 0
    try:
        descriptors = os.listdir("/proc/self/fd")
    except OSError:
        return None
    for fd in descriptors:
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as info:
                total += sum(line.startswith("inotify wd:") for line in info)
        except OSError:
            continue  # closed since the listing
    return total
