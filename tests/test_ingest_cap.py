"""Config.max_chunks_per_file bounds what one file costs: its first chunks are indexed, the
rest is skipped with a warning naming the file and the setting, and the batch goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragkit import Assistant, Config, ConfigError, TextEncoder

CAP = 5


def _long_text(paragraphs: int) -> str:
    return "\n\n".join(
        f"Paragraph {n} of the archive. "
        + " ".join(f"Clause {n}.{k} sets out rule number {k} for section {n}." for k in range(12))
        for n in range(paragraphs)
    )


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "worker"])
def test_a_file_past_the_cap_is_cut_and_the_batch_goes_on(
    tmp_path: Path, config: Config, encoder: TextEncoder, workers: int
) -> None:
    long = tmp_path / "archive.txt"
    long.write_text(_long_text(60), encoding="utf-8")
    short = tmp_path / "memo.txt"
    short.write_text("The office closes at noon on Friday.", encoding="utf-8")
    capped = config.replace(max_chunks_per_file=CAP, parse_workers=workers)

    with Assistant(tmp_path / "i.db", capped, encoder=encoder) as kb:
        report = kb.add([long, short])
        chunks = {Path(d.path).name: d.chunks for d in kb.documents()}
        assert kb.search("Clause 0.3 sets out rule number 3")
        # The end of the file was never indexed.
        assert not any("Paragraph 59 " in hit.text for hit in kb.search("Paragraph 59", k=20))

    assert chunks == {"archive.txt": CAP, "memo.txt": 1}
    assert not report.failed
    assert sorted(Path(p).name for p in report.added) == ["archive.txt", "memo.txt"]
    assert report.chunks_embedded == CAP + 1
    (warning,) = report.warnings
    assert warning.path == str(long.resolve())
    assert f"only the first {CAP} of its " in warning.reason
    assert "Config.max_chunks_per_file" in warning.reason
    total = int(warning.reason.split(" of its ")[1].split()[0].replace(",", ""))
    assert total > CAP


def test_the_cap_must_be_positive(config: Config) -> None:
    with pytest.raises(ConfigError, match="max_chunks_per_file"):
        config.replace(max_chunks_per_file=0)
