"""Fuzz test: load and chunk a generated corpus of hundreds of malformed files.

Every file must either load and chunk, or raise LoadError with a short, readable reason;
no other exception, no file over the time limit, and every valid file loads. The corpus is
seeded: set RAGKIT_FUZZ_SEED to explore other corpora.
"""

from __future__ import annotations

import os
import random
import re
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fpdf
import pytest
from tokenizers import Tokenizer

from ragkit._config import DEFAULT_ENCODER
from ragkit._errors import LoadError
from ragkit.ingest import chunk_document, load

from .helpers import HANDBOOK_BODY, document_xml, entity_bomb, make_docx, para, table

SEED = int(os.environ.get("RAGKIT_FUZZ_SEED", "20240611"))
SECONDS_PER_FILE = 10
SUFFIXES = [".txt", ".md", ".markdown", ".pdf", ".html", ".htm", ".docx"]
WORDS = (
    "the clinic keeps records of adult patients for ten years after the last visit while "
    "children's records are kept until they turn twenty five and staff review them yearly"
).split()
# What a reason must not look like: a traceback, an object or bytes repr, a class name.
WEIRD = re.compile(r"Traceback|object at 0x|<class |\\x[0-9a-fA-F]{2}|b'|b\"")


class FileTimeout(Exception):
    """Raised inside a load that has run longer than SECONDS_PER_FILE."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt pure-Python work (pypdf, html.parser) that runs over ``seconds``."""

    def expire(signum: int, frame: object) -> None:
        raise FileTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def sentence(rng: random.Random) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 16)))
    return words[0].upper() + words[1:] + "."


def paragraph(rng: random.Random, n: int = 5) -> str:
    return " ".join(sentence(rng) for _ in range(n))


def make_pdf(rng: random.Random, pages: int, compress: bool, title: str | None) -> bytes:
    pdf = fpdf.FPDF()
    pdf.set_compression(compress)
    if title:
        pdf.set_title(title)
    for _ in range(pages):
        pdf.add_page()
        pdf.set_font(rng.choice(["Helvetica", "Times", "Courier"]), size=rng.choice([10, 12, 14]))
        pdf.multi_cell(0, 7, "\n\n".join(paragraph(rng) for _ in range(rng.randint(1, 3))))
    return bytes(pdf.output())


def make_docx_bytes(tmp: Path, body: str, **parts: object) -> bytes:
    return make_docx(tmp / "scratch.docx", body, **parts).read_bytes()  # type: ignore[arg-type]


def bit_flipped(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 40)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    if rng.random() < 0.3:  # and sometimes a run of garbage
        start = rng.randrange(len(out))
        out[start : start + rng.randint(8, 256)] = rng.randbytes(rng.randint(8, 256))
    return bytes(out)


def build_corpus(root: Path, rng: random.Random) -> list[tuple[str, Path, bool]]:
    """Write the corpus; returns (kind, path, valid) for every file."""
    files: list[tuple[str, Path, bool]] = []

    def add(kind: str, suffix: str, data: bytes | str, valid: bool = False) -> None:
        path = root / f"{len(files):04d}-{kind}{suffix}"
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        files.append((kind, path, valid))

    scratch = root / "scratch"
    scratch.mkdir()
    pdfs = [
        make_pdf(rng, 3, True, "Records policy"),
        make_pdf(rng, 1, False, None),
        make_pdf(rng, 2, False, "Uncompressed"),
        make_pdf(rng, 4, True, None),
    ]
    docxs = [
        make_docx_bytes(scratch, HANDBOOK_BODY, title="Handbook"),
        make_docx_bytes(scratch, "".join(para(paragraph(rng)) for _ in range(20))),
        make_docx_bytes(
            scratch,
            para("Results", "Heading1") + table([[sentence(rng), "10"], ["a", sentence(rng)]] * 5),
        ),
        make_docx_bytes(
            scratch,
            "".join(para(sentence(rng), rng.choice(["Heading2", "", "Title"])) for _ in range(30)),
        ),
    ]
    texts = {
        ".txt": [paragraph(rng, 12), "\n\n".join(paragraph(rng) for _ in range(6))],
        ".md": [f"# Policy\n\n{paragraph(rng)}\n\n## Children\n\n"
                f"- {sentence(rng)}\n- {sentence(rng)}\n"] * 2,
        ".markdown": [f"---\ntitle: Notes\n---\n\n{paragraph(rng)}\n\n```\n# code\n```\n"],
        ".html": [f"<html><head><title>Page</title></head><body><nav>menu</nav><h1>A</h1>"
                  f"<p>{paragraph(rng)}</p>"
                  f"<table><tr><td>x</td><td>{sentence(rng)}</td></tr></table></body></html>"],
        ".htm": [f"<p>{paragraph(rng)}<p>{paragraph(rng)}",
                 f"<article><h2>News</h2>{paragraph(rng)}</article>"],
    }  # fmt: skip
    for data in pdfs:
        add("valid-pdf", ".pdf", data, True)
    for data in docxs:
        add("valid-docx", ".docx", data, True)
    for suffix, samples in texts.items():
        for text in samples:
            add("valid-text", suffix, text, True)
    add("valid-text", ".txt", "\ufeff" + paragraph(rng), True)
    add("valid-text", ".txt", ("\ufeff" + paragraph(rng)).encode("utf-16-le"), True)
    add("valid-text", ".md", f"# Caf\u00e9\n\n{paragraph(rng)} \u20ac5".encode("cp1252"), True)
    add(
        "valid-text",
        ".html",
        f'<meta charset="windows-1252"><p>{paragraph(rng)} \u2013 caf\u00e9</p>'.encode("cp1252"),
        True,
    )

    originals = [(".pdf", data) for data in pdfs] + [(".docx", data) for data in docxs]
    for suffix, data in originals:
        kind = suffix[1:]
        for _ in range(18):
            add(f"truncated-{kind}", suffix, data[: rng.randrange(1, len(data))])
        for _ in range(24):
            add(f"bitflip-{kind}", suffix, bit_flipped(rng, data))
    for suffix in SUFFIXES:
        for _ in range(12):
            add("random-bytes", suffix, rng.randbytes(rng.randint(1, 20_000)))
        add("empty", suffix, b"")
        add("whitespace", suffix, rng.choice([" ", "\n\n\t ", "\r\n" * 50, "\u3000\u00a0 \n"]))
    for _ in range(15):
        header = b"%%PDF-1.%d\n" % rng.randint(0, 7)
        trailer = rng.choice([b"", b"\n%%EOF\n", b"\nstartxref\n0\n%%EOF"])
        add("pdf-header-garbage", ".pdf", header + rng.randbytes(rng.randint(10, 8000)) + trailer)
        add(
            "docx-garbage-xml",
            ".docx",
            make_docx_bytes(scratch, "", document=rng.randbytes(rng.randint(1, 3000))),
        )
    for _ in range(20):
        suffix = rng.choice([".txt", ".md", ".html"])
        good = paragraph(rng).encode()
        bad = bytearray(good)
        for _ in range(rng.randint(1, 30)):
            bad.insert(
                rng.randrange(len(bad)),
                rng.choice([0x80, 0xC0, 0xFF, 0xFE, 0xED, 0xF8, 0x81, 0x9D]),
            )
        add("invalid-utf8", suffix, bytes(bad))
    for _ in range(10):
        encoding = rng.choice(["utf-16-le", "utf-16-be"])
        add("utf16-no-bom", rng.choice([".txt", ".md", ".html"]), paragraph(rng).encode(encoding))
    add("huge-line", ".txt", " ".join(sentence(rng) for _ in range(25_000)))  # about 2 MB, one line
    add("huge-line", ".md", "=" * 500_000)  # 500,000 one-character tokens
    add(
        "huge-line",
        ".html",
        "<p>" + "".join(rng.choice("abcdefghij") for _ in range(1_000_000)) + "</p>",
    )
    add("huge-line", ".txt", "\n" * 200_000 + "x")
    add("deep-html", ".html", "<div>" * 10_000 + "deep text" + "</div>" * 10_000)
    add("deep-html", ".htm", "<span><table><tr><td>" * 3_000 + "cell")
    nested = "<w:sdt><w:sdtContent>" * 5_000 + para("deep") + "</w:sdtContent></w:sdt>" * 5_000
    add("deep-docx", ".docx", make_docx_bytes(scratch, "", document=document_xml(nested)))
    add("zip-bomb", ".docx", make_docx_bytes(scratch, "", document=b" " * (60 << 20)))
    add("entity-bomb", ".docx", make_docx_bytes(scratch, "", document=entity_bomb(10)))
    add("ole-magic", ".docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + rng.randbytes(5000))
    for encoding in [
        "rot13",
        "utf-32",
        "shift_jis",
        "bogus",
        "idna",
        "utf-16",
        "hex",
        "unicode_escape",
        "utf-7",
    ]:
        prolog = f'<?xml version="1.0" encoding="{encoding}"?>'
        add(
            "odd-encoding",
            ".docx",
            make_docx_bytes(scratch, "", document=document_xml(para("x"), prolog)),
        )
        add(
            "odd-encoding",
            ".html",
            f'<meta charset="{encoding}"><p>{paragraph(rng)}</p>'.encode("latin-1"),
        )
    (scratch / "scratch.docx").unlink()
    scratch.rmdir()
    return files


@pytest.fixture(scope="module")
def tokenizer(home: Path) -> Tokenizer:
    """The encoder pack's own tokenizer, as the ingest pipeline uses it."""
    tok = Tokenizer.from_file(str(home / "models" / DEFAULT_ENCODER / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


def test_fuzz_corpus(tmp_path: Path, tokenizer: Tokenizer) -> None:
    rng = random.Random(SEED)
    corpus = build_corpus(tmp_path, rng)
    assert (
        sum(not valid for _, _, valid in corpus) >= 500
        and sum(valid for _, _, valid in corpus) >= 20
    )

    tally: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: Counter[str] = Counter()
    problems: list[str] = []
    slowest = (0.0, "")
    started = time.perf_counter()
    for kind, path, valid in corpus:
        began = time.perf_counter()
        outcome = check_one(path, tokenizer, reasons, problems)
        elapsed = time.perf_counter() - began
        slowest = max(slowest, (elapsed, path.name))
        tally[kind][outcome] += 1
        if valid and outcome != "loaded":
            problems.append(f"{path.name}: a valid file did not load ({outcome})")
    total = time.perf_counter() - started

    print(
        f"\nfuzz corpus, seed {SEED}: {len(corpus)} files in {total:.1f} s; "
        f"slowest {slowest[1]} {slowest[0]:.2f} s"
    )
    for kind in sorted(tally):
        print(
            f"  {kind:20} "
            + ", ".join(f"{outcome} {n}" for outcome, n in sorted(tally[kind].items()))
        )
    print("  reasons: " + "; ".join(f"{reason} ({n})" for reason, n in reasons.most_common()))
    assert not problems, "\n".join(problems)


def check_one(path: Path, tokenizer: Tokenizer, reasons: Counter[str], problems: list[str]) -> str:
    """Load and chunk one file; returns "loaded" or "LoadError", noting any problem."""
    began = time.perf_counter()
    try:
        with time_limit(SECONDS_PER_FILE):
            doc = load(path)
            chunks = chunk_document(doc, tokenizer)
    except LoadError as error:
        reason = error.reason
        if (
            error.path != str(path)
            or not reason
            or not reason.isprintable()
            or len(reason) > 200
            or WEIRD.search(reason)
        ):
            problems.append(f"{path.name}: unhelpful reason {reason!r}")
        reasons[_reason_kind(reason)] += 1
        outcome = "LoadError"
    except FileTimeout:
        problems.append(f"{path.name}: still running after {SECONDS_PER_FILE} s (seed {SEED})")
        return "timeout"
    except Exception as error:
        problems.append(f"{path.name}: {type(error).__name__}: {error}")
        return "crash"
    else:
        if not chunks:
            problems.append(f"{path.name}: loaded but gave no chunks")
        outcome = "loaded"
    if time.perf_counter() - began > SECONDS_PER_FILE:
        problems.append(f"{path.name}: took {time.perf_counter() - began:.1f} s (seed {SEED})")
    return outcome


def _reason_kind(reason: str) -> str:
    # "not a readable PDF: page 2: invalid literal" -> "not a readable PDF"
    return re.split(r": |; ", reason, maxsplit=1)[0]
