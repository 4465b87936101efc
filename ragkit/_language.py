"""Languages of documents and the full-text terms written for them.

Full text is indexed as terms this module writes, not as raw text: each document's language
is detected at ingest (py3langid, whose model ships inside its wheel) and its words are
stemmed by the Snowball stemmer of that language (PyStemmer), so "Universitäten" finds
"Universität" as "houses" finds "house". Scripts written without spaces between words
(Chinese, Japanese, Korean, Thai, Lao, Khmer, Burmese) are cut into overlapping character
pairs, the way search engines index them without a dictionary. A question is turned into
terms once for every language the index holds, so it meets each document's terms in the
form they were written, whatever language the question and the documents are in.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from ragkit._text import STOPWORDS

__all__ = [
    "UNDETERMINED",
    "answer_language",
    "chunk_terms",
    "detect",
    "document_language",
    "document_terms",
    "query_terms",
    "stemmer_language",
    "stopwords",
]

UNDETERMINED = "und"
"""ISO 639 code for a text whose language could not be told (no letters, or too few)."""

# ISO 639-1 codes py3langid returns, mapped to the Snowball stemmer of that language.
_STEMMERS = {
    "ar": "arabic",
    "ca": "catalan",
    "cs": "czech",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "eo": "esperanto",
    "es": "spanish",
    "et": "estonian",
    "eu": "basque",
    "fa": "persian",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "ne": "nepali",
    "nl": "dutch",
    "no": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}


# A word: letters and digits with the marks that belong to them (Indic vowel signs, Hebrew
# and Arabic points are marks, and a word split at each would be no word at all).
@cache
def _word() -> re.Pattern[str]:
    marks = "".join(
        re.escape(chr(c)) for c in range(0x10000) if unicodedata.category(chr(c)).startswith("M")
    )
    return re.compile(rf"(?:[^\W_]|[{marks}])+")


# Scripts written without spaces between words; a run of them is indexed as character pairs.
_UNSPACED = re.compile(
    "["
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\U00020000-\U0002ffff"  # CJK ideographs, extensions
    "]+"
)

# Enough text to tell a language from: more only costs time.
_SAMPLE_CHARS = 4000
# Fewer letters than this say too little to be sure of a language.
_MIN_LETTERS = 20

_identifier_lock = threading.Lock()


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE)


def detect(text: str) -> str:
    """The ISO 639-1 code of the language ``text`` is written in, or :data:`UNDETERMINED`."""
    sample = text[:_SAMPLE_CHARS]
    if sum(c.isalpha() for c in sample) < _MIN_LETTERS:
        return UNDETERMINED
    with _identifier_lock:
        language, _ = _identifier().classify(sample)
    return str(language)


def document_language(texts: Iterable[str]) -> str:
    """The language of a document given its chunks' texts in order (see :func:`detect`)."""
    sample, size = [], 0
    for text in texts:
        sample.append(text)
        size += len(text)
        if size >= _SAMPLE_CHARS:
            break
    return detect(" ".join(sample))


# py3langid's codes the stop-words package names otherwise (Norwegian: "no", Bokmål "nb").
_STOP_LISTS = {"no": "nb"}


@cache
def _function_words(language: str) -> frozenset[str]:
    """The stop words of ``language`` from the stop-words package (none for a language it
    has no list for, nor for English: ragkit's own shorter list keeps words such as "first"
    and "four", which answers turn on)."""
    from stop_words import LANGUAGE_MAPPING, get_stop_words

    code = _STOP_LISTS.get(language, language)
    if language == "en" or code not in LANGUAGE_MAPPING:
        return frozenset()
    return frozenset(w.casefold() for w in get_stop_words(code))


def stopwords(languages: Iterable[str]) -> frozenset[str]:
    """Words too common to say what a text is about, in English and in each of ``languages``
    (ISO 639-1 codes, as documents' languages are stored).

    The support check counts a claim's words found in a passage: German's "die", "und",
    "von" are found in every German passage, so unless they are stop words a claim taken
    from the wrong passage looks half backed by it.
    """
    extra = frozenset().union(*(_function_words(language) for language in set(languages)))
    return STOPWORDS | extra if extra else STOPWORDS


def answer_language(question: str, languages: Iterable[str]) -> str | None:
    """The name of the language an answer to ``question`` is asked for in ("German"), or None
    to leave it to the system prompt's rule ("in the language of the question").

    Named only when the question is told to be in the language most of its passages (their
    documents' ``languages``) are written in, and that is not English, the prompt's own: the
    1.5B model answered 8 of 100 German XQuAD questions in English under the rule alone, and
    an English answer shares no words with German passages, so its check declined it. A
    question told wrong (short texts are the hard ones) rarely matches its passages too.
    """
    counted = Counter(languages)
    if not counted:
        return None
    common, _ = counted.most_common(1)[0]
    name = _STEMMERS.get(common)
    if common == "en" or name is None or detect(question) != common:
        return None
    return name.capitalize()


def stemmer_language(language: str) -> str | None:
    """The Snowball stemmer used for ``language`` (an ISO 639-1 code), if there is one."""
    return _STEMMERS.get(language)


@cache
def _stemmer(language: str) -> Any:
    import Stemmer

    name = _STEMMERS.get(language)
    return Stemmer.Stemmer(name) if name else None


def _pairs(run: str) -> Iterator[str]:
    if len(run) == 1:
        yield run
    for i in range(len(run) - 1):
        yield run[i : i + 2]


def _terms(word: str, language: str) -> Iterator[str]:
    """The terms of one word: a stem, or character pairs for its unspaced runs."""
    start = 0
    for run in _UNSPACED.finditer(word):
        if run.start() > start:
            yield _stem(word[start : run.start()], language)
        yield from _pairs(run.group())
        start = run.end()
    if start < len(word):
        yield _stem(word[start:], language)


def _stem(word: str, language: str) -> str:
    stemmer = _stemmer(language)
    return str(stemmer.stemWord(word)) if stemmer else word


def document_terms(text: str, language: str) -> str:
    """``text`` as the space-separated terms its full-text row holds."""
    return " ".join(t for w in _word().findall(text.casefold()) for t in _terms(w, language))


def chunk_terms(text: str, heading: str | None, language: str) -> str:
    """A chunk's full-text row: its heading's terms, then its text's."""
    return " ".join(
        t for t in (document_terms(heading or "", language), document_terms(text, language)) if t
    )


def query_terms(word: str, languages: Iterable[str]) -> list[list[str]]:
    """Each way ``word`` of a question is written in the index, one per language given.

    A way is a list of terms that must follow one another (a phrase), so a number such as
    "19,350.00" matches as its three parts in order. A run of an unspaced script is no word
    of its own but a stretch of a sentence: each of its character pairs is a way. Ways that
    come out the same for several languages are given once.
    """
    parts = _word().findall(word.casefold())
    if any(_UNSPACED.search(p) for p in parts):
        pairs = (t for language in languages for p in parts for t in _terms(p, language))
        return [[t] for t in dict.fromkeys(pairs)]
    ways = (tuple(t for p in parts for t in _terms(p, language)) for language in languages)
    return [list(w) for w in dict.fromkeys(ways) if w]
