"""Watching folders (Assistant.watch, `ragkit watch`): every change is indexed by the same
rules as `add`, the index's own writes set off nothing, and stopping is prompt and clean."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ragkit import Assistant, Config, ConfigError, IngestReport, LoadError, TextEncoder
from ragkit.ingest import SUPPORTED_SUFFIXES

DEBOUNCE = 0.2
# Only hang guards: every wait ends as soon as what it waits for has happened.
TIMEOUT = 30.0


class Watching:
    """An Assistant watching ``folders`` on a thread, and the reports of its passes."""

    def __init__(self, kb: Assistant, folders: list[Path], **options: object) -> None:
        self.reports: list[IngestReport] = []
        self.stop = threading.Event()
        self.error: Exception | None = None

        def run() -> None:
            try:
                kb.watch(
                    folders,
                    debounce=DEBOUNCE,
                    on_report=self.reports.append,
                    stop=self.stop,
                    **options,
                )
            except Exception as exc:
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def until(self, what: Callable[[], object], timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            assert self.error is None, self.error
            assert time.monotonic() < deadline, "the watch did not get there in time"
            time.sleep(0.02)

    def reported(self, field: str, path: Path) -> bool:
        """Whether a report lists ``path`` under ``field`` (a list of paths or failures)."""
        return any(
            str(path) in (getattr(item, "path", item) for item in getattr(report, field))
            for report in list(self.reports)
        )

    def close(self) -> float:
        """Stop watching; how long it took."""
        started = time.monotonic()
        self.stop.set()
        self.thread.join(timeout=TIMEOUT)
        assert not self.thread.is_alive(), "the watch did not stop"
        assert self.error is None, self.error
        return time.monotonic() - started


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "docs"
    path.mkdir()
    (path / "first.txt").write_text("The clinic opens at nine in the morning.\n")
    return path.resolve()


@pytest.fixture
def watcher(
    tmp_path: Path, folder: Path, config: Config, encoder: TextEncoder
) -> Iterator[Callable[..., Watching]]:
    """``watcher(db=..., **options)``: an Assistant watching ``folder``, stopped afterwards;
    it has made its first pass when it is returned."""
    started: list[Watching] = []

    def start(db: Path | None = None, **options: object) -> Watching:
        kb = Assistant(db or tmp_path / "index.db", config, encoder=encoder)
        watching = Watching(kb, [folder], **options)
        started.append(watching)
        watching.until(lambda: watching.reports)
        return watching

    yield start
    for watching in started:
        watching.close()


def _paths(db: Path, config: Config) -> list[str]:
    """The indexed documents, read through a connection of their own."""
    with Assistant(db, config) as reader:
        return [d.path for d in reader.documents()]


def test_created_changed_moved_and_deleted_files_are_followed(
    tmp_path: Path, folder: Path, config: Config, watcher: Callable[..., Watching]
) -> None:
    db = tmp_path / "index.db"
    watching = watcher()
    assert watching.reported("added", folder / "first.txt")

    note = folder / "notes" / "fees.md"
    note.parent.mkdir()
    note.write_text("# Fees\n\nA consultation costs forty euros.\n")
    watching.until(lambda: str(note) in _paths(db, config))

    note.write_text("# Fees\n\nA consultation costs fifty euros.\n")
    watching.until(lambda: watching.reported("updated", note))

    moved = folder / "fees-2026.md"
    note.rename(moved)
    watching.until(lambda: watching.reported("removed", note))
    watching.until(lambda: str(moved) in _paths(db, config))

    moved.unlink()
    watching.until(lambda: watching.reported("removed", moved))
    assert _paths(db, config) == [str(folder / "first.txt")]


def test_a_changed_ragkitignore_prunes_what_it_now_excludes(
    tmp_path: Path, folder: Path, config: Config, watcher: Callable[..., Watching]
) -> None:
    draft = folder / "drafts" / "plan.txt"
    draft.parent.mkdir()
    draft.write_text("The new wing opens in spring.\n")
    watching = watcher()
    assert watching.reported("added", draft)

    (folder / ".ragkitignore").write_text("drafts/\n")
    watching.until(lambda: watching.reported("removed", draft))
    assert _paths(tmp_path / "index.db", config) == [str(folder / "first.txt")]


def test_unsupported_and_broken_files_are_reported_and_watching_goes_on(
    tmp_path: Path, folder: Path, config: Config, watcher: Callable[..., Watching]
) -> None:
    watching = watcher()
    table = folder / "prices.numbers"  # a spreadsheet ragkit does not read
    assert table.suffix not in SUPPORTED_SUFFIXES
    table.write_bytes(b"PK\x03\x04 not read")
    broken = folder / "scan.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ntruncated")
    watching.until(lambda: watching.reported("skipped", table))
    watching.until(lambda: watching.reported("failed", broken))

    later = folder / "later.txt"
    later.write_text("Parking is free for patients.\n")
    watching.until(lambda: str(later) in _paths(tmp_path / "index.db", config))


def test_filters_and_labels_apply_to_every_pass(
    tmp_path: Path, folder: Path, config: Config, watcher: Callable[..., Watching]
) -> None:
    watching = watcher(exclude=["*.draft.txt"], collection="clinic", tags=["front-desk"])
    (folder / "hours.draft.txt").write_text("Not final.\n")
    hours = folder / "hours.txt"
    hours.write_text("Saturday hours are nine to noon.\n")
    watching.until(lambda: watching.reported("added", hours))
    with Assistant(tmp_path / "index.db", config) as reader:
        docs = {Path(d.path).name: d for d in reader.documents()}
    assert set(docs) == {"first.txt", "hours.txt"}
    assert docs["hours.txt"].collection == "clinic" and docs["hours.txt"].tags == ("front-desk",)


def test_the_index_own_writes_and_hidden_files_set_off_no_pass(
    folder: Path, watcher: Callable[..., Watching], monkeypatch: pytest.MonkeyPatch
) -> None:
    passes: list[object] = []
    add = Assistant._add

    def counted(self: Assistant, *args: object, **kwargs: object) -> IngestReport:
        passes.append(kwargs.get("within"))
        return add(self, *args, **kwargs)

    monkeypatch.setattr(Assistant, "_add", counted)
    # The index lives in the watched folder: its writes must not count as changes.
    watching = watcher(db=folder / "index.db")
    new = folder / "new.txt"
    new.write_text("The lab closes early on Fridays.\n")
    watching.until(lambda: watching.reported("added", new))
    settled = len(passes)
    (folder / ".notes.txt.swp").write_text("an editor's swap file")
    time.sleep(10 * DEBOUNCE)  # any pass the writes set off would have started by now
    assert len(passes) == settled, passes[settled:]


def test_an_index_in_the_folder_it_indexes_is_not_reported_as_left_out(
    folder: Path, config: Config, encoder: TextEncoder
) -> None:
    with Assistant(folder / "index.db", config, encoder=encoder) as kb:
        kb.add(folder)
        report = kb.add(folder)
    assert report.unchanged == [str(folder / "first.txt")] and not report.skipped


def test_excluded_files_are_not_reported(folder: Path, watcher: Callable[..., Watching]) -> None:
    watching = watcher(exclude=["build/", "*.log"])
    (folder / "build").mkdir()
    (folder / "build" / "out.txt").write_text("generated")
    (folder / "server.log").write_text("started")
    shown = len(watching.reports)
    marker = folder / "marker.txt"
    marker.write_text("Written after the excluded files.\n")
    watching.until(lambda: watching.reported("added", marker))
    assert all(
        r.added == [str(marker)] and not (r.skipped or r.failed) for r in watching.reports[shown:]
    )


def test_stopping_is_prompt(watcher: Callable[..., Watching]) -> None:
    watching = watcher()
    assert watching.close() < 2.0


def test_a_folder_that_is_missing_or_a_file_is_a_load_error(
    tmp_path: Path, folder: Path, config: Config
) -> None:
    kb = Assistant(tmp_path / "index.db", config)
    missing = tmp_path / "nowhere"
    with pytest.raises(LoadError, match=re.escape(str(missing)) + ".*no such folder"):
        kb.watch(missing)
    with pytest.raises(LoadError, match="not a folder"):
        kb.watch([folder, folder / "first.txt"])
    with pytest.raises(ConfigError, match="debounce"):
        kb.watch(folder, debounce=-1)
    assert not (tmp_path / "index.db").exists()


# Runs in a user namespace of its own, whose inotify watch limit can be lowered without
# touching the machine's; prints each report as a JSON line, stops when stdin closes.
LIMITED = """
import json, sys, threading
from pathlib import Path
from ragkit import Assistant

def on_report(report):
    warnings = [w.reason for w in report.warnings]
    print(json.dumps({"added": report.added, "warnings": warnings}), flush=True)

stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
Assistant(sys.argv[2]).watch(sys.argv[1], debounce=0.2, on_report=on_report, stop=stop)
"""


LOWERED = 'echo {limit} > /proc/sys/user/max_inotify_watches && exec "$0" "$@"'


def _limit_can_be_lowered() -> bool:
    try:
        lower = ["unshare", "-Ur", "sh", "-c", LOWERED.format(limit=1), "true"]
        return subprocess.run(lower, check=False, capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.mark.skipif(not _limit_can_be_lowered(), reason="needs unprivileged user namespaces")
@pytest.mark.parametrize(
    "limit",
    [0, 3],  # 0: watchdog raises; 3: it watches 3 of the 5 folders and says nothing
)
def test_over_the_inotify_watch_limit_the_folders_are_polled(
    tmp_path: Path, home: Path, limit: int
) -> None:
    folder = tmp_path / "docs"
    deep = folder / "a" / "b" / "c" / "deep.txt"
    deep.parent.mkdir(parents=True)
    (folder / "d").mkdir()
    (folder / "first.txt").write_text("The clinic opens at nine.\n")
    script = [sys.executable, "-c", LIMITED, str(folder), str(tmp_path / "i.db")]
    with open(tmp_path / "stderr.txt", "w+") as stderr:
        proc = subprocess.Popen(
            ["unshare", "-Ur", "sh", "-c", LOWERED.format(limit=limit), *script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "RAGKIT_HOME": str(home)},
        )
        assert proc.stdin and proc.stdout
        guard = threading.Timer(TIMEOUT, proc.kill)  # a hang guard only
        guard.start()
        try:
            first = json.loads(proc.stdout.readline() or "null")
            assert first, (tmp_path / "stderr.txt").read_text()
            (warning,) = first["warnings"]
            assert "5 folders" in warning and "raise fs.inotify.max_user_watches" in warning
            deep.write_text("Deep in the tree, where no watch reached.\n")
            assert json.loads(proc.stdout.readline())["added"] == [str(deep)]
            proc.stdin.close()
            assert proc.wait() == 0, (tmp_path / "stderr.txt").read_text()
        finally:
            guard.cancel()
            proc.kill()
            proc.stdout.close()


# `ragkit watch` as started from a terminal, whatever started this test: a shell without job
# control starts background commands with SIGINT ignored, a child inherits that, and Python
# then leaves it ignored (a suite run as `make test &` saw the watcher sleep through Ctrl-C).
CTRL_C_DEFAULT = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'ragkit'; runpy.run_module('ragkit.cli', run_name='__main__')"
)


def test_the_cli_prints_a_line_per_pass_and_stops_on_ctrl_c(tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "first.txt").write_text("The clinic opens at nine.\n")
    watch = ["watch", str(folder), "--debounce", str(DEBOUNCE)]
    with open(tmp_path / "stderr.txt", "w") as stderr_file:
        proc = subprocess.Popen(
            [sys.executable, "-c", CTRL_C_DEFAULT, "--db", str(tmp_path / "i.db"), *watch],
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            # A SIGABRT then prints every thread's stack (see below).
            env={**os.environ, "RAGKIT_HOME": str(home), "PYTHONFAULTHANDLER": "1"},
        )
    assert proc.stdout
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()])
    reader.start()
    summary = r"\d\d:\d\d:\d\d (\d+) added, 0 updated, 0 unchanged, 0 failed, 0 pruned; "
    try:
        first = re.match(summary, lines.get(timeout=TIMEOUT))
        assert first and first[1] == "1"
        (folder / "second.md").write_text("# Parking\n\nParking is free.\n")
        second = re.match(summary, lines.get(timeout=TIMEOUT))
        assert second and second[1] == "1"
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            # Where it waits, should it not stop: every thread's stack.
            proc.send_signal(signal.SIGABRT)
            proc.wait(timeout=TIMEOUT)
            pytest.fail(f"no exit on Ctrl-C:\n{(tmp_path / 'stderr.txt').read_text()}")
    finally:
        proc.kill()
        reader.join()
        proc.stdout.close()
    stderr = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert list(lines.queue) == ["stopped watching\n"]
