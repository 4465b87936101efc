"""The `ragkit` command in pipes and scripts: tables as tab-separated lines off a terminal,
--jsonl, global options after the command, Ctrl-C in chat and in ingest, and which
generator `doctor` checks."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from rich.console import Console

from ragkit import Config, ModelPacks
from ragkit._config import TINY_GENERATOR
from ragkit.cli import main
from ragkit.store import connect
from ragkit.testing import Messages, Script, ScriptedGenerator

from .helpers import ROOT, SAMPLES, passage_number

ScriptedCli = Callable[[Script], ScriptedGenerator]

FRIDGE = "What temperature must the vaccine refrigerator stay between?"


def run(*args: str, input: str | None = None, code: int = 0) -> click.testing.Result:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def tsv(stdout: str) -> list[list[str]]:
    return [line.split("\t") for line in stdout.splitlines()]


@pytest.fixture
def db(samples_index: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The samples index's options; the working directory is the checkout, under which a
    terminal shows the samples' paths relative to it."""
    monkeypatch.chdir(ROOT)
    return ["--home", str(home), "--db", str(samples_index)]


# --- tables off a terminal ------------------------------------------------------------------


def test_ls_in_a_pipe_is_a_header_and_a_line_per_document(db: list[str]) -> None:
    result = run(*db, "ls")
    header, *rows = tsv(result.stdout)
    assert header == ["path", "title", "chunks", "size"]
    listed = json.loads(run(*db, "ls", "--json").stdout)
    assert [row[0] for row in rows] == [d["path"] for d in listed]  # full paths, whole
    assert all(Path(row[0]).is_absolute() and row[0].startswith(str(SAMPLES)) for row in rows)
    assert [row[1:3] for row in rows] == [[d["title"], str(d["chunks"])] for d in listed]
    assert all(len(row) == 4 for row in rows)
    assert not re.search("[─│┃━┏]|\x1b", result.stdout)
    # The count is for people: on stderr, out of the way of the lines.
    assert "5 documents" in result.stderr and "5 documents" not in result.stdout


def test_tabs_and_newlines_in_values_are_escaped(tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "tab\there.txt").write_text("A tab in a file name stays in its column.\n")
    (folder / "two\nlines.txt").write_text("A newline in a file name stays on its line.\n")
    base = ["--home", str(home), "--db", str(tmp_path / "i.db")]
    run(*base, "ingest", str(folder))
    _, *rows = tsv(run(*base, "ls").stdout)
    assert sorted(row[0] for row in rows) == [
        f"{folder}/tab\\there.txt",
        f"{folder}/two\\nlines.txt",
    ]
    assert all(len(row) == 4 for row in rows)


def test_a_terminal_still_gets_rich_tables(db: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import ragkit.cli._app as app

    buffer = io.StringIO()
    monkeypatch.setattr(
        app, "out", Console(file=buffer, force_terminal=True, color_system=None, width=200)
    )
    run(*db, "ls")
    shown = buffer.getvalue()
    assert "\t" not in shown and "5 documents" in shown
    # Relative to the working directory, so the names fit the terminal.
    assert re.search(r"^ *samples/corpus/office-lease\.pdf +", shown, re.MULTILINE)


def test_search_in_a_pipe_gives_full_paths_and_whole_passages(db: list[str]) -> None:
    header, *rows = tsv(run(*db, "search", "-k", "3", "security deposit").stdout)
    assert header == ["#", "path", "location", "hybrid score", "similarity", "text"]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    hits = json.loads(run(*db, "search", "--json", "-k", "3", "security deposit").stdout)
    for row, hit in zip(rows, hits, strict=True):
        assert row[1] == hit["path"] and Path(row[1]).is_absolute()
        # Never cut: a terminal shows 400 characters of a passage, a pipe all of it.
        assert row[5] == hit["text"].replace("\n", "\\n").replace("\t", "\\t")
    assert any(len(row[5]) > 400 for row in rows)


def test_models_list_doctor_and_config_show_in_a_pipe(home: Path) -> None:
    header, *rows = tsv(run("--home", str(home), "models", "list").stdout)
    assert header == ["default", "name", "kind", "size", "license", "file", "source"]
    assert {"minilm-l6-v2-int8", TINY_GENERATOR} <= {row[1] for row in rows}
    header, *rows = tsv(run("--home", str(home), "doctor").stdout)
    assert header == ["check", "status", "detail"]
    assert {row[1] for row in rows} == {"ok"}
    assert ["home", "ok", str(home)] in rows
    shown = run("--home", str(home), "config", "show")
    header, *rows = tsv(shown.stdout)
    assert header == ["setting", "value", "from"]
    assert ["home", str(home), "flag"] in rows
    assert "settings file" in shown.stderr


def test_the_sources_after_an_answer_in_a_pipe(db: list[str], scripted_cli: ScriptedCli) -> None:
    def fridge(messages: Messages) -> str:
        n = passage_number(messages[-1]["content"], "8 degrees")
        return f"The vaccine refrigerator must stay between 2 and 8 degrees Celsius [{n}]."

    scripted_cli(fridge)
    lines = run(*db, "ask", FRIDGE).stdout.splitlines()
    at = lines.index("Sources")
    assert lines[at + 1].split("\t") == ["#", "file", "page / section", "similarity"]
    _, path, page, similarity = lines[at + 2].split("\t")
    assert path == str(SAMPLES / "clinic-handbook.pdf") and page.startswith("p. ")
    assert 0 < float(similarity) <= 1


def test_audit_show_in_a_pipe_names_full_paths(samples_copy: Path, home: Path) -> None:
    base = ["--home", str(home), "--db", str(samples_copy)]
    run(*base, "audit", "on")
    run(*base, "search", "security deposit")
    header, *rows = tsv(run(*base, "audit", "show").stdout)
    assert header == ["at", "user", "action", "question", "sources"]
    search = next(row for row in rows if row[2] == "search")
    assert search[3] == "security deposit"
    assert f"{SAMPLES / 'office-lease.pdf'}, p. 2" in search[4].split("; ")


# --- JSON lines -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["ls"], ["search", "-k", "4", "parking"], ["models", "list"], ["doctor"]],
)
def test_jsonl_is_the_json_list_a_line_each(db: list[str], command: list[str]) -> None:
    listed = json.loads(run(*db, *command, "--json").stdout)
    lines = run(*db, *command, "--jsonl").stdout.splitlines()
    assert len(lines) == len(listed) > 0
    assert [json.loads(line) for line in lines] == listed


def test_jsonl_of_config_show_and_audit_show(samples_copy: Path, home: Path) -> None:
    base = ["--home", str(home), "--db", str(samples_copy)]
    settings = json.loads(run(*base, "config", "show", "--json").stdout)["settings"]
    lines = [
        json.loads(line) for line in run(*base, "config", "show", "--jsonl").stdout.split("\n")[:-1]
    ]
    assert {s["setting"]: {"value": s["value"], "from": s["from"]} for s in lines} == settings
    run(*base, "audit", "on")
    run(*base, "search", "rent")
    as_json = run(*base, "audit", "show", "--json").stdout
    assert run(*base, "audit", "show", "--jsonl").stdout == as_json
    assert [json.loads(line)["action"] for line in as_json.splitlines()][-1] == "search"


# --- global options after the command -------------------------------------------------------


def test_global_options_after_the_command(
    samples_index: Path, home: Path, scripted_cli: ScriptedCli
) -> None:
    before = run("--home", str(home), "--db", str(samples_index), "ls", "--json").stdout
    after = run("ls", "--db", str(samples_index), "--json", "--home", str(home)).stdout
    assert after == before and len(json.loads(after)) == 5
    assert (
        run("ls", f"--db={samples_index}", "--home", str(home), "--jsonl").stdout.count("\n") == 5
    )
    # In a nested group too.
    listed = json.loads(run("models", "list", "--home", str(home), "--json").stdout)
    assert TINY_GENERATOR in {p["name"] for p in listed}
    scripted_cli("The refrigerator stays cold.")
    asked = run("ask", "--db", str(samples_index), "--home", str(home), "--json", FRIDGE)
    assert json.loads(asked.stdout)["passages"]
    # Given on both sides, the one after the command wins, as a repeated option does.
    missing = run("--db", str(samples_index), "ls", "--db", "/nonexistent/i.db", code=1)
    assert "/nonexistent/i.db does not exist" in missing.output


@pytest.mark.parametrize(
    "args,parsed",
    [
        # A command's own option of the same name stays the command's.
        (
            ["ingest", "--encoder", "e5", "--db", "x.db", "f"],
            ["--db", "x.db", "ingest", "--encoder", "e5", "f"],
        ),
        (
            ["eval", "retrieval", "--encoder", "e5", "--home", "h"],
            ["--home", "h", "eval", "retrieval", "--encoder", "e5"],
        ),
        # Values of the command's options are not taken for options.
        (["ask", "--path", "--db", "q"], ["ask", "--path", "--db", "q"]),
        (["--home", "h", "ls", "--db=x.db"], ["--home", "h", "--db=x.db", "ls"]),
        # `--` ends the options; an option missing its value stays where it is.
        (["ask", "--", "--db", "x"], ["ask", "--", "--db", "x"]),
        (["search", "--model", "m", "-k", "3", "q"], ["--model", "m", "search", "-k", "3", "q"]),
        (["ls", "--db"], ["ls", "--db"]),
        (["nosuch", "--db", "x"], ["nosuch", "--db", "x"]),
    ],
)
def test_which_arguments_move_before_the_command(args: list[str], parsed: list[str]) -> None:
    with click.Context(main) as ctx:
        assert main._hoisted(ctx, args) == parsed


# --- doctor's generator ---------------------------------------------------------------------


def test_doctor_checks_the_generator_that_answers(tmp_path: Path, home: Path) -> None:
    """With none of Config.ladder's packs installed, a pack of one's own answers: alone, or
    as the default among several."""
    gguf = ModelPacks(Config(home=home)).get(TINY_GENERATOR, "generator").file("model")
    packs = ModelPacks(Config(home=tmp_path))

    def generator_checks() -> list[dict[str, object]]:
        checks = json.loads(run("--home", str(tmp_path), "doctor", "--json", code=1).stdout)
        return [c for c in checks if c["name"] == "generator pack"]

    packs.add_gguf(gguf, "mine", copy=False)
    (only,) = generator_checks()
    assert only["ok"] and str(only["detail"]).startswith("mine verified")
    packs.add_gguf(gguf, "other", copy=False)
    (unchosen,) = generator_checks()
    assert not unchosen["ok"] and "ModelPacks.set_default" in str(unchosen["detail"])
    packs.set_default("other")
    (default,) = generator_checks()
    assert default["ok"] and str(default["detail"]).startswith("other verified")


# --- Ctrl-C ---------------------------------------------------------------------------------


def test_ctrl_c_in_chat_stops_the_answer_and_the_chat_goes_on(
    db: list[str], scripted_cli: ScriptedCli
) -> None:
    def stopped() -> Iterator[str]:
        yield "The vaccine refrigerator "
        raise KeyboardInterrupt  # Ctrl-C while the model writes

    def script(messages: Messages) -> str | Iterator[str]:
        if len(generator.calls) == 1:
            return stopped()
        n = passage_number(messages[-1]["content"], "8 degrees")
        return f"It must stay between 2 and 8 degrees Celsius [{n}]."

    generator = scripted_cli(script)
    lines = [FRIDGE, "/sources", FRIDGE, "/exit"]
    shown = run(*db, "chat", input="\n".join(lines) + "\n").output
    assert shown.count("(stopped)") == 1
    before, after = shown.split("(stopped)")
    assert "between 2 and 8 degrees" not in before
    # The stopped turn is not remembered; the next question is answered.
    assert "no answer yet" in after and "It must stay between 2 and 8 degrees Celsius" in after
    assert len(generator.calls) == 2


# `python -m ragkit.cli`, with SIGINT handled as in a terminal whatever started the test (a
# shell without job control starts background commands with SIGINT ignored).
CTRL_C_DEFAULT = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'ragkit'; runpy.run_module('ragkit.cli', run_name='__main__')"
)


def _documents(db: Path) -> int:
    """Documents in the index being written, read without creating or locking anything."""
    if not db.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return int(conn.execute("select count(*) from documents").fetchone()[0])
    except sqlite3.Error:  # its schema is still being made
        return 0


def test_ctrl_c_during_ingest(tmp_path: Path, home: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(400):
        (corpus / f"note-{i:03d}.txt").write_text(
            f"Note {i}. The clinic keeps record {i} for seven years, then shreds it.\n"
        )
    db = tmp_path / "i.db"
    with open(tmp_path / "stderr.txt", "w+") as stderr:
        # A session of its own, so that Ctrl-C can go to the whole process group, workers
        # included, as a terminal sends it.
        proc = subprocess.Popen(
            [sys.executable, "-c", CTRL_C_DEFAULT, "--db", str(db), "ingest", str(corpus)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "RAGKIT_HOME": str(home)},
            start_new_session=True,
        )
        guard = threading.Timer(300, proc.kill)  # only a hang guard
        guard.start()
        try:
            while _documents(db) == 0 and proc.poll() is None:
                time.sleep(0.05)
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=120)
        finally:
            guard.cancel()
            proc.kill()
        stderr.seek(0)
        said = stderr.read()
    assert proc.returncode == 130, said
    # Nothing else: no traceback, nor a parse worker's "Process ...:" as it dies.
    assert "Traceback" not in said and len([line for line in said.splitlines() if line]) == 1
    found = re.search(
        r"interrupted: (\d+) files indexed before the interrupt; the index is whole", said
    )
    assert found, said
    docs = json.loads(run("--home", str(home), "--db", str(db), "ls", "--json").stdout)
    # The interrupt may land between a document's commit and its count.
    assert int(found[1]) <= len(docs) <= int(found[1]) + 1 and 0 < len(docs) < 400
    conn = connect(db)
    try:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    # No worker is left behind in the group.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("a parse worker outlived the interrupted ingest")
