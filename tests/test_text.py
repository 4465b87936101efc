"""The text toolkit: one sentence splitter, one word pattern, one stop-word list."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ragkit._text import STOPWORDS, content_words, sentence_spans, sentences, words
from ragkit.answer._chat import standalone_query
from ragkit.answer._support import answer_sentences, passage_sentences
from ragkit.store import fts_query

SPLITS = [
    (
        "Dr. Helen Achterberg leads the clinic. She is on call.",
        ["Dr. Helen Achterberg leads the clinic.", "She is on call."],
    ),
    (
        "See Smith v. Jones, 512 U.S. 218 (1994). The court agreed.",
        ["See Smith v. Jones, 512 U.S. 218 (1994).", "The court agreed."],
    ),
    (
        "Gemäß Abs. 2 und Art. 5 gilt die Frist. Vgl. auch § 3 bzw. § 4. Ende.",
        ["Gemäß Abs. 2 und Art. 5 gilt die Frist.", "Vgl. auch § 3 bzw. § 4.", "Ende."],
    ),
    (
        "Give approx. 250 mg twice daily. Stop after five days.",
        ["Give approx. 250 mg twice daily.", "Stop after five days."],
    ),
    ("J. K. Rowling wrote it. It sold well.", ["J. K. Rowling wrote it.", "It sold well."]),
    ("Take 3.5 mg daily. Do not exceed 7 mg.", ["Take 3.5 mg daily.", "Do not exceed 7 mg."]),
    (
        "Mr. and Mrs. Smith arrived. Ms. Lee and Prof. Kim left.",
        ["Mr. and Mrs. Smith arrived.", "Ms. Lee and Prof. Kim left."],
    ),
    (
        "She lives on St. Paul Street. See No. 5 there.",
        ["She lives on St. Paul Street.", "See No. 5 there."],
    ),
    (
        "Cats vs. Dogs is on. Bring ID, e.g. a passport, i.e. proof of age, etc. and a pen.",
        ["Cats vs. Dogs is on.", "Bring ID, e.g. a passport, i.e. proof of age, etc. and a pen."],
    ),
    (
        "We sell pears, apples, etc. The shop closes at six.",
        ["We sell pears, apples, etc.", "The shop closes at six."],
    ),
    (
        "Acme Inc. Sued Beta Ltd. And Jones & Co. Settled. Then it ended.",
        ["Acme Inc. Sued Beta Ltd. And Jones & Co. Settled.", "Then it ended."],
    ),
    (
        "See Fig. 3 and p. 7, pp. 12-14, cf. s. 4 and ss. 5-6. Smith et al. (2020) agree.",
        ["See Fig. 3 and p. 7, pp. 12-14, cf. s. 4 and ss. 5-6.", "Smith et al. (2020) agree."],
    ),
    ("Is it open? Yes! It is.", ["Is it open?", "Yes!", "It is."]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("He said \u201cStop!\u201d Then he left.", ["He said \u201cStop!\u201d", "Then he left."]),
    ("(See the annex.) The rest follows.", ["(See the annex.)", "The rest follows."]),
    (
        "He paused\u2026 Then he left. Wait... then go.",
        ["He paused\u2026", "Then he left.", "Wait... then go."],
    ),
    ("The answer is no. Nobody asked.", ["The answer is no.", "Nobody asked."]),
    ("Opens at 9 a.m. Visitors sign in.", ["Opens at 9 a.m.", "Visitors sign in."]),
    ("1. Pay the rent.\n2. Then leave.", ["1. Pay the rent.", "2. Then leave."]),
    ("He paid $19,350.00. The rest is due.", ["He paid $19,350.00.", "The rest is due."]),
    ("", []),
    ("  no stop at all  ", ["no stop at all"]),
]


@pytest.mark.parametrize("text,expected", SPLITS)
def test_sentences_keep_abbreviations_initials_decimals_and_citations(
    text: str, expected: list[str]
) -> None:
    assert sentences(text) == expected


def test_answers_and_passages_split_like_the_chunker() -> None:
    answer = "Smith v. Jones, 512 U.S. 218 (1994) applies [1]. Dr. Achterberg agreed. [2]"
    assert answer_sentences(answer) == [
        ("Smith v. Jones, 512 U.S. 218 (1994) applies.", [1]),
        ("Dr. Achterberg agreed.", [2]),
    ]
    assert passage_sentences("Dr. Helen Achterberg leads the\nclinic. She is on call.") == [
        "Dr. Helen Achterberg leads the clinic.",
        "She is on call.",
    ]


def test_words_keep_numbers_whole() -> None:
    assert words("The $19,350.00 deposit, due 3:30 on 2.5 days' notice (tenant's)") == [
        "The",
        "19,350.00",
        "deposit",
        "due",
        "3:30",
        "on",
        "2.5",
        "days",
        "notice",
        "tenant",
        "s",
    ]
    assert content_words("The tenants refunded the deposits") == {"tenant", "refund", "deposit"}


def test_search_and_chat_use_the_same_words() -> None:
    # A number is a phrase of its parts, a word its stem in each language of the index.
    assert fts_query("What is the $19,350.00 deposit?") == '"19 350 00" OR "deposit"'
    assert fts_query("the deposits", ["en", "und"]) == '"deposit" OR "deposits"'
    # The "s" of a possessive is not a word worth carrying into the next query.
    assert standalone_query("And its deposit?", ["Who is the landlord's agent?"]) == (
        "And its deposit? landlord agent"
    )


_CLOSERS = ["", '"', ")", "\u201d", "]"]
_LONG = st.text(string.ascii_lowercase, min_size=7, max_size=12)  # longer than any abbreviation
_TRICKY = st.sampled_from(
    [
        "Dr. Achterberg",
        "Smith v. Jones",
        "512 U.S. 218",
        "J. K. Rowling",
        "3.5 mg",
        "e.g. this",
        "No. 5",
        "et al. (2020)",
        "Acme Inc.",
        "Fig. 2",
        "pp. 3-4",
        "Prof. Kim",
        "vs.",
        "cf.",
    ]
)


@st.composite
def _sentence(draw: st.DrawFn) -> str:
    first = draw(st.sampled_from(["The", "A", "Our", "Tenants", "Dr. Lee", "2024", "\u00c9mile"]))
    middle = draw(st.lists(st.one_of(_LONG, _TRICKY), max_size=6))
    last = draw(_LONG)
    stop = draw(st.sampled_from([".", "!", "?", "...", "?!"]))
    return " ".join([first, *middle, last]) + stop + draw(st.sampled_from(_CLOSERS))


@given(st.lists(_sentence(), min_size=1, max_size=6), st.sampled_from([" ", "  ", "\n", " \n\t"]))
def test_joined_sentences_split_back(parts: list[str], gap: str) -> None:
    assert sentences(gap.join(parts)) == parts


@given(st.text(alphabet=st.sampled_from(list("aZ1 .!?\"')(\n\u2026\u201d")), max_size=80))
def test_spans_are_trimmed_ordered_and_cover_every_character(text: str) -> None:
    spans = sentence_spans(text)
    assert sentences(text) == [text[a:b] for a, b in spans]
    edges = [0, *(i for span in spans for i in span), len(text)]
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        assert a <= b and not text[a:b].strip()  # only whitespace between sentences
    for a, b in spans:
        assert a < b and text[a:b] == text[a:b].strip()


@given(st.text(max_size=60), st.text(max_size=60), st.text(max_size=20))
def test_spans_of_a_slice_are_the_slice_spans_shifted(text: str, before: str, after: str) -> None:
    # How the chunker calls it: on one paragraph of a longer text.
    prefix = before + "\n\n"
    whole = prefix + text + "\n\n" + after
    shifted = [(a + len(prefix), b + len(prefix)) for a, b in sentence_spans(text)]
    assert sentence_spans(whole, len(prefix), len(prefix) + len(text)) == shifted


@given(st.text(string.printable, max_size=60), st.text(string.printable, max_size=60))
def test_content_words_of_two_texts_are_the_union(a: str, b: str) -> None:
    assert content_words(f"{a} {b}") == content_words(a) | content_words(b)
    assert content_words(a.upper()) == content_words(a.lower())


@given(st.lists(st.sampled_from(sorted(STOPWORDS))))
def test_stop_words_are_no_content(stop: list[str]) -> None:
    assert not content_words(" ".join(stop).title())


@given(st.text(max_size=80))
def test_words_are_runs_of_the_text_without_space(text: str) -> None:
    found = words(text)
    position = 0
    for word in found:
        position = text.index(word, position) + len(word)
        assert word and not any(c.isspace() for c in word)
