"""Files in a folder of a type ragkit does not read are listed with the reason, not passed
over in silence; hidden and filtered-out files stay silent."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from ragkit import Assistant, Config, TextEncoder
from ragkit.cli import main
from ragkit.ingest import iter_files

from .helpers import SAMPLES

UNSUPPORTED = {
    "budget.numbers": "year,amount\n2024,100\n",
    "letter.pages": "Dear tenant",
    "mail/question.msg": "Subject: lease\n\nWhen does the lease end?\n",
}


def office(root: Path) -> Path:
    """A folder of two documents ragkit reads, three it does not, and files to stay silent."""
    folder = root / "office"
    (folder / "mail").mkdir(parents=True)
    shutil.copy(SAMPLES / "office-policy.md", folder)
    shutil.copy(SAMPLES / "clinic-handbook.pdf", folder)
    for name, text in UNSUPPORTED.items():
        (folder / name).write_text(text)
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "scratch.log").write_text("excluded by .ragkitignore")
    (folder / ".ragkitignore").write_text("*.log\n")
    return folder


def test_the_walk_reports_unsupported_files_only(tmp_path: Path) -> None:
    folder = office(tmp_path)
    skipped: list[tuple[str, str]] = []
    unsupported: list[tuple[str, str]] = []
    found = iter_files(
        [folder],
        exclude=["*.pages"],
        skipped=lambda p, r: skipped.append((p, r)),
        unsupported=lambda p, r: unsupported.append((p, r)),
    )
    assert [p.name for p in found] == ["clinic-handbook.pdf", "office-policy.md"]
    assert not skipped
    # The --exclude'd .pages, the ignored .log and the hidden file are not mentioned.
    assert sorted(Path(p).relative_to(folder).as_posix() for p, _ in unsupported) == [
        "budget.numbers",
        "mail/question.msg",
    ]
    for path, reason in unsupported:
        suffix = Path(path).suffix
        assert reason.startswith(f"unsupported file type {suffix} (ragkit reads ")
        assert ".pdf" in reason and ".docx" in reason


def test_the_report_lists_them_and_stays_ok(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    folder = office(tmp_path)
    with Assistant(tmp_path / "i.db", config, encoder=encoder) as kb:
        report = kb.add(folder)
    assert sorted(Path(p).name for p in report.added) == ["clinic-handbook.pdf", "office-policy.md"]
    assert sorted(Path(f.path).relative_to(folder).as_posix() for f in report.skipped) == sorted(
        UNSUPPORTED
    )
    assert all("unsupported file type" in f.reason for f in report.skipped)
    assert not report.failed and report.ok


def test_the_cli_names_them_and_exits_zero(tmp_path: Path, home: Path) -> None:
    folder = office(tmp_path)
    result = CliRunner().invoke(
        main,
        ["--home", str(home), "--db", str(tmp_path / "i.db"), "ingest", str(folder)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # undo Rich's line wrapping
    assert "2 added, 0 updated, 0 unchanged, 0 failed, 3 not supported;" in output
    for name in UNSUPPORTED:
        assert f"skipped {folder / name}: unsupported file type {Path(name).suffix}" in output
    assert "DS_Store" not in output and "scratch.log" not in output
