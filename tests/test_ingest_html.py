"""Tests for the HTML loader."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragkit._errors import LoadError
from ragkit.ingest import load
from ragkit.ingest._html import load_html

from .helpers import assert_load_error

PAGE = """<!DOCTYPE html>
<html><head>
<meta charset="utf-8"><title>Clinic &amp; Staff   Handbook</title>
<style>p { color: red }</style>
<script>document.write("<p>script text</p>"); if (a < b && c) {}</script>
<noscript>Enable JavaScript</noscript>
</head>
<body>
<nav><ul><li><a href="/">Home</a></li><li>About</li></ul></nav>
<header><h1>Site banner</h1><form><input name=q><button>Search</button></form></header>
<h1>Leave policy</h1>
<p>Everyone gets   leave.
   Even   interns &mdash; really.</p>
<p>Contact: <a href="mailto:hr@example.org">HR</a>&nbsp;office, caf&eacute; &#x2603; &lt;tag&gt;</p>
<h2>Sick leave</h2>
<p>Ten days<br>per year.</p>
<ul><li>Doctor's note after 3 days.</li><li>Call before <b>9</b>&#160;am.</li></ul>
<table>
  <thead><tr><th>Kind</th><th>Days</th></tr></thead>
  <tbody><tr><td>Sick</td><td>10</td></tr><tr><td>Annual</td><td>25</td></tr></tbody>
</table>
<div hidden>hidden div</div><p aria-hidden="true">aria hidden</p>\
<span style="display:none">styled away</span>
<template><p>template text</p></template>
<svg><title>svg title</title><text>svg text</text></svg>
<h3>Notes</h3><pre>line one
   indented   line</pre>
<h2>Annual leave</h2>
<p>Twenty-five days.</p>
<aside>Related articles</aside>
<footer>Copyright 2024</footer>
</body></html>
"""


def write(tmp_path: Path, html: str | bytes, name: str = "page.html") -> Path:
    path = tmp_path / name
    path.write_bytes(html.encode("utf-8") if isinstance(html, str) else html)
    return path


def test_html_text_headings_and_dropped_parts(tmp_path: Path) -> None:
    doc = load(write(tmp_path, PAGE))
    assert doc.title == "Clinic & Staff Handbook"
    assert [(s.heading, s.text) for s in doc.sections] == [
        (
            "Leave policy",
            "Leave policy\n\nEveryone gets leave. Even interns \u2014 really.\n\n"
            "Contact: HR office, caf\u00e9 \u2603 <tag>",
        ),
        (
            "Leave policy > Sick leave",
            "Sick leave\n\nTen days\nper year.\n\nDoctor's note after 3 days.\n"
            "Call before 9 am.\n\nKind | Days\nSick | 10\nAnnual | 25",
        ),
        ("Leave policy > Sick leave > Notes", "Notes\n\nline one\nindented line"),
        ("Leave policy > Annual leave", "Annual leave\n\nTwenty-five days."),
    ]
    everything = " ".join(s.text for s in doc.sections)
    for dropped in ["script", "JavaScript", "Home", "banner", "Search", "hidden", "styled",
                    "template", "svg", "Related", "Copyright"]:  # fmt: skip
        assert dropped not in everything


def test_html_main_or_article_only(tmp_path: Path) -> None:
    page = (
        "<body><div class=sidebar>Sidebar links</div>\n"
        "    <main><article><header><h1>Report</h1><p>By Dr. Who</p></header>"
        "<p>Main text.</p></article></main>\n"
        "    <div>After main</div></body>"
    )
    doc = load(write(tmp_path, page))
    assert doc.title == "Report"  # no <title>: the first h1
    assert [(s.heading, s.text) for s in doc.sections] == [
        ("Report", "Report\n\nBy Dr. Who\n\nMain text.")
    ]
    articles = (
        "<p>Teaser</p><article><p>First story.</p></article><article><p>Second story.</p></article>"
    )
    assert [s.text for s in load(write(tmp_path, articles, "a.htm")).sections] == [
        "First story.\n\nSecond story."
    ]
    # A <main> with no text (filled in by a script) does not hide the page.
    assert (
        load(write(tmp_path, "<main></main><p>Only here.</p>", "b.html")).sections[0].text
        == "Only here."
    )


def test_html_forms(tmp_path: Path) -> None:
    search = "<form><label>Search the site</label><input name=q></form><p>The page text itself.</p>"
    assert [s.text for s in load(write(tmp_path, search)).sections] == ["The page text itself."]
    # Old ASP.NET pages put the whole body in one form; its text is the page.
    webforms = (
        '<form id="form1"><h1>Records</h1><p>Kept for ten years.</p><button>Save</button></form>'
    )
    assert [s.text for s in load(write(tmp_path, webforms, "w.aspx.html")).sections] == [
        "Records\n\nKept for ten years."
    ]


def test_html_meta_charset_cp1252(tmp_path: Path) -> None:
    text = "Caf\u00e9 \u2013 \u201csmart\u201d \u20ac5"
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    page = f"<html><head>{meta}</head><body><p>{text}</p>"
    assert load(write(tmp_path, page.encode("cp1252"))).sections[0].text == text
    # latin-1 labels mean windows-1252, as in browsers: 0x80 is the euro sign.
    latin = b'<meta charset="ISO-8859-1"><p>\x80 caf\xe9</p>'
    assert load(write(tmp_path, latin, "l.html")).sections[0].text == "\u20ac caf\u00e9"
    koi8 = '<meta charset="koi8-r"><p>Привет</p>'.encode("koi8-r")
    assert load(write(tmp_path, koi8, "k.html")).sections[0].text == "Привет"


def test_html_encoding_fallbacks(tmp_path: Path) -> None:
    # No declaration and not UTF-8: cp1252.
    assert load(write(tmp_path, b"<p>caf\xe9</p>")).sections[0].text == "caf\u00e9"
    # A BOM beats the declaration; a declaration the bytes contradict is ignored.
    utf16 = "\ufeff<meta charset=iso-8859-2><p>\u017e\u00e9</p>".encode("utf-16-le")
    assert load(write(tmp_path, utf16, "u.html")).sections[0].text == "\u017e\u00e9"
    wrong = '<meta charset="utf-8"><p>caf\u00e9</p>'.encode("cp1252")
    assert load(write(tmp_path, wrong, "w.html")).sections[0].text == "caf\u00e9"
    # Unknown and Python-only codec names are ignored.
    odd = b'<meta charset="rot13"><p>plain</p>'
    assert load(write(tmp_path, odd, "o.html")).sections[0].text == "plain"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>unclosed <b>bold <i>both</p><p>next", ["unclosed bold both\n\nnext"]),
        ("<div>a</p>b</div>", ["a\n\nb"]),  # a stray </p> still separates
        ("<p>a</div></div></span>b</p>", ["ab"]),  # other stray end tags are ignored
        ("<table><td>a<td>b<tr><td>c</table>after", ["a | b\nc\n\nafter"]),
        ("<h2>Title<p>para</h2>", ["Title para"]),
        ("<h1>One<h2>Two</h2><p>x", ["Two\n\nx"]),  # the h1 ends where the h2 starts
        ("<title>T<body><p>text", ["text"]),
        ("<<p>>x<//p><!-- c --><!doctype><![CDATA[y]]><?pi?>", ["<\n\n>x"]),
        ("<p>a<![foo[ b ]]>c<![ x>d<![12", ["acd<![12"]),  # html.parser alone raises here
        ("<ul><li>one<li>two<ul><li>two.a</ul><li>three</ul>", ["one\ntwo\ntwo.a\nthree"]),
        (
            "<table><tr><td>x<table><tr><td>in</td><td>ner</td></tr></table></td><td>y</table>",
            ["x in | ner | y"],
        ),
    ],
)
def test_html_malformed_markup(tmp_path: Path, html: str, expected: list[str]) -> None:
    assert [s.text for s in load(write(tmp_path, html)).sections] == expected


def test_html_deep_nesting(tmp_path: Path) -> None:
    depth = 20_000
    nested = "<div>" * depth + "deep" + "</div>" * depth
    assert load(write(tmp_path, nested)).sections[0].text == "deep"
    unclosed = "<p><span>" * depth + "text"
    assert load(write(tmp_path, unclosed, "u.html")).sections[0].text == "text"


@pytest.mark.parametrize(
    "html",
    ["<html><head><title>Only a title</title></head><body></body></html>",
     "<script>var a = 1;</script><nav>menu</nav>", "<!-- just a comment -->", "<p>&nbsp;</p>"],
)  # fmt: skip
def test_html_without_text(tmp_path: Path, html: str) -> None:
    assert_load_error(write(tmp_path, html), "no text found")


TAG_SOUP = st.lists(
    st.sampled_from(
        ["<", ">", "!", "/", "[", "]", "-", "?", "=", '"', " ", "&", "#", ";", "\n", "text", "<!--",
         "-->", "<![", "<!DOCTYPE", "CDATA", "]]>", "<?", "<script>", "</script>", "&amp;", "&#x",
         "<td>", "<tr>", "<table>", "</table>", "<h1>", "</h2>", "<title>", "<li>", "<pre>",
         "<nav>", "<main>", "<br>", "</p>", "<p hidden>", "<header>", "<article>", "</div>",
         "<div>", "<svg>", "<h3>"]
    ),
    max_size=60,
).map("".join)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(TAG_SOUP)
def test_html_tag_soup_never_raises(html: str) -> None:
    try:
        _, sections = load_html(Path("soup.html"), html.encode())
    except LoadError as error:
        assert error.reason == "file is empty"
    else:
        assert all(isinstance(s.text, str) for s in sections)
