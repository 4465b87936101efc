"""Conflicting evidence: given passages that state different figures for the same thing.

A file added to the corpus can contradict another ("the security deposit is $0.00" beside
the lease's $19,350.00), and an answer resting on either passes its check with no sign of
the other. For each figure an answer sentence states (an amount of money, a percentage, a
duration, a time of day, a date, a count of something, a number), the sentence of a cited
passage that states it is found, and the sentences the other documents' passages showed
the model are searched for one about the same thing that states a different figure of the
same kind. Words and numbers only, no model: it costs a few regular expressions per answer.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ragkit._text import MONTHS, STOPWORDS, WEEKDAYS, content_words, stem, words
from ragkit._types import AnswerSentence, Conflict, Passage

__all__ = ["Figure", "describe", "figures", "find_conflicts", "noted"]

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_MONTH = "|".join(f"{m[:3].capitalize()}(?:{m[3:]})?" for m in MONTHS)
_FIGURE = re.compile(
    rf"\b(?P<month>{_MONTH})\.?\s+(?:(?P<day>\d{{1,2}})\b(?:,?\s+(?P<year>\d{{4}})\b)?"
    r"|(?P<month_year>\d{4})\b)"
    rf"|\$\s?(?P<money>{_NUMBER})"
    r"|\b(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<half>[ap])\.?m\.?(?!\w)"
    r"|\b(?P<clock>\d{1,2}):(?P<minutes>\d{2})\b"
    rf"|\(?(?<![\w.,])(?P<number>{_NUMBER})(?![\w,]?\d)\)?"
    r"(?:\s*(?P<percent>%|percent\b)|[ -](?P<unit>[a-z]+\b))?"
)
# "$55 per hour", "$60 a day", "2 days per week": a rate is not an amount.
_RATE = re.compile(
    r"\s*(?:per\s+(?P<per>[a-z]+)|(?:an?|each)\s+(?P<each>hour|day|night|week|month|year)\b)"
)
# A number named by the word before or after it: "Suite 410", "Lease Year 2", "1200 Harbor".
_NAME_BEFORE = re.compile(r"\b(?P<name>[A-Z][A-Za-z]*)\s+$")
_NAME_AFTER = re.compile(r"\s+(?P<name>[A-Z][A-Za-z]*)")
# Durations compare across units ("12 months" is "1 year"), in days.
_DAYS = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1, "week": 7, "month": 30.44, "year": 365.25}
_DURATION_WORDS = {f"{unit}{s}": unit for unit in _DAYS for s in ("", "s")}
# Words after a number that say what comes next, not what was counted ("2026 between").
_NOT_UNITS = STOPWORDS | frozenset(
    "after and before between but during each nor per than through until while within".split()
)
# A duration written with a qualifier ("3 business days") is a duration all the same.
_QUALIFIED = re.compile(r"(?:business|calendar|working|consecutive)\s+(?P<unit>[a-z]+)\b")
# Words that say when or within what bound, not what the figure is of: two sentences
# sharing only these ("Monday to Friday", "at least") are not about the same thing.
_NOT_SUBJECTS = (
    frozenset(_DURATION_WORDS)
    | frozenset(MONTHS)
    | frozenset(WEEKDAYS)
    | {"weekday"}
    | frozenset(
        "after before between within least most up than only each per every more less over"
        " until since shall must may".split()
    )
)
# Two sentences are about the same thing when they share this many salient words and this
# share of the shorter one's. The planted deposit sentence of tests/test_conflicts.py shares
# 7 of its 7 with the lease's. Over the passages given for the sample questions and for 300
# sentences of the samples as questions, one pair of other documents' sentences stating
# different figures of one kind passes (laptops lock after 10 minutes of inactivity,
# workstations after 5); the others share under half their words, or only names.
_MIN_SHARED = 2
_MIN_SHARE = 0.5
# Durations within this relative difference are one figure ("3 months" and "90 days").
_TOLERANCE = 0.03


@dataclass(frozen=True)
class Figure:
    """A figure as written in a text, with its kind and value in a common unit."""

    text: str
    kind: str
    """``money``, ``percent``, ``duration`` (in days), ``time`` (of day, in minutes),
    ``date`` (year * 10000 + month * 100 + day, a part not written 0), ``count:<unit>``,
    ``label:<name>`` ("Suite 410") or ``number``; a rate adds ``/<unit>`` ("$55 per hour"
    is ``money/hour``)."""
    value: float
    span: tuple[int, int] = (0, 0)
    """Where it is written in the text it was found in."""

    def same(self, other: Figure) -> bool:
        """Whether ``other`` states this figure: the same kind and value (durations within a
        few percent, so "12 months" is "1 year"; a date without a year matches any year)."""
        if self.kind != other.kind:
            return False
        if self.kind.startswith("duration"):
            return abs(self.value - other.value) <= _TOLERANCE * max(self.value, other.value)
        if self.kind == "date" and not (self.value >= 10000 and other.value >= 10000):
            return self.value % 10000 == other.value % 10000
        return self.value == other.value


def _value(number: str) -> float:
    return float(number.replace(",", ""))


def figures(text: str) -> list[Figure]:
    """The figures ``text`` states, in order: "$19,350.00" and "$19350" are both
    ``money`` 19350.0, "7 years" a ``duration`` of 2556.75 days, "4:00 p.m." a ``time``."""
    found: list[Figure] = []
    for match in _FIGURE.finditer(text):
        end = match.end()
        if match["month"] is not None:
            month = next(i for i, m in enumerate(MONTHS, 1) if m.startswith(match["month"].lower()))
            year = int(match["year"] or match["month_year"] or 0)
            kind, value = "date", float(year * 10000 + month * 100 + int(match["day"] or 0))
        elif match["money"] is not None:
            kind, value = "money", _value(match["money"])
        elif match["hour"] is not None:
            hour = int(match["hour"]) % 12 + (12 if match["half"] == "p" else 0)
            kind, value = "time", float(hour * 60 + int(match["minute"] or 0))
        elif match["clock"] is not None:
            kind, value = "time", float(int(match["clock"]) * 60 + int(match["minutes"]))
        elif match["percent"] is not None:
            kind, value = "percent", _value(match["number"])
        else:
            kind, value, end = _counted(text, match)
        rate = _RATE.match(text, end) if kind in ("money", "duration") or ":" in kind else None
        if rate:
            per = rate["per"] or rate["each"]
            kind, end = f"{kind}/{stem(per)}", rate.end()
        written = re.sub(r"[()]", "", text[match.start() : end]).strip()
        found.append(Figure(written, kind, value, (match.start(), end)))
    return found


def _counted(text: str, match: re.Match[str]) -> tuple[str, float, int]:
    """The kind and value of a number with no sign (a duration, a count of its unit, a
    label or plain) and where the figure ends."""
    value = _value(match["number"])
    unit, end = match["unit"], match.end()
    if unit is None or unit in _NOT_UNITS:
        end = match.end("number")
        # A name is a word: the window keeps the search short in a long run of numbers.
        before = _NAME_BEFORE.search(text, max(0, match.start() - 40), match.start())
        after = _NAME_AFTER.match(text, end)
        name = before or after
        return (f"label:{name['name'].lower()}" if name else "number"), value, end
    qualified = _QUALIFIED.match(text, match.start("unit"))
    if qualified:
        unit, end = qualified["unit"], qualified.end()
    duration = _DURATION_WORDS.get(unit)
    if duration is not None:
        return "duration", value * _DAYS[duration], end
    return f"count:{stem(unit)}", value, end


def _salient(text: str) -> set[str]:
    """The words that say what ``text`` is about: its content words outside its figures,
    without numbers, units of time, days, months or words of bound and order."""
    for figure in reversed(figures(text)):
        text = text[: figure.span[0]] + " " + text[figure.span[1] :]
    return {
        w
        for w in content_words(text)
        if len(w) > 1 and not any(c.isdigit() for c in w) and w not in _NOT_SUBJECTS
    }


def _names(text: str) -> set[str]:
    """The words ``text`` writes only capitalised, after its first word: names."""
    tokens = words(text)
    lower = {stem(t.lower()) for t in tokens if not t[0].isupper()}
    return {stem(t.lower()) for t in tokens[1:] if t[0].isupper()} - lower


def _overlap(a: str, b: str) -> int:
    """How many salient words two sentences speaking of the same thing share; 0 when they
    share too few, or only names ("Harbor Street" in an address and in a firm's name is
    one place, but not one thing about it)."""
    words_a, words_b = _salient(a), _salient(b)
    shared = words_a & words_b
    same = (
        len(shared) >= _MIN_SHARED
        and len(shared) >= _MIN_SHARE * min(len(words_a), len(words_b))
        and bool(shared - (_names(a) & _names(b)))
    )
    return len(shared) if same else 0


def find_conflicts(
    sentences: Sequence[AnswerSentence],
    passages: Sequence[Passage],
    evidence: Sequence[Sequence[str]],
) -> tuple[Conflict, ...]:
    """Where the passages disagree on a figure a supported sentence of the answer states.

    ``passages`` are numbered from 1 as the sentences cite them; ``evidence[i]`` holds the
    sentences passage ``i + 1`` showed the model. Another passage disagrees when one of its
    sentences is about the same thing as the sentence of a cited passage stating the figure
    (most of the same salient words) and states a different figure of the same kind, and
    none the same. Only other documents' passages are searched: within one document a
    different figure on the same subject is a schedule more often than a contradiction
    ("Lease Year 1 ... $6,450.00", "Lease Year 2 ... $6,643.50"), and overlapping chunks
    repeat it. Per figure, each disagreeing document is reported once, by its sentence
    closest to the cited one (not the lease's later, reduced deposit beside its first), and
    two sentences disagreeing with each other once.
    """
    best: dict[tuple[int, str, str], tuple[int, Conflict]] = {}
    for i, sentence in enumerate(sentences):
        if not sentence.supported:
            continue
        for figure, n, source, stated in _sources(sentence, evidence):
            for m, other in enumerate(passages, start=1):
                if other.path == passages[n - 1].path:
                    continue
                for score, text, differing in _disagreeing(source, stated, evidence[m - 1]):
                    key = (i, figure.text, other.path)
                    if key not in best or score > best[key][0]:
                        best[key] = (
                            score,
                            Conflict(
                                sentence=i,
                                figure=figure.text,
                                passage=n,
                                other_figure=differing.text,
                                other_passage=m,
                                other_text=text,
                            ),
                        )
    # Two quoted sentences that disagree conflict both ways; saying it once is enough.
    said: set[frozenset[tuple[int, str]]] = set()
    found = []
    for _, conflict in best.values():
        pair = frozenset(
            {(conflict.passage, conflict.figure), (conflict.other_passage, conflict.other_figure)}
        )
        if pair not in said:
            said.add(pair)
            found.append(conflict)
    return tuple(found)


def _sources(
    sentence: AnswerSentence, evidence: Sequence[Sequence[str]]
) -> Iterator[tuple[Figure, int, str, Figure]]:
    """Each figure of ``sentence`` with a cited passage's number, its sentence stating the
    figure and the figure as stated there. Of several sentences stating it, those sharing
    the most words with the answer sentence are the ones it rests on."""
    said = _salient(sentence.text)
    for figure in figures(sentence.text):
        for n in sentence.citations:
            stating = [(t, f) for t in evidence[n - 1] for f in figures(t) if _states(f, figure)]
            best = max((len(said & _salient(t)) for t, _ in stating), default=0)
            for text, stated in stating:
                if len(said & _salient(text)) == best:
                    yield figure, n, text, stated


def _states(stated: Figure, answered: Figure) -> bool:
    """Whether a passage's figure is the one the answer states, which may leave out a rate
    ("$55" for "$55 per hour"), a count's unit ("14") or a label's name ("410")."""
    base = stated.kind.split("/")[0]
    loose = answered.kind in (stated.kind, base) or (answered.kind == "number" and ":" in base)
    return loose and answered.same(dataclasses.replace(stated, kind=answered.kind))


def _disagreeing(
    source: str, stated: Figure, sentences: Sequence[str]
) -> Iterator[tuple[int, str, Figure]]:
    """The sentences about what ``source`` is about that state a different figure of
    ``stated``'s kind and not ``stated`` itself, each with its overlap and that figure."""
    for text in sentences:
        same_kind = [f for f in figures(text) if f.kind == stated.kind]
        if not same_kind or any(stated.same(f) for f in same_kind):
            continue
        score = _overlap(source, text)
        if score:
            yield score, text, same_kind[0]


def describe(conflicts: Sequence[Conflict]) -> str:
    """The sentence an answer's text ends with when its passages disagree."""
    return f"Note: the passages disagree: {'; '.join(c.summary for c in conflicts)}."


def noted(text: str, conflicts: Sequence[Conflict]) -> str:
    """``text`` followed, when the passages disagree, by a sentence saying where."""
    return f"{text} {describe(conflicts)}" if conflicts else text
