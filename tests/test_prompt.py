"""Prompt construction and citation checking (pure logic)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ragkit._language import answer_language, stopwords
from ragkit._retrieval import fuse
from ragkit._text import STOPWORDS
from ragkit.answer._prompt import (
    SYSTEM_PROMPT,
    build_messages,
    drop_invalid_markers,
    is_abstention,
    parse_citations,
    trim_passages,
)
from ragkit.answer._support import (
    answer_sentences,
    check_claims,
    passage_sentences,
    score_passages,
    score_sentences,
)

from .helpers import passage


def test_messages_put_system_first_then_passages_then_question() -> None:
    msgs = build_messages("When?", [passage(1, "alpha", page=2), passage(2, "beta")])
    assert msgs[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    # Everything before the last message is the same for every question (KV-cache prefix).
    assert msgs[:3] == build_messages("Other?", [passage(3)])[:3]
    user = msgs[-1]["content"]
    assert (
        user.index("[1] (f1.pdf, p. 2)\nalpha")
        < user.index("[2] (f2.pdf)\nbeta")
        < user.index("Question: When?")
    )


def test_parse_citations_handles_lists_and_repeats() -> None:
    assert parse_citations("A [2]. B [1, 3]. C [2].") == [2, 1, 3]
    assert parse_citations("no markers, [x] or [ ]") == []


def test_invalid_citations_never_stream_even_split_across_pieces() -> None:
    pieces = ["Open at 8 [", "1]. Closed ", "[", "7", "]. Both [1,", " 9]. End [2]"]
    shown = list(drop_invalid_markers(iter(pieces), 2))
    assert "".join(shown) == "Open at 8 [1]. Closed. Both [1]. End [2]"
    assert not any("7" in piece or "9" in piece for piece in shown)


def test_answer_sentences_attach_markers_written_after_the_stop() -> None:
    assert answer_sentences('It is "official". [1] Next one [2, 3]. Last [9]. [4]') == [
        ('It is "official".', [1]),
        ("Next one.", [2, 3]),
        ("Last.", [9, 4]),
    ]
    assert answer_sentences("No markers") == [("No markers", [])]


def test_answer_sentences_end_at_line_breaks_and_list_each_number_once() -> None:
    assert answer_sentences("Open at 8 [1]\nClosed on Sundays [2]\n[3]") == [
        ("Open at 8", [1]),
        ("Closed on Sundays", [2, 3]),
    ]
    assert answer_sentences("- Open at 8 [1].\n\n- Closed [1][2] [1].") == [
        ("- Open at 8.", [1]),
        ("- Closed.", [1, 2]),
    ]
    assert answer_sentences("Open at 8 [1]. [1, 2]") == [("Open at 8.", [1, 2])]


def test_answer_sentences_drop_a_list_of_markers_whole() -> None:
    # Written by the 1.5B model; the commas between markers once stayed as "Normans,,."
    assert answer_sentences("Normans [1], [2], [3].") == [("Normans.", [1, 2, 3])]
    assert answer_sentences("It is 7 years [1], after closing [2] and [3].") == [
        ("It is 7 years, after closing.", [1, 2, 3])
    ]


def test_passage_sentences_undo_pdf_wraps_but_keep_items_and_titles() -> None:
    text = (
        "Commercial Office Lease - Suite 410\nArticle 2.1 Amount. On signing the Tenant\n"
        "shall pay $19,350.00.\n2.2 Use. The Landlord may\napply it.\n\n## Visitors\n\n"
        "- Every visitor signs in\nat the desk.\n- Badges are returned."
    )
    assert passage_sentences(text) == [
        "Commercial Office Lease - Suite 410",
        "Article 2.1 Amount.",
        "On signing the Tenant shall pay $19,350.00.",
        "2.2 Use.",
        "The Landlord may apply it.",
        "Visitors",
        "Every visitor signs in at the desk.",
        "Badges are returned.",
    ]


def test_abstention_detection() -> None:
    assert is_abstention("I don't know.")
    assert is_abstention("  I do not know the answer")
    assert not is_abstention("The clinic opens at 8. I don't know more.")


def test_fusion_rewards_agreement() -> None:
    fused = dict(fuse([(1, 0.9), (2, 0.5), (3, 0.4)], [(3, 10.0), (1, 9.0)], 0.5))
    assert max(fused, key=fused.__getitem__) == 1
    assert fused[3] > fused[2]


def test_fusion_trusts_a_passage_far_ahead_over_one_just_ahead() -> None:
    # The vectors barely prefer 1; BM25 puts 2 far ahead. Rank fusion would tie them.
    dense = [(1, 0.52), (2, 0.50), (3, 0.49), (4, 0.48), (5, 0.47)]
    sparse = [(2, 30.0), (1, 3.0), (3, 2.9), (4, 2.8), (5, 2.7)]
    assert [item for item, _ in fuse(dense, sparse, 0.5)[:2]] == [2, 1]
    # Each side alone decides when it has all the weight.
    for weight, best in ((1.0, 1), (0.0, 2)):
        fused = dict(fuse(dense, sparse, weight))
        assert max(fused, key=fused.__getitem__) == best


def test_a_candidate_of_one_ranking_only_gets_the_other_ranking_lowest_score() -> None:
    fused = dict(fuse([(1, 0.9), (2, 0.1)], [(3, 5.0), (1, 1.0)], 0.5))
    # 2 is last among the vectors and absent from BM25: last of all.
    assert min(fused, key=fused.__getitem__) == 2 and set(fused) == {1, 2, 3}


def _one_hot_encode(texts):
    """A stand-in encoder: one dimension per distinct first word, so cosine is 1 or 0."""
    vocab: dict[str, int] = {}
    rows = [vocab.setdefault(t.split()[0].lower(), len(vocab)) for t in texts]
    out = np.zeros((len(texts), 64), dtype=np.float32)
    out[np.arange(len(texts)), rows] = 1
    return out


def test_the_answer_language_is_named_where_question_and_passages_share_one() -> None:
    german = "Wer gründete die Universität in Berlin?"
    assert answer_language(german, ["de", "en", "de"]) == "German"
    # English is the prompt's own; a question in another language than its passages, or
    # passages in a language with no name here, are left to the system prompt's rule.
    assert answer_language("When does the clinic open on Fridays?", ["en"]) is None
    assert answer_language(german, ["en", "en"]) is None
    assert answer_language(german, []) is None
    asked = build_messages(german, [passage(1)], language="German")[-1]["content"]
    assert asked.endswith(f"Question: {german}\nAnswer in German.")
    assert build_messages(german, [passage(1)])[-1]["content"].endswith(german)


def test_words_of_a_passages_title_do_not_pick_its_sentences() -> None:
    text = "Riverbend Family Clinic handbook. Friday: 8 a.m. to 4 p.m. Saturday: closed."
    title = dataclasses.replace(passage(1, text), title="Riverbend Family Clinic Handbook")
    question = "When does Riverbend Family Clinic close on Fridays?"
    by_words = score_sentences(question, [text], _one_hot_encode)[0]
    assert max(by_words, key=lambda s: s.score).text.startswith("Riverbend")
    best = max(score_passages(question, [title], _one_hot_encode)[0], key=lambda s: s.score)
    assert best.text == "Friday: 8 a.m. to 4 p.m."


def _zero_encode(texts):
    """A stand-in encoder whose cosines are all 0: support is the claim's words alone."""
    return np.zeros((len(texts), 8), dtype=np.float32)


def test_function_words_of_the_passages_language_back_no_claim() -> None:
    """German's "von", "und", "mit" are in every German passage: counted as claimed words
    they made an answer taken from the wrong passage look backed by it (0.75, the default
    threshold, with English stop words alone)."""
    question = "Womit wurde die Hymne begleitet?"
    texts = [
        "Sie wurde in der Stadt von allen und mit großer Freude gesungen.",
        "Die Gemeinde begleitete die Hymne mit Trompeten.",
    ]
    ps = [dataclasses.replace(passage(i, t), language="de") for i, t in enumerate(texts, 1)]
    evidence = score_passages(question, ps, _zero_encode)
    stop = stopwords(p.language for p in ps)

    def check(answer: str, stop: frozenset[str]):
        (sentence,) = check_claims(
            answer, question, evidence, _zero_encode, threshold=0.75, stop=stop
        )
        return sentence

    wrong = "Sie wurde von allen und mit der Orgel begleitet [1]."
    assert check(wrong, STOPWORDS).supported and not check(wrong, stop).supported
    right = check("Sie wurde mit Trompeten begleitet [1].", stop)
    assert right.supported and right.citations == (2,) and right.inferred
    # English keeps its own list: "die" is a word there, and the stop-words package's
    # English list would drop "first" and "four".
    assert stopwords(["en", "und", "xx"]) == STOPWORDS and "die" not in STOPWORDS
    assert {"und", "mit", "von"} <= stop and {"orgel", "trompeten"}.isdisjoint(stop)


def test_trimming_keeps_the_best_sentences_in_order_within_budget() -> None:
    ps = [
        passage(1, "Alpha one. Bravo two. Question words here. Delta four."),
        passage(2, "Question words again. Echo five."),
        passage(3, "Foxtrot six. Golf seven."),
    ]
    scored = score_sentences("Question words?", [p.text for p in ps], _one_hot_encode)
    words = lambda t: len(t.split())  # noqa: E731
    excerpts = trim_passages(
        ps, scored, budget=12, max_passages=2, per_passage=2, count_tokens=words
    )
    # Best sentences first (headers "[n] (f1.pdf)" cost 2 words each), ties in reading
    # order; a third passage may not join; kept sentences in reading order, gaps marked.
    assert [e.passage.chunk_id for e in excerpts] == [1, 2]
    assert [e.passage.text for e in excerpts] == [
        "Alpha one. … Question words here.",
        "Question words again.",
    ]
    # The best sentence is kept even when it alone is over budget.
    tight = trim_passages(ps, scored, budget=1, max_passages=4, per_passage=3, count_tokens=words)
    assert [s.text for e in tight for s in e.sentences] == ["Question words here."]
