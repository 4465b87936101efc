"""Near-duplicate suppression drops the same text twice but keeps templated documents that
differ in names, numbers or dates (issue 13: four follow-up letters to four patients)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ragkit import Assistant, Config, TextEncoder
from ragkit._retrieval import DUPLICATE_JACCARD, identifiers, near_duplicates
from ragkit._text import words

TEMPLATE = """Follow-up letter

Patient: {name}
Date of birth: {born}
Hospital number: {number}

Dear {title} {surname},

Thank you for attending the outpatient clinic on {seen}. This is the follow-up letter after
the appointment. Your blood tests were within the expected range and the doctor was happy
with your progress. We would like to see you again in six weeks to review the treatment
plan. Please bring a list of any medicines, vitamins or herbal remedies you take, wear
comfortable clothes, and allow an hour for scans. Parking near the main entrance is
limited, so public transport or a lift from family might be easier.

The balance for this visit is {amount}. You can pay it by card at the reception desk, by
phone or through our website.

Yours sincerely,
The outpatient clinic team
"""

PATIENTS = [
    dict(name="Alice Brown", born="12 March 1984", number="HN-40211", title="Ms",
         surname="Brown", seen="3 June 2024", amount="£45.00"),
    dict(name="David Okafor", born="30 July 1961", number="HN-51873", title="Mr",
         surname="Okafor", seen="11 June 2024", amount="£120.50"),
    dict(name="Maria Lindqvist", born="2 January 1990", number="HN-66920", title="Mrs",
         surname="Lindqvist", seen="19 June 2024", amount="£80.00"),
    dict(name="Tomasz Nowak", born="27 October 1975", number="HN-70034", title="Mr",
         surname="Nowak", seen="25 June 2024", amount="£15.75"),
]  # fmt: skip


def _jaccard_close(a: str, b: str) -> bool:
    """The word-overlap test alone: word sets overlapping at least DUPLICATE_JACCARD."""
    x, y = ({w.lower() for w in words(t)} for t in (a, b))
    return len(x & y) >= DUPLICATE_JACCARD * len(x | y)


def write_letters(folder: Path) -> list[Path]:
    folder.mkdir()
    paths = []
    for patient in PATIENTS:
        path = folder / f"letter-{patient['surname'].lower()}.txt"
        path.write_text(TEMPLATE.format(**patient), encoding="utf-8")
        paths.append(path)
    return paths


def test_templated_letters_to_different_patients_all_come_back(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    letters = write_letters(tmp_path / "letters")
    # The letters are the near-duplicates the word-overlap check measures...
    a, b = (TEMPLATE.format(**p) for p in PATIENTS[:2])
    assert _jaccard_close(a, b)
    with Assistant(tmp_path / "i.db", config, encoder=encoder) as kb:
        report = kb.add(tmp_path / "letters")
        assert not report.failed, report.failed
        hits = kb.search("follow-up letter after the appointment", k=4)
    # ...but each is to a different patient, so each is its own answer.
    assert sorted(Path(h.path).name for h in hits) == sorted(p.name for p in letters)


def test_identical_copies_still_come_back_once(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    letters = write_letters(tmp_path / "letters")
    shutil.copy(letters[0], letters[0].with_name("letter-brown-copy.txt"))
    with Assistant(tmp_path / "i.db", config, encoder=encoder) as kb:
        report = kb.add(tmp_path / "letters")
        assert not report.failed, report.failed
        hits = kb.search("follow-up letter after the appointment", k=4)
    names = [Path(h.path).name for h in hits]
    assert len(hits) == 4 and len({h.text for h in hits}) == 4
    assert sum(n.startswith("letter-brown") for n in names) == 1, names


def test_identifiers_are_numbers_names_and_months() -> None:
    text = (
        "Dear Ms Brown, your visit on 3 June 2024 cost £45.00. The next one is in may.\n"
        "March is busy. Reference HN-40211 applies."
    )
    # Numbers (dates, amounts, ids), capitalised words inside a sentence (names, "Ms"), and
    # month names even at a sentence start; not "Dear", "The" or "Reference" (each starts a
    # sentence or line), nor the verb "may".
    assert identifiers(text) == {
        "ms",
        "brown",
        "3",
        "june",
        "2024",
        "45.00",
        "hn",
        "40211",
        "march",
    }


def test_rule_keeps_substituted_identifiers_and_drops_repeats() -> None:
    alice, david = (TEMPLATE.format(**p) for p in PATIENTS[:2])
    # The same letter to two patients: names, dates and amounts substituted.
    assert not near_duplicates(alice, david)
    # The same text twice, or differing only in case and spacing.
    assert near_duplicates(alice, alice)
    assert near_duplicates(alice, " ".join(alice.split()))
    assert near_duplicates(alice, alice.lower())
    # One slot changed is enough: the same letter with another amount is another letter.
    assert not near_duplicates(alice, alice.replace("£45.00", "£46.00"))


def test_rule_drops_overlapping_windows_of_one_text() -> None:
    # Two chunks of one document whose boundaries moved by a sentence (a copy saved in
    # another format): the words at the edges differ, numbers and names included, but
    # nothing was substituted, so they still say the same thing.
    sentences = [
        f"Sentence {i} of the Harbour Lane guide says {1000 + i} cars pay {10 + i} pounds."
        for i in range(12)
    ]
    first, second = " ".join(sentences[:11]), " ".join(sentences[1:])
    assert _jaccard_close(first, second)
    assert near_duplicates(first, second)
    # Nor is a word hyphenated at a line end or a number written with a separator.
    other_format = second.replace("Harbour", "Har-\nbour", 1).replace("1003", "1,003")
    assert near_duplicates(second, other_format)
    # But another street in the same sentences is another guide.
    other_street = second.replace("Harbour Lane", "Mill Road")
    assert _jaccard_close(second, other_street)
    assert not near_duplicates(second, other_street)
