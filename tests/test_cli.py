"""The `ragkit` command: output formats, exit codes, and that every command is documented."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ragkit._doctor import _cpu
from ragkit.cli import main
from ragkit.store import Index
from ragkit.testing import Messages, Script, ScriptedGenerator

from .helpers import ROOT, SAMPLES, passage_number

ScriptedCli = Callable[[Script], ScriptedGenerator]

TINY = ["--generator", "smollm2-135m-q4_1"]


def run(*args: str, ok: bool = True) -> click.testing.Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def flat(output: str) -> str:
    """Output with Rich's line wrapping undone."""
    return " ".join(output.split())


def test_ingest_twice_embeds_nothing_the_second_time(tmp_path: Path, home: Path) -> None:
    db = str(tmp_path / "i.db")
    first = run("--home", str(home), "--db", db, "ingest", str(SAMPLES))
    assert re.search(
        r"5 added, 0 updated, 0 unchanged, 0 failed; [1-9]\d* chunks embedded", first.output
    )
    second = run("--home", str(home), "--db", db, "ingest", str(SAMPLES))
    assert "0 added, 0 updated, 5 unchanged, 0 failed; 0 chunks embedded" in second.output


def test_ingest_of_only_bad_files_exits_non_zero(tmp_path: Path, home: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "junk.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    result = run(
        "--home", str(home), "--db", str(tmp_path / "i.db"), "ingest", str(tmp_path), ok=False
    )
    assert result.exit_code == 1
    assert "empty.txt: file is empty" in result.output
    assert re.search(r"junk\.pdf: .*PDF", result.output)


def test_ingest_goes_on_past_a_bad_file(tmp_path: Path, home: Path) -> None:
    shutil.copy(SAMPLES / "visitor-guide.md", tmp_path)
    (tmp_path / "blob.md").write_bytes(b"\x00\x01\x02" * 500)
    result = run("--home", str(home), "--db", str(tmp_path / "i.db"), "ingest", str(tmp_path))
    assert "1 added" in result.output and "1 failed" in result.output
    assert len([line for line in result.output.splitlines() if "blob.md" in line]) == 1


def test_ask_json_with_the_tiny_model(samples_index: Path, home: Path) -> None:
    # A real model: only what holds whatever it writes is asserted.
    result = run(
        "--home",
        str(home),
        *TINY,
        "--db",
        str(samples_index),
        "ask",
        "--json",
        "What does it cost to replace a lost key fob?",
    )
    data = json.loads(result.output)
    assert data["answer"] and data["passages"] and data["mode"] == "generate"
    assert bool(data["abstained"]) != bool(data["citations"])
    for c in data["citations"]:
        assert {"n", "path", "page", "text", "similarity", "inferred"} <= set(c)
        assert 1 <= c["n"] <= len(data["passages"]) and Path(c["path"]).is_file()
        assert c["text"] == data["passages"][c["n"] - 1]["text"]


def _fridge(messages: Messages) -> str:
    n = passage_number(messages[-1]["content"], "8 degrees")
    return f"The vaccine refrigerator must stay between 2 and 8 degrees Celsius [{n}]."


def test_ask_prints_the_answer_and_a_sources_table(
    samples_index: Path, home: Path, monkeypatch: pytest.MonkeyPatch, scripted_cli: ScriptedCli
) -> None:
    generator = scripted_cli(_fridge)
    # Relative to the working directory, the file name fits an 80-column table however deep
    # the checkout is (CI's longer root once wrapped it onto two lines).
    monkeypatch.chdir(ROOT)
    result = run(
        "--home",
        str(home),
        "--db",
        str(samples_index),
        "ask",
        "What temperature must the vaccine refrigerator stay between?",
    )
    assert _fridge(generator.last_call.messages) in flat(result.output)
    assert "Sources" in result.output and "samples/corpus/clinic-handbook.pdf" in result.output
    assert "unsupported" not in result.output


UNSUPPORTED = "The clinic offers free helicopter transport to Paris"


def _deposit_and_paris(messages: Messages) -> str:
    n = passage_number(messages[-1]["content"], "$19,350.00")
    return f"The deposit is $19,350.00 [{n}]. {UNSUPPORTED} [{n}]."


def test_ask_marks_unsupported_sentences_and_strict_leaves_them_out(
    samples_index: Path, home: Path, scripted_cli: ScriptedCli
) -> None:
    generator = scripted_cli(_deposit_and_paris)
    db = ["--home", str(home), "--db", str(samples_index)]
    question = "How large is the security deposit the tenant pays when signing the lease?"
    # Rich wraps lines at the terminal's width.
    shown = flat(run(*db, "ask", question).output)
    n = passage_number(generator.last_call.prompt, "$19,350.00")
    assert f"The deposit is $19,350.00 [{n}]. {UNSUPPORTED} [{n}]. ⚠ unsupported" in shown
    assert "left out" not in shown
    strict = flat(run(*db, "ask", "--strict", question).output)
    assert f"The deposit is $19,350.00 [{n}]. (1 unsupported sentence left out: --strict)" in strict
    assert "helicopter" not in strict


def test_ask_shows_every_unsupported_sentence_without_strict(
    samples_index: Path, home: Path, scripted_cli: ScriptedCli
) -> None:
    # No sentence is supported: ragkit abstains, and without --strict the draft is still
    # shown below, each sentence marked; --strict shows the abstention alone.
    scripted_cli(f"{UNSUPPORTED} [1]. The lobby has a piano [1].")
    db = ["--home", str(home), "--db", str(samples_index)]
    question = "How large is the security deposit the tenant pays when signing the lease?"
    shown = flat(run(*db, "ask", question).output)
    assert "I don't know" in shown
    assert f"{UNSUPPORTED} [1]. ⚠ unsupported The lobby has a piano [1]. ⚠ unsupported" in shown
    assert "left out" not in shown
    strict = flat(run(*db, "ask", "--strict", question).output)
    assert "I don't know" in strict and "piano" not in strict and "⚠" not in strict


def test_search_and_ls_json(samples_index: Path, home: Path) -> None:
    hits = json.loads(
        run(
            "--home",
            str(home),
            "--db",
            str(samples_index),
            "search",
            "--json",
            "-k",
            "3",
            "security deposit",
        ).output
    )
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
    assert [c for c in doctor if not c["ok"]] == []
    names = {c["name"]: c for c in doctor}
    assert {"sqlite-vec", "onnxruntime", "llama-cpp-python", "cpu", "encoder pack"} <= set(names)


def test_doctor_fails_where_something_is_missing(tmp_path: Path) -> None:
    result = run("--home", str(tmp_path), "doctor", "--json", ok=False)
    assert result.exit_code == 1
    failed = {c["name"] for c in json.loads(result.output) if not c["ok"]}
    assert {"encoder pack", "generator pack"} <= failed


@pytest.mark.parametrize(
    "machine,flags,ok",
    [
        ("x86_64", "fpu sse2 avx avx2 fma", True),
        ("x86_64", "fpu sse2 avx avx512f avx512_vnni avx2 fma", True),
        ("x86_64", "fpu sse2 sse4_2 avx", False),
        ("aarch64", "", True),
    ],
)
def test_doctor_cpu_check_needs_avx2_on_x86(machine: str, flags: str, ok: bool) -> None:
    check = _cpu(f"processor\t: 0\nflags\t\t: {flags}\n", machine)
    assert check.name == "cpu" and check.ok is ok and machine in check.detail


def test_missing_pack_is_a_clear_error(tmp_path: Path) -> None:
    Index(tmp_path / "i.db").close()  # searching needs an index; only then the encoder
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
