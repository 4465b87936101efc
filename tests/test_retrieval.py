"""Near-duplicate removal and neighbouring-chunk expansion, on a real index of the samples."""

from __future__ import annotations

import shutil
from pathlib import Path

from ragkit import Assistant, Config

from .helpers import SAMPLES


def test_duplicate_document_does_not_take_two_places(tmp_path: Path, config: Config) -> None:
    corpus = tmp_path / "c"
    shutil.copytree(SAMPLES, corpus)
    shutil.copy(corpus / "visitor-guide.md", corpus / "visitor-guide-copy.md")
    with Assistant(tmp_path / "i.db", config) as kb:
        kb.add(corpus)
        hits = kb.search("Where do visitors park and what does a lost key fob cost?", k=4)
    # Without the check, both copies of the best passage take the first two places.
    texts = [h.text for h in hits]
    assert len(hits) == 4 and len(set(texts)) == 4


def test_expansion_adds_neighbours_without_repeating_overlap(
    tmp_path: Path, config: Config
) -> None:
    small = config.replace(chunk_tokens=60, chunk_overlap=20)
    with Assistant(tmp_path / "i.db", small) as kb:
        kb.add(SAMPLES / "office-policy.md")
        plain = kb.search("minimum password length", k=1)[0]
    with Assistant(tmp_path / "i.db", small.replace(expand_neighbors=1)) as kb:
        wide = kb.search("minimum password length", k=1)[0]
    assert wide.chunk_id == plain.chunk_id and plain.text in wide.text
    assert len(wide.text) > len(plain.text)
    sentences = [s.strip() for s in wide.text.replace("\n", " ").split(". ") if len(s) > 30]
    assert len(sentences) == len(set(sentences)), "overlapping sentences were repeated"
