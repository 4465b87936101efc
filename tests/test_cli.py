"""The `ragkit` command: output formats, exit codes, and that every command is documented."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ragkit.cli import main

from .conftest import ROOT, SAMPLES

TINY = ["--generator", "smollm2-135m-q4_1"]


def run(*args: str, ok: bool = True) -> click.testing.Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_ingest_twice_embeds_nothing_the_second_time(tmp_path: Path, home: Path) -> None:
    db = str(tmp_path / "i.db")
    first = run("--home", str(home), "--db", db, "ingest", str(SAMPLES))
    assert re.search(r"5 added, 0 updated, 0 unchanged, 0 failed; [1-9]\d* chunks embedded",
                     first.output)
    second = run("--home", str(home), "--db", db, "ingest", str(SAMPLES))
    assert "0 added, 0 updated, 5 unchanged, 0 failed; 0 chunks embedded" in second.output


def test_ingest_of_only_bad_files_exits_non_zero(tmp_path: Path, home: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "junk.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    result = run("--home", str(home), "--db", str(tmp_path / "i.db"), "ingest", str(tmp_path), ok=False)
    assert result.exit_code == 1
    assert "empty.txt: file is empty" in result.output
    assert re.search(r"junk\.pdf: .*PDF", result.output)


def test_ingest_goes_on_past_a_bad_file(tmp_path: Path, home: Path) -> None:
    shutil.copy(SAMPLES / "visitor-guide.md", tmp_path)
    (tmp_path / "blob.md").write_bytes(b"\x00\x01\x02" * 500)
    result = run("--home", str(home), "--db", str(tmp_path / "i.db"), "ingest", str(tmp_path))
    assert "1 added" in result.output and "1 failed" in result.output
    assert len([line for line in result.output.splitlines() if "blob.md" in line]) == 1


def test_ask_json_has_answer_and_citations(samples_index: Path, home: Path) -> None:
    result = run("--home", str(home), *TINY, "--db", str(samples_index), "ask", "--json",
                 "What does it cost to replace a lost key fob?")
    data = json.loads(result.output)
    assert data["answer"] and data["citations"]
    for c in data["citations"]:
        assert {"path", "page", "text", "score"} <= set(c)
        assert Path(c["path"]).is_file()


def test_ask_prints_sources_table(samples_index: Path, home: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Relative to the working directory, the file name fits an 80-column table however deep
    # the checkout is (CI's longer root once wrapped it onto two lines).
    monkeypatch.chdir(ROOT)
    result = run("--home", str(home), *TINY, "--db", str(samples_index), "ask",
                 "What temperature must the vaccine refrigerator stay between?")
    assert "Sources" in result.output
    assert "samples/corpus/clinic-handbook.pdf" in result.output


def test_search_and_ls_json(samples_index: Path, home: Path) -> None:
    hits = json.loads(run("--home", str(home), "--db", str(samples_index), "search", "--json",
                          "-k", "3", "security deposit").output)
    assert len(hits) == 3 and Path(hits[0]["path"]).name == "office-lease.pdf"
    assert hits[0]["page"] == 2
    docs = json.loads(run("--home", str(home), "--db", str(samples_index), "ls", "--json").output)
    assert len(docs) == 5 and all(d["chunks"] > 0 for d in docs)


def test_rm_removes_and_reports_unknown(samples_copy: Path, home: Path) -> None:
    db = ["--home", str(home), "--db", str(samples_copy)]
    result = run(*db, "rm", str(SAMPLES / "office-policy.md"))
    assert "removed" in result.output
    again = run(*db, "rm", str(SAMPLES / "office-policy.md"), ok=False)
    assert again.exit_code == 1 and "no indexed document" in again.output


def test_models_and_doctor(home: Path) -> None:
    listed = json.loads(run("--home", str(home), "models", "list", "--json").output)
    assert {"minilm-l6-v2-int8", "smollm2-135m-q4_1"} <= {p["name"] for p in listed}
    assert run("--home", str(home), "models", "verify", "smollm2-135m-q4_1").exit_code == 0
    doctor = json.loads(run("--home", str(home), "doctor", "--json").output)
    names = {c["name"]: c for c in doctor}
    assert names["sqlite-vec"]["ok"] and names["encoder pack"]["ok"] and names["cpu"]["ok"]


def test_missing_pack_is_a_clear_error(tmp_path: Path) -> None:
    result = run("--home", str(tmp_path), "--db", str(tmp_path / "i.db"), "search", "x", ok=False)
    assert result.exit_code == 1 and "ragkit models build" in result.output


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix}{name} ")
    return found


@pytest.mark.parametrize("name,command", _commands(main))
def test_every_command_and_option_is_in_the_readme(name: str, command: click.Command) -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"ragkit {name}" in readme, f"`ragkit {name}` is not documented in README.md"
    for param in command.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt != "--help":
                assert opt in readme, f"option {opt} of `ragkit {name}` is not in README.md"
