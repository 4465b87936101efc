"""Tests for finding files (globs, .ragkitignore) and the file size cap."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from ragkit._errors import LoadError
from ragkit.ingest import MAX_FILE_BYTES, iter_files, load

from .helpers import assert_load_error

TREE = [
    "a.md",
    "report.pdf",
    "Upper.PDF",
    "page.html",
    "letter.docx",
    "notes.tmp.md",
    "drafts/x.md",
    "drafts/sub/y.pdf",
    "notes/keep.md",
    "notes/old.md",
    "notes/deep/a.md",
    "sub/a.md",
    "sub/drafts/z.md",
    "deep/a/b/c.pdf",
    "image.png",
    ".hidden/h.md",
]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in TREE:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return tmp_path


def walk(root: Path, **filters: list[str] | str) -> list[str]:
    return [p.relative_to(root).as_posix() for p in iter_files([root], **filters)]  # type: ignore[arg-type]


def test_walk_without_filters_is_sorted(tree: Path) -> None:
    # Sorted by path components: a folder's files stay together.
    expected = sorted(Path(n) for n in TREE if not n.startswith(".") and n != "image.png")
    assert walk(tree) == [p.as_posix() for p in expected]
    found = walk(tree)
    assert found.index("notes/old.md") + 1 == found.index("notes.tmp.md")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"include": ["*.pdf"]}, ["deep/a/b/c.pdf", "drafts/sub/y.pdf", "report.pdf"]),
        ({"include": "*.pdf"}, ["deep/a/b/c.pdf", "drafts/sub/y.pdf", "report.pdf"]),  # one pattern
        (
            {"include": ["*.[Pp][Dd][Ff]"], "exclude": ["drafts/**"]},
            ["Upper.PDF", "deep/a/b/c.pdf", "report.pdf"],
        ),
        ({"include": ["notes/"]}, ["notes/deep/a.md", "notes/keep.md", "notes/old.md"]),
        ({"include": ["notes/*.md"]}, ["notes/keep.md", "notes/old.md"]),  # * stays in one segment
        ({"include": ["notes/**"]}, ["notes/deep/a.md", "notes/keep.md", "notes/old.md"]),
        ({"include": ["**/a.md"]}, ["a.md", "notes/deep/a.md", "sub/a.md"]),
        ({"include": ["/a.md"]}, ["a.md"]),  # a leading / anchors to the walked folder
        (
            {"include": ["*.md", "!notes/**"], "exclude": ["*.tmp.md", "drafts"]},
            ["a.md", "sub/a.md"],
        ),
        ({"include": ["deep/**/*.pdf"]}, ["deep/a/b/c.pdf"]),
        (
            {"include": ["?.md"]},
            ["a.md", "drafts/x.md", "notes/deep/a.md", "sub/a.md", "sub/drafts/z.md"],
        ),
        ({"include": ["[!a].md"]}, ["drafts/x.md", "sub/drafts/z.md"]),
        ({"include": ["[z-a]"]}, []),  # an invalid range is read literally
    ],
)
def test_include_patterns(tree: Path, filters: dict[str, list[str]], expected: list[str]) -> None:
    assert walk(tree, **filters) == expected


def test_exclude_patterns(tree: Path) -> None:
    everything = walk(tree)
    # "drafts/**" is anchored (it has a "/"); "drafts" alone matches the folder at any depth.
    assert walk(tree, exclude=["drafts/**", "*.tmp.md"]) == [
        p for p in everything if not p.startswith("drafts/") and p != "notes.tmp.md"
    ]
    assert walk(tree, exclude=["drafts"]) == [p for p in everything if "drafts/" not in p]
    assert walk(tree, exclude=["*.md", "!keep.md"]) == [
        p for p in everything if not p.endswith(".md") or p == "notes/keep.md"
    ]
    # A trailing "/" matches only directories.
    (tree / "docs").write_text("a file named docs")
    assert walk(tree, exclude=["a.md/", "notes/"]) == [
        p for p in everything if not p.startswith("notes/")
    ]


def test_ragkitignore_files(tree: Path) -> None:
    (tree / ".ragkitignore").write_text(
        "# comments and blank lines are skipped\n\n*.tmp.md\ndrafts/\n/report.pdf\n"
        "*.docx  \n!letter.docx\n\\#odd.md\n"
    )
    (tree / "#odd.md").write_text("odd")
    (tree / "notes" / ".ragkitignore").write_text("old.md\n/deep\n")
    (tree / "sub" / ".ragkitignore").write_bytes(b"\xef\xbb\xbfa.md\n")  # with a BOM
    assert walk(tree) == [
        "Upper.PDF",
        "a.md",
        "deep/a/b/c.pdf",
        "letter.docx",
        "notes/keep.md",
        "page.html",
    ]
    # Filters given to the call apply on top of the ignore files.
    assert walk(tree, include=["*.md"], exclude=["keep.md"]) == ["a.md"]


def test_ragkitignore_negation_cannot_reach_into_an_ignored_folder(tree: Path) -> None:
    (tree / ".ragkitignore").write_text("drafts/\n!drafts/x.md\n")
    assert "drafts/x.md" not in walk(tree)


def test_unreadable_ragkitignore_is_load_error(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ignore = tree / "notes" / ".ragkitignore"
    ignore.write_text("old.md\n")
    read_bytes = Path.read_bytes

    def refuse(path: Path) -> bytes:
        if path.name == ".ragkitignore":
            raise PermissionError(13, "Permission denied")
        return read_bytes(path)

    # Patched rather than chmod-ed, which root (as in CI containers) ignores.
    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(LoadError) as caught:
        walk(tree)
    assert caught.value.path == str(ignore)
    assert caught.value.reason == "cannot read ignore file: Permission denied"


def test_named_files_bypass_filters(tree: Path) -> None:
    named = tree / "notes.tmp.md"
    (tree / ".ragkitignore").write_text("*.tmp.md\n")
    assert list(iter_files([named], exclude=["*.md"])) == [named]


def test_special_files_are_skipped_and_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    (tmp_path / "real.txt").write_text("real")
    assert walk(tmp_path) == ["real.txt"]
    assert_load_error(fifo, "not a regular file")  # and does not wait for a writer


@pytest.mark.parametrize(("size", "stated"), [(200_000_000, "190.8 MB"), (1 << 30, "1024 MB")])
def test_huge_file_is_refused_unread(tmp_path: Path, size: int, stated: str) -> None:
    path = tmp_path / "huge.txt"
    with open(path, "wb") as stream:
        stream.truncate(size)  # sparse: costs no disk
    tracemalloc.start()
    try:
        error = assert_load_error(
            path, f"file is {stated}, over the 64 MB limit; raise max_file_bytes to index it"
        )
        assert tracemalloc.get_traced_memory()[1] < 1 << 20
    finally:
        tracemalloc.stop()
    assert MAX_FILE_BYTES == 64 << 20 and error.path == str(path)


def test_max_file_bytes_can_be_raised_or_lowered(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("word " * 1000)
    with pytest.raises(LoadError, match=r"file is 5 KB, over the 4 KB limit; raise max_file_bytes"):
        load(path, max_file_bytes=4096)
    assert load(path, max_file_bytes=5000).size == 5000
    just_over = tmp_path / "over.txt"
    with open(just_over, "wb") as stream:
        stream.truncate(MAX_FILE_BYTES + 1)
    assert_load_error(just_over, "file is 64.1 MB, over the 64 MB limit")
