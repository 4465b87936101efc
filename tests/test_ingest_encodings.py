"""Text files without a declared encoding: detected, not guessed by a fixed rule, and a
detection made with low confidence reported as a warning."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ragkit import Assistant, Config, TextEncoder
from ragkit.ingest import load
from ragkit.store import Index

from .helpers import assert_load_error

POLISH = (
    "Zażółć gęślą jaźń. Wczoraj po południu zebranie zarządu przeniesiono do małej sali. "
    "Księgowość prosi o przesłanie faktur do piątku. Urlopy należy zgłaszać kierownikowi "
    "działu z dwutygodniowym wyprzedzeniem."
)
RUSSIAN = (
    "Медицинские учреждения города работают в обычном режиме. Врачи принимают пациентов "
    "по предварительной записи. Просим граждан соблюдать правила посещения поликлиник."
)
GERMAN = (
    "Die Größe der Straße überrascht viele Besucher. Wir fahren morgen nach München, um "
    "die Ausstellung über Bäume zu sehen. Bitte bringen Sie Ihren Ausweis mit."
)
# Too short for charset-normalizer to recognise a language: read right, but with a warning.
SHORT_RUSSIAN = "Медицинские учреждения"


@pytest.mark.parametrize(
    ("name", "text", "encoding"),
    [
        ("polish.txt", POLISH, "cp1250"),
        ("russian.md", RUSSIAN, "cp1251"),
        ("russian.html", RUSSIAN, "cp1251"),
        ("german.txt", GERMAN, "utf-16-le"),
        ("russian-utf16.txt", RUSSIAN, "utf-16-le"),
        ("german-be.md", GERMAN, "utf-16-be"),
        ("plain.txt", POLISH, "utf-8"),
    ],
)
def test_undeclared_encodings_are_detected(
    tmp_path: Path, name: str, text: str, encoding: str
) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    doc = load(path)
    assert doc.sections[0].text == text
    assert doc.warnings == ()  # long enough to be sure, so nothing to report


def test_a_detection_with_low_confidence_warns_naming_the_encoding(tmp_path: Path) -> None:
    path = tmp_path / "short.txt"
    path.write_bytes(SHORT_RUSSIAN.encode("cp1251"))
    doc = load(path)
    assert doc.sections[0].text == SHORT_RUSSIAN
    assert len(doc.warnings) == 1
    assert "read as cp1251" in doc.warnings[0] and "save the file as UTF-8" in doc.warnings[0]


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 40,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        random.Random(13).randbytes(20_000),
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" * 64,
    ],
    ids=["all-bytes", "png", "random", "exe-header"],
)
def test_binary_data_is_still_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "blob.txt"
    path.write_bytes(data)
    assert_load_error(path, "looks like binary data, not text")


def test_ingest_keeps_the_text_and_reports_only_the_unsure_file(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    folder = tmp_path / "office"
    folder.mkdir()
    (folder / "polish.txt").write_bytes(POLISH.encode("cp1250"))
    (folder / "russian.md").write_bytes(RUSSIAN.encode("cp1251"))
    (folder / "german.txt").write_bytes(GERMAN.encode("utf-16-le"))
    (folder / "plain.txt").write_text(GERMAN, encoding="utf-8")
    (folder / "short.txt").write_bytes(SHORT_RUSSIAN.encode("cp1251"))
    with Assistant(tmp_path / "i.db", config, encoder=encoder) as kb:
        report = kb.add(folder)
    assert not report.failed and len(report.added) == 5
    assert [Path(w.path).name for w in report.warnings] == ["short.txt"]
    assert "read as cp1251" in report.warnings[0].reason
    with Index(tmp_path / "i.db") as index:
        for phrase in ("Zażółć gęślą jaźń", "Врачи принимают пациентов", "Größe der Straße"):
            hits = index.chunks([chunk_id for chunk_id, _ in index.text_search(phrase, 3)])
            assert any(phrase in chunk.text for chunk in hits.values()), phrase
