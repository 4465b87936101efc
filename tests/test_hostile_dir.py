"""A folder walk never stops on one entry: names that are not UTF-8, link loops, broken
links, pipes, sockets and devices are each listed among the failed with a reason, and every
good file beside them is indexed. A pipe is never opened, so nothing waits on it."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Assistant, Config, IngestReport, LoadError
from ragkit.cli import main
from ragkit.ingest import file_sha256

GOOD = {
    "good.txt": "The clinic opens at nine in the morning on weekdays.",
    "notes.md": "# Notes\n\nThe lease deposit is nineteen thousand dollars.",
    "nested/deep.txt": "Deep in the folder tree lies the archive policy.",
}
ROOT_ONLY = os.geteuid() == 0  # root reads a chmod 000 file anyway


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A folder of good files and every kind of bad entry; yields it and, for each bad
    entry (its path relative to the folder, undecodable bytes written \\xNN), a part of the
    reason it must be listed with."""
    folder = tmp_path / "docs"
    (folder / "nested").mkdir(parents=True)
    for name, text in GOOD.items():
        (folder / name).write_text(text)
    bad: dict[str, str] = {}
    raw = os.fsencode(folder)
    # A file and a folder whose names are not UTF-8 (old Windows or Samba shares).
    with open(raw + b"/bad\xff\xfename.txt", "wb") as stream:
        stream.write(b"A file with an undecodable name.")
    bad["bad\\xff\\xfename.txt"] = "not valid UTF-8"
    os.mkdir(raw + b"/dir\xe9")
    with open(raw + b"/dir\xe9/inside.txt", "wb") as stream:
        stream.write(b"A file in a folder with an undecodable name.")
    bad["dir\\xe9"] = "not valid UTF-8"
    # Link loops: a file link to itself, two links to each other, folder links upwards.
    os.symlink("loop.txt", folder / "loop.txt")
    os.symlink("ping.txt", folder / "pong.txt")
    os.symlink("pong.txt", folder / "ping.txt")
    os.symlink(".", folder / "self")
    os.symlink("..", folder / "nested" / "up")
    bad |= {"loop.txt": "loop", "ping.txt": "loop", "pong.txt": "loop"}
    bad |= {"self": "loop", "nested/up": "loop"}
    os.symlink("missing.txt", folder / "broken.txt")
    bad["broken.txt"] = "broken symbolic link"
    # A named pipe, a socket and devices: known by their mode, never opened.
    os.mkfifo(folder / "pipe.txt")
    bad["pipe.txt"] = "named pipe"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock.txt"))
    bad["sock.txt"] = "socket"
    os.symlink("/dev/zero", folder / "zero.txt")
    bad["zero.txt"] = "device"
    try:
        os.mknod(folder / "null.md", 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # as /dev/null
        bad["null.md"] = "device"
    except (PermissionError, AttributeError):
        pass  # no CAP_MKNOD here: the link to /dev/zero stands for devices
    if not ROOT_ONLY:
        (folder / "locked.txt").write_text("Nobody may read this.")
        (folder / "locked.txt").chmod(0)
        bad["locked.txt"] = "permission denied"
        (folder / "closed").mkdir()
        (folder / "closed" / "hidden.txt").write_text("Behind a closed folder.")
        (folder / "closed").chmod(0)
        bad["closed"] = "cannot read folder"
    try:
        yield folder, bad
    finally:
        sock.close()
        for locked in ("locked.txt", "closed"):
            if (folder / locked).exists():
                (folder / locked).chmod(0o700)


def _listed(report: IngestReport, folder: Path) -> dict[str, str]:
    prefix = str(folder.resolve()) + "/"
    # Failure paths are the walk's (unresolved) paths or, from parsing, resolved ones.
    shown = {}
    for f in report.failed:
        for start in (prefix, str(folder) + "/"):
            if f.path.startswith(start):
                shown[f.path.removeprefix(start)] = f.reason
                break
        else:
            shown[f.path] = f.reason
    return shown


def test_every_good_file_is_indexed_and_every_bad_entry_listed(
    hostile: tuple[Path, dict[str, str]], tmp_path: Path, config: Config
) -> None:
    folder, bad = hostile
    with Assistant(tmp_path / "i.db", config) as kb:
        report = kb.add(folder)
        indexed = sorted(Path(p).relative_to(folder.resolve()).as_posix() for p in report.added)
        assert indexed == sorted(GOOD)
        listed = _listed(report, folder)
        assert set(listed) == set(bad), listed
        for name, part in bad.items():
            assert part in listed[name], (name, listed[name])
        # Every failure can be printed and stored: no lone surrogates left in it.
        for failure in report.failed:
            failure.path.encode("utf-8")
        assert report.ok and len(kb.documents()) == len(GOOD)
        # Again: the good files are unchanged, the bad ones listed again, nothing stops.
        again = kb.add(folder)
        assert len(again.unchanged) == len(GOOD) and set(_listed(again, folder)) == set(bad)
        # Named directly, each is listed too, its name escaped.
        named = [folder / "loop.txt", folder / "pipe.txt", folder / "broken.txt"]
        named += [
            Path(os.fsdecode(os.fsencode(folder) + n))
            for n in (b"/bad\xff\xfename.txt", b"/dir\xe9")
        ]
        direct = kb.add([*named, folder / "good.txt"])
        assert len(direct.unchanged) == 1 and len(direct.failed) == len(named)
        for failure, path in zip(
            direct.failed,
            ["loop.txt", "pipe.txt", "broken.txt", "bad\\xff\\xfename.txt", "dir\\xe9"],
            strict=True,
        ):
            assert failure.path == f"{folder}/{path}" and bad[path] in failure.reason


def test_the_cli_lists_bad_entries_escaped(
    hostile: tuple[Path, dict[str, str]], tmp_path: Path, home: Path
) -> None:
    folder, bad = hostile
    result = CliRunner().invoke(
        main,
        ["--home", str(home), "--db", str(tmp_path / "i.db"), "ingest", str(folder)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert f"3 added, 0 updated, 0 unchanged, {len(bad)} failed" in result.output
    assert "bad\\xff\\xfename.txt: file name is not valid UTF-8" in result.output
    assert "pipe.txt: not a regular file: a named pipe" in result.output


def _within(seconds: float, call: Callable[[], object], fifo: Path) -> object:
    """``call()``'s result, failing if it takes longer than ``seconds`` (then a writer is
    opened on ``fifo`` so that a reader stuck on it returns and the thread ends)."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["result"] = call()
        except BaseException as error:  # handed to the test below
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        with contextlib.suppress(OSError):  # release the blocked reader
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
        pytest.fail(f"still waiting on the named pipe {fifo} after {seconds} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome.get("result")


def test_an_indexed_file_replaced_by_a_pipe_is_never_waited_on(
    tmp_path: Path, config: Config
) -> None:
    path = tmp_path / "later.txt"
    path.write_text("This note is indexed, then replaced by a named pipe.")
    with Assistant(tmp_path / "i.db", config) as kb:
        assert kb.add(path).added
        path.unlink()
        os.mkfifo(path)
        # The unchanged-file hash refuses it unopened...
        with pytest.raises(LoadError, match="not a regular file"):
            _within(30, lambda: file_sha256(path), path)
        # ...and so does the whole ingest, naming it directly.
        report = _within(60, lambda: kb.add(path), path)
    assert isinstance(report, IngestReport)
    assert [(f.path, f.reason) for f in report.failed] == [
        (str(path), "not a regular file: a named pipe (FIFO); never opened")
    ]
