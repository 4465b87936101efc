"""Full text in every language: each document's language detected and stored, its words
indexed by that language's stemmer, unspaced scripts as character pairs, the question
turned into terms the same way, and an index from before languages upgraded in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragkit import Assistant, Config, Filter
from ragkit._language import UNDETERMINED, detect, document_terms, query_terms
from ragkit._retrieval import trusted_dense_weight
from ragkit.models._interfaces import TextEncoder, encoder_languages
from ragkit.store import SCHEMA_VERSION, fts_query

from .helpers import downgrade_schema

# One document per language; each question finds its document only through a word written
# in another form (an inflection, a plural) or, for Chinese, inside a longer run of text.
DOCUMENTS = [
    (
        "de",
        "Die Universitäten des Landes wurden im neunzehnten Jahrhundert von den Fürsten "
        "gegründet und stehen seitdem allen Bürgern offen.",
    ),
    (
        "ru",
        "Университеты страны были основаны в девятнадцатом веке, и с тех пор они открыты "
        "для всех граждан.",
    ),
    (
        "zh",
        "这个国家的大学是在十九世纪建立的，从那时起向所有公民开放。医院每天早上八点开门。",
    ),
    (
        "es",
        "Las bibliotecas municipales prestan libros a todos los vecinos que presenten su "
        "tarjeta de residencia.",
    ),
    (
        "en",
        "The harbour authority inspects every fishing boat twice a year before the season opens.",
    ),
]
QUESTIONS = [
    ("Wer gründete die Universität?", "de"),
    ("Когда был основан университет?", "ru"),
    ("医院几点开门", "zh"),
    ("¿Qué biblioteca presta un libro?", "es"),
    ("When are the boats inspected?", "en"),
]


@pytest.mark.parametrize("language, text", DOCUMENTS)
def test_each_document_language_is_detected(language: str, text: str) -> None:
    assert detect(text) == language


def test_too_little_text_has_no_language() -> None:
    assert detect("") == detect("12 345, 7") == detect("Data") == UNDETERMINED


def test_terms_are_stems_and_pairs() -> None:
    assert document_terms("Universitäten Universität", "de").split() == ["universitat"] * 2
    # Chinese is cut into overlapping pairs; an isolated ideograph stays whole.
    assert document_terms("大学开门 书", "zh").split() == ["大学", "学开", "开门", "书"]
    # Indic vowel signs are marks: they stay inside their word.
    assert document_terms("हिन्दी भाषा", "hi").split() == ["हिन्द", "भाष"]
    # A language without a stemmer is only case-folded.
    assert document_terms("Ünïcode WORDS", UNDETERMINED) == "ünïcode words"


def test_a_question_word_takes_the_form_of_every_language_held() -> None:
    assert query_terms("Universitäten", ["de", "en"]) == [["universitat"], ["universitäten"]]
    assert query_terms("19,350.00", ["en"]) == [["19", "350", "00"]]
    assert query_terms("大学开门", ["zh", "en"]) == [["大学"], ["学开"], ["开门"]]
    assert fts_query("Universitäten 19,350.00", ["de"]) == '"universitat" OR "19 350 00"'


@pytest.fixture(scope="module")
def languages_index(tmp_path_factory: pytest.TempPathFactory, config: Config) -> Path:
    db = tmp_path_factory.mktemp("languages") / "languages.db"
    with Assistant(db, config) as kb:
        kb.add_texts([(language, text) for language, text in DOCUMENTS])
    return db


def test_the_detected_language_is_stored(languages_index: Path, config: Config) -> None:
    with Assistant(languages_index, config) as kb:
        assert {d.path: d.language for d in kb.documents()} == {lang: lang for lang, _ in DOCUMENTS}


@pytest.mark.parametrize("question, expected", QUESTIONS)
def test_full_text_finds_each_language_by_another_form_of_its_word(
    languages_index: Path, config: Config, question: str, expected: str
) -> None:
    with Assistant(languages_index, config) as kb:
        passages = kb.search(question, k=1, mode="bm25")
    assert [p.path for p in passages] == [expected]


@pytest.mark.parametrize("version", [2, 3])
def test_an_index_from_before_languages_is_upgraded_in_place(
    tmp_path: Path, config: Config, version: int
) -> None:
    """Schema 2 (English-only full text) and 3 (text and heading terms in two columns)."""
    db = tmp_path / "old.db"
    with Assistant(db, config) as kb:
        kb.add_texts([(language, text) for language, text in DOCUMENTS])
        downgrade_schema(kb._open(with_encoder=False).conn, version)
    with Assistant(db, config) as kb:
        assert {d.path: d.language for d in kb.documents()} == {lang: lang for lang, _ in DOCUMENTS}
        (passage,) = kb.search("Wer gründete die Universität?", k=1, mode="bm25")
        assert passage.path == "de"
        conn = kb._open(with_encoder=False).conn
        assert conn.execute("pragma user_version").fetchone()[0] == SCHEMA_VERSION
        counts = kb._open(with_encoder=False).counts()
        assert counts["fts"] == counts["chunks"] == len(DOCUMENTS)


def test_the_english_encoder_says_so(encoder: TextEncoder) -> None:
    assert encoder_languages(encoder) == {"en"}


def test_the_vector_share_counts_only_documents_the_encoder_can_read() -> None:
    english = frozenset({"en"})
    assert trusted_dense_weight(0.5, None, {"de": 3}) == 0.5  # an encoder that does not say
    assert trusted_dense_weight(0.5, english, {}) == 0.5
    assert trusted_dense_weight(0.5, english, {"en": 3, UNDETERMINED: 1}) == 0.5
    assert trusted_dense_weight(0.5, english, {"en": 1, "de": 1}) == 0.25
    assert trusted_dense_weight(0.5, english, {"de": 2, "ru": 1}) == 0.0


def test_hybrid_is_full_text_alone_where_the_encoder_cannot_read(
    tmp_path: Path, config: Config
) -> None:
    german = [(lang, text) for lang, text in DOCUMENTS if lang in ("de", "es", "ru")]
    with Assistant(tmp_path / "foreign.db", config) as kb:
        kb.add_texts(german)
        for question, _ in QUESTIONS:
            hybrid = kb.search(question, k=3, mode="hybrid")
            bm25 = kb.search(question, k=3, mode="bm25")
            assert [(p.path, p.rank_score) for p in hybrid] == [
                (p.path, p.rank_score) for p in bm25
            ]


def test_the_cosine_gate_passes_what_the_encoder_cannot_read(
    languages_index: Path, config: Config, encoder: TextEncoder
) -> None:
    """A question whose passages all score below Config.min_similarity is declined before
    the model only where that cosine means something: for the German document the English
    encoder cannot read, the model is asked and its answer checked; for English, declined."""
    from ragkit.testing import ScriptedGenerator

    cases = [("Wer gründete die Universität?", "de", True), ("Who won the cup?", "en", False)]
    for question, path, asked in cases:
        generator = ScriptedGenerator("I don't know.")
        with Assistant(
            languages_index,
            config.replace(min_similarity=0.99),
            encoder=encoder,
            generator=generator,
        ) as kb:
            answer = kb.ask(question, where=Filter(path=path))
        assert answer.abstained and [p.language for p in answer.passages] == [path]
        assert bool(generator.calls) is asked
