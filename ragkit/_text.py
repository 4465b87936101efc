"""The text toolkit: sentences, words, content words and stop words.

Chunking, retrieval, prompt trimming, support checks, extractive answers, chat rewriting
and evaluation all split and compare text the same way, through this module.
"""

from __future__ import annotations

import re

__all__ = [
    "MONTHS",
    "MONTH_ABBREVIATIONS",
    "STOPWORDS",
    "WEEKDAYS",
    "content_words",
    "sentence_spans",
    "sentences",
    "stem",
    "words",
]

# A run of sentence punctuation with any closing quotes or brackets, followed by whitespace.
# Matching only from the start of a run keeps the scan linear even in a long run of dots.
_SENTENCE_END = re.compile(
    r"(?<![.!?\u2026])(?P<punct>[.!?\u2026]+)[\"'\u201d\u2019\u00bb)\]]*(?=\s+(?P<next>\S))"
)
_OPENERS = "([{\"'\u201c\u2018\u00ab"
# Dotted abbreviations: "e.g.", "i.e.", "U.S.", "Ph.D."
_DOTTED = re.compile(r"(?:[^\W\d_]{1,3}\.){2,}")
# Dotted abbreviations that often end a sentence: split after them before a capital.
_DOTTED_ENDINGS = frozenset({"a.m.", "p.m."})
# Never the end of a sentence: titles before a name, company suffixes, reference and
# citation words ("Fig. 3", "pp. 12", "9th Cir. 2001").
# Single letters ("J.", "v.", "p.", "s.") are initials and never end one either.
_ABBREVIATIONS = frozenset(
    "mr mrs ms mx dr prof st mt sr jr rev hon gen col lt capt sgt gov sen rep messrs inc ltd co"
    " corp bros vs cf viz approx esp resp dept ed eds cir ct supp fig figs eq eqs vol vols pp ss"
    " nos ch para paras refs vgl bzw usw ggf".split()
)
MONTHS = (
    "january february march april may june july august september october november december"
).split()
"""Month names, lower-case, in calendar order."""
MONTH_ABBREVIATIONS = frozenset({m[:3] for m in MONTHS if m != "may"} | {"sept"})
"""The short forms written with a full stop ("Jan.", "Sept.")."""
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
"""Day names, lower-case, Monday first."""
# Not the end of a sentence when a number follows ("No. 5", "Art. 2", "et al. (2020)"), but
# each can end one otherwise ("The answer is no. Nobody ...", "Smith et al. The ...").
_BEFORE_NUMBERS = frozenset("no sec art abs ref al ca est".split()) | MONTH_ABBREVIATIONS

_WORD = re.compile(r"\d+(?:[.,:]\d+)*|\w+")
"""A number with its separators ("19,350.00", "3:30"), or a run of word characters."""

STOPWORDS = frozenset(
    "a an and are as at be been by can could did do does for from had has have how i if in "
    "into is it its may me must my not of on or our over should so than that the their them "
    "then there these they this to under up was we were what when where which who whom whose "
    "why will with would you your".split()
)
"""Words too common to say what a text is about."""


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """The ``(start, end)`` offsets of the sentences of ``text[start:end]``, trimmed.

    A sentence ends at ``.``, ``!``, ``?`` or ``…`` (with any closing quotes or brackets)
    followed by whitespace and a word that does not start in lower case; a full stop after
    an abbreviation ("Dr.", "Smith v. Jones", "512 U.S. 218"), an initial ("J. K.
    Rowling") or a list number at the start of a line ("2. Then ...") does not end one.
    """
    segment = text[start:end]
    lo = start + len(segment) - len(segment.lstrip())
    hi = lo + len(segment.strip())
    spans: list[tuple[int, int]] = []
    begin = lo
    for match in _SENTENCE_END.finditer(text, lo, hi):
        if _ends_sentence(text, match, lo, hi):
            spans.append((begin, match.end()))
            begin = match.start("next")
    if begin < hi:
        spans.append((begin, hi))
    return spans


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (see :func:`sentence_spans`)."""
    return [text[a:b] for a, b in sentence_spans(text)]


def _ends_sentence(text: str, match: re.Match[str], lo: int, hi: int) -> bool:
    following = text[match.start("next") : min(match.start("next") + 8, hi)].lstrip(_OPENERS)
    if not following or following[0].islower():
        return False  # "e.g. the", "approx. five", "wait... then", "said. (and"
    if match["punct"] != ".":
        return True
    # The word before the full stop tells abbreviations, initials and list numbers apart.
    word_start = match.start()
    while word_start > lo and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start : match.start()].lstrip(_OPENERS)
    lowered = word.lower()
    if (len(word) == 1 and word.isalpha()) or lowered in _ABBREVIATIONS:
        return False
    if lowered in _BEFORE_NUMBERS and following[0].isdigit():
        return False
    if _DOTTED.fullmatch(word + ".") and f"{lowered}." not in _DOTTED_ENDINGS:
        return False
    if word.isdigit():
        indent = word_start
        while indent > lo and text[indent - 1] in " \t":
            indent -= 1
        if indent == lo or text[indent - 1] == "\n":
            return False  # a numbered list item, "2. Then ..."
    return True


def words(text: str) -> list[str]:
    """The words and numbers of ``text``, as written."""
    return _WORD.findall(text)


def stem(word: str) -> str:
    """``word`` without a plural or verb ending: "Normans" -> "Norman", "refunded" -> "refund"."""
    # Enough to match such pairs without a stemmer library.
    for suffix in ("ies", "es", "s", "ed", "ing"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str, stop: frozenset[str] = STOPWORDS) -> set[str]:
    """Lower-cased, stemmed words and numbers of ``text`` without the stop words ``stop``
    (English's unless given: see ``ragkit._language.stopwords`` for other languages')."""
    return {stem(w) for w in (t.lower() for t in words(text)) if w not in stop}
