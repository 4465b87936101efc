"""Fuzz test: load and chunk a generated corpus of hundreds of malformed files.

Every file must either load and chunk, or raise LoadError with a short, readable reason;
no other exception, no file over the time limit, and every valid file loads. The corpus is
seeded: set RAGKIT_FUZZ_SEED to explore other corpora.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import re
import signal
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import fpdf
import openpyxl
import pytest
from tokenizers import Tokenizer

from ragkit._config import DEFAULT_ENCODER
from ragkit._errors import LoadError
from ragkit.ingest import chunk_document, load

from .helpers import (
    HANDBOOK_BODY,
    REL_TYPE,
    XML_PROLOG,
    document_xml,
    entity_bomb,
    make_docx,
    make_odt,
    make_pptx,
    odt_content,
    para,
    pptx_group,
    pptx_shape,
    pptx_slide,
    pptx_table,
    rels_xml,
    table,
)

SEED = int(os.environ.get("RAGKIT_FUZZ_SEED", "20240611"))
# Catches a hang or a blow-up, not a slow file: a damaged PDF whose pages lost their text
# has them rendered and searched for lines by OCR, and the slowest such file took 9.6 s,
# once 10.5 s, while other jobs loaded the machine.
SECONDS_PER_FILE = 30
SUFFIXES = [".txt", ".md", ".markdown", ".pdf", ".html", ".htm", ".docx", ".odt", ".pptx"]
SUFFIXES += [".eml", ".rtf", ".csv", ".tsv", ".xlsx"]
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
    originals += zip_documents(add, scratch, rng)
    originals += mail_and_table_documents(add, rng)
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


def zip_documents(
    add: Callable[..., None], scratch: Path, rng: random.Random
) -> list[tuple[str, bytes]]:
    """Add valid and hostile .odt and .pptx files; return the valid ones, for the caller to
    truncate and bit-flip as it does the others."""

    def odt(body: str = "", **options: object) -> bytes:
        path = make_odt(scratch / "scratch.odt", body, **options)  # type: ignore[arg-type]
        return path.read_bytes()

    def pptx(slides: list[str], **options: object) -> bytes:
        path = make_pptx(scratch / "scratch.pptx", slides, **options)  # type: ignore[arg-type]
        return path.read_bytes()

    note = (
        '<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation>'
        f"<text:note-body><text:p>{sentence(rng)}</text:p></text:note-body></text:note>"
    )
    cells = "".join(
        f"<table:table-cell><text:p>{text}</text:p></table:table-cell>"
        for text in ("a", sentence(rng))
    )
    headed = "".join(
        f'<text:h text:outline-level="{rng.randint(1, 4)}">{sentence(rng)}</text:h>'
        f"<text:p>{paragraph(rng, 2)}<text:s/><text:tab/>{sentence(rng)}</text:p>"
        for _ in range(15)
    )
    titled = [
        pptx_shape(sentence(rng), placeholder="title") + pptx_shape(paragraph(rng))
        for _ in range(5)
    ]
    valid = [
        (
            ".odt",
            odt(
                f'<text:h text:outline-level="1">Records</text:h><text:p>{paragraph(rng)}{note}'
                f"</text:p><text:list><text:list-item><text:p>{sentence(rng)}</text:p>"
                f"</text:list-item></text:list><table:table><table:table-row>{cells}"
                "</table:table-row></table:table>",
                title="Records",
            ),
        ),
        (".odt", odt("".join(f"<text:p>{paragraph(rng)}</text:p>" for _ in range(20)))),
        (".odt", odt(headed)),
        (
            ".pptx",
            pptx(titled, order=[5, 3, 1, 2, 4], notes={1: paragraph(rng)}, hidden={4}, title="D"),
        ),
        (
            ".pptx",
            pptx([pptx_group(pptx_shape(paragraph(rng)), pptx_table([[sentence(rng), "1"]] * 4))]),
        ),
        (".pptx", pptx([pptx_shape(*(sentence(rng) for _ in range(8))) for _ in range(12)])),
    ]
    for suffix, data in valid:
        add(f"valid-{suffix[1:]}", suffix, data, True)
    lost_notes = {"ppt/notesSlides/notesSlide1.xml": b""}
    add("pptx-lost-notes", ".pptx", pptx(titled, notes={1: "gone"}, parts=lost_notes), True)

    for _ in range(10):
        add("odt-garbage-xml", ".odt", odt(content=rng.randbytes(rng.randint(1, 3000))))
        garbage = {f"ppt/slides/slide{rng.randint(1, 2)}.xml": rng.randbytes(rng.randint(1, 3000))}
        add("pptx-garbage-xml", ".pptx", pptx(["", ""], parts=garbage))
    deck = pptx([pptx_shape("x")])
    for name in (
        "ppt/presentation.xml",
        "ppt/_rels/presentation.xml.rels",
        "ppt/slides/slide1.xml",
    ):
        add("missing-part", ".pptx", without(deck, name))
    add("missing-part", ".odt", without(odt("<text:p>x</text:p>"), "content.xml"))
    add("missing-part", ".pptx", pptx([""], order=[1, 9]))
    outside = rels_xml({"rId2": (f"{REL_TYPE}slide", "../../../../etc/passwd")})
    add("missing-part", ".pptx", pptx([""], parts={"ppt/_rels/presentation.xml.rels": outside}))
    add("zip-bomb", ".odt", odt(content=b" " * (60 << 20)))
    add("zip-bomb", ".pptx", pptx([""], parts={"ppt/slides/slide1.xml": b" " * (60 << 20)}))
    # Each slide under the size limit and the ratio check; together over the total.
    add("zip-bomb", ".pptx", pptx([pptx_shape("z" * 1_000_000)] * 110))
    add("entity-bomb", ".odt", odt(content=entity_bomb(10)))
    add("entity-bomb", ".pptx", pptx([""], parts={"ppt/slides/slide1.xml": entity_bomb(10)}))
    section = "<text:section>" * 5_000 + "<text:p>deep</text:p>" + "</text:section>" * 5_000
    add("deep-odt", ".odt", odt(section))
    groups = "<p:grpSp>" * 5_000 + pptx_shape("deep") + "</p:grpSp>" * 5_000
    add("deep-pptx", ".pptx", pptx([groups]))
    huge = f'<text:h text:outline-level="{"9" * 5000}">Big</text:h>'
    huge += '<text:p>a<text:s text:c="999999999999"/>b</text:p>'
    add("odt-huge-counts", ".odt", odt(huge))
    for encoding in ["rot13", "shift_jis", "unicode_escape", "utf-7"]:
        prolog = f'<?xml version="1.0" encoding="{encoding}"?>'
        content = odt_content("<text:p>x</text:p>").replace(
            '<?xml version="1.0" encoding="UTF-8"?>', prolog
        )
        add("odd-encoding", ".odt", odt(content=content))
        slide = pptx_slide(pptx_shape("x")).replace(XML_PROLOG, prolog)
        add("odd-encoding", ".pptx", pptx([""], parts={"ppt/slides/slide1.xml": slide}))
    add("encrypted-odt", ".odt", odt(content=rng.randbytes(4000), encrypted=True))
    for suffix in (".odt", ".pptx"):
        add("ole-magic", suffix, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + rng.randbytes(5000))
    (scratch / "scratch.odt").unlink()
    (scratch / "scratch.pptx").unlink()
    return valid


def without(data: bytes, name: str) -> bytes:
    """The zip ``data`` rebuilt without its part ``name``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename != name:
                target.writestr(info, source.read(info))
    return out.getvalue()


def mail_and_table_documents(
    add: Callable[..., None], rng: random.Random
) -> list[tuple[str, bytes]]:
    """Add valid and hostile .eml, .rtf, .csv, .tsv and .xlsx files; return the valid ones,
    for the caller to truncate and bit-flip as it does the others."""
    rates = "\n".join(f"{sentence(rng)},{rng.random():.3f},2026-0{n}-01" for n in range(1, 9))
    valid = [
        (".eml", mail_bytes(rng)),
        (".eml", mail_bytes(rng, html_only=True)),
        (".rtf", rtf_bytes(rng)),
        (".csv", rates.encode()),
        (".xlsx", workbook_bytes(rng)),
    ]
    for suffix, data in valid:
        add(f"valid-{suffix[1:]}", suffix, data, True)
    add(
        "valid-eml",
        ".eml",
        f"Subject: caf\u00e9\n\n{paragraph(rng)} caf\u00e9".encode("cp1252"),
        True,
    )
    add("valid-csv", ".csv", f"City;Rate\n{sentence(rng)};4,5\n".encode("cp1250"), True)
    add("valid-tsv", ".tsv", f"City\tRate\n{sentence(rng)}\t4.5\n", True)

    # E-mail: broken structure, encodings and headers.
    nested = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(3_000)
    )
    add("eml-deep", ".eml", f"Subject: deep\n{nested}Content-Type: text/plain\n\ndeep text\n")
    for charset in ("rot13", "hex", "utf-7", "unicode_escape", "bogus", "utf-16", "x\x00y"):
        add(
            "eml-odd-charset",
            ".eml",
            f"Subject: =?{charset}?q?caf=E9?=\nContent-Type: text/plain; charset={charset}\n\n"
            f"{paragraph(rng)}\n",
        )
    for _ in range(10):
        headers = "".join(
            f"{rng.choice(['From', 'To', 'Cc', 'Date', 'Subject', 'Content-Type'])}: "
            f"{rng.randbytes(rng.randint(1, 60)).decode('latin-1')}\n"
            for _ in range(rng.randint(1, 6))
        )
        add("eml-garbage-headers", ".eml", headers.encode("latin-1") + b"\n" + rng.randbytes(300))
    add(
        "eml-bad-base64",
        ".eml",
        "Subject: x\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n@@@==x\n",
    )
    add(
        "eml-no-boundary",
        ".eml",
        "Subject: x\nContent-Type: multipart/mixed\n\n--\nContent-Type: text/plain\n\nhi\n",
    )
    add(
        "eml-forwarded-garbage",
        ".eml",
        'Subject: x\nContent-Type: multipart/mixed; boundary="q"\n\n--q\n'
        "Content-Type: message/rfc822\n\n" + "\u0000" * 50 + "\n--q--\n",
    )
    add("huge-line", ".eml", "Subject: " + "x" * 1_000_000 + "\n\nbody\n")

    # RTF: inputs on which striprtf's regular expressions or its group stack blow up.
    for body in (
        "{" * 500_000,
        "{\\field{\\*\\fldinst{HYPERLINK " * 20_000,
        "{\\field{\\*\\fldinst{HYPERLINK x}}}" * 20_000,  # 70 s in striprtf as it is
        "{\\fonttbl" + "\\f1 x" * 100_000,
        "{\\fonttbl" + "\\\\\\f1 x" * 100_000,
        "{\\fonttbl\\f1\\fcharset0" + "x" * 1_000_000,
        "{\\pict " + "0a" * 1_000_000 + "}",
        "\\u99999999999 x",
        "\\uc x",
        "{\\pict\\bin x}",
        "{\\fonttbl{\\f0\\fcharset78 x;}}\\f0 \\'e9",
        "}" * 1000 + "text",
        "\\" * 100_000,
    ):
        add("rtf-hostile", ".rtf", "{\\rtf1 " + body)
    for _ in range(10):
        add("rtf-garbage", ".rtf", b"{\\rtf1" + rng.randbytes(rng.randint(1, 5000)))

    # CSV: what the csv module and the sniffer refuse or find odd.
    add("csv-huge-field", ".csv", 'a,b\n"' + "x" * 200_000 + '",1\n')
    add("csv-nul", ".csv", paragraph(rng) * 200 + "\n\x00,1\n")
    add("csv-open-quote", ".csv", 'a,b\n"' + paragraph(rng) * 50)
    add("csv-wide", ".csv", ",".join(sentence(rng) for _ in range(2_000)) + "\n1,2\n")
    add("csv-quotes", ".tsv", "\"'" * 20_000)

    # XLSX: sheets that would make calamine allocate without bound, and broken parts.
    sheet = "xl/worksheets/sheet1.xml"
    book = workbook_bytes(rng)
    cells = {
        "far-corner": '<row r="1"><c r="A1"><v>1</v></c></row>'
        '<row r="1048576"><c r="XFD1048576"><v>2</v></c></row>',
        "huge-row": '<row r="99999999999999999"><c><v>1</v></c></row>'
        '<row r="1"><c><v>2</v></c></row>',
        "wide-no-refs": '<row r="1">' + "<c/>" * 20_000 + '<c><v>1</v></c></row><row r="900000">'
        "<c><v>1</v></c></row>",
        "bad-shared-string": '<row r="1"><c r="A1" t="s"><v>999999</v></c></row>',
        "bad-number": '<row r="1"><c r="A1"><v>not a number</v></c></row>',
    }
    for kind, rows in cells.items():
        xml = f'<worksheet xmlns="{SML_NS}"><sheetData>{rows}</sheetData></worksheet>'
        add(f"xlsx-{kind}", ".xlsx", replaced(book, sheet, xml))
    for _ in range(8):
        add("xlsx-garbage-xml", ".xlsx", replaced(book, sheet, rng.randbytes(rng.randint(1, 3000))))
    add("zip-bomb", ".xlsx", replaced(book, sheet, b" " * (60 << 20)))
    add("entity-bomb", ".xlsx", replaced(book, sheet, entity_bomb(10)))
    for encoding in ("rot13", "shift_jis", "unicode_escape", "utf-7"):
        prolog = f'<?xml version="1.0" encoding="{encoding}"?>'
        add("odd-encoding", ".xlsx", replaced(book, sheet, f"{prolog}<worksheet/>"))
    for name in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels", sheet, "[Content_Types].xml"):
        add("missing-part", ".xlsx", without(book, name))
    add("ole-magic", ".xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + rng.randbytes(5000))
    return valid


SML_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def mail_bytes(rng: random.Random, *, html_only: bool = False) -> bytes:
    message = EmailMessage()
    message["From"] = "Anna Keller <anna@example.com>"
    message["To"] = "records@example.com"
    message["Subject"] = sentence(rng)
    if html_only:
        message.set_content(f"<h1>{sentence(rng)}</h1><p>{paragraph(rng)}</p>", subtype="html")
        return bytes(message)
    message.set_content(paragraph(rng))
    message.add_alternative(f"<p>{paragraph(rng)}</p>", subtype="html")
    message.add_attachment(paragraph(rng), filename="notes.txt")
    message.add_attachment(paragraph(rng).encode(), maintype="text", subtype="plain")
    message.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="t.csv")
    message.add_attachment(rng.randbytes(500), maintype="image", subtype="png")
    forwarded = EmailMessage()
    forwarded["Subject"] = sentence(rng)
    forwarded.set_content(paragraph(rng))
    message.add_attachment(forwarded)
    return bytes(message)


def rtf_bytes(rng: random.Random) -> bytes:
    paragraphs = "".join(
        f"{{\\b {sentence(rng)}}} {paragraph(rng, 2)} caf\\'e9 na\\u239?ve\\par " for _ in range(8)
    )
    return (
        "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fswiss\\fcharset0 Arial;}"
        "{\\f1\\fnil\\fcharset204 Courier;}}{\\info{\\title Records}}"
        f"\\f0 {paragraphs}\\f1 \\'cf\\'f0\\'e8\\par"
        '{\\field{\\*\\fldinst{HYPERLINK "https://example.com"}}{\\fldrslt{link}}}'
        "{\\pict\\pngblip " + "89504e47" * 200 + "}}"
    ).encode("ascii")


def workbook_bytes(rng: random.Random) -> bytes:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.append(["City", "Rate", "Valid from", "Note"])
    for n in range(40):
        first.append([sentence(rng), rng.random() * 10, dt.date(2026, 1 + n % 12, 1), None])
    second = workbook.create_sheet("Notes")
    for _ in range(10):
        second.append([paragraph(rng, 2), rng.randint(0, 1000), True])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def replaced(data: bytes, name: str, content: str | bytes) -> bytes:
    """The zip ``data`` rebuilt with the part ``name`` holding ``content``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, content if info.filename == name else source.read(info))
    return out.getvalue()


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
