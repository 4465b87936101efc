"""The `ragkit` command prints paths and document text as they are: brackets are never read
as rich markup (so quotations keep their "[sic]" and a "[/" crashes nothing), and control
characters in file names are shown escaped instead of reaching the terminal."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from rich.console import Console

import ragkit
from ragkit.cli import main
from ragkit.testing import Messages, Script, ScriptedGenerator

from .helpers import passage_number

ScriptedCli = Callable[[Script], ScriptedGenerator]

# path -> text; every path and every text holds something rich would read as markup. A
# name cannot hold "/", so the "[/" is a folder's name ending in "[".
ODD = "appendix [/odd] [bold red].txt"
DOCS = {
    "deed [sic].txt": 'The witness wrote "signed in haste" [sic] on the deed of the farm.',
    "statute s. 5[a].txt": "Under s. 5[a] the tenant must give ninety days notice in writing.",
    "ruling [emphasis added].txt": "The court held the duty is absolute [emphasis added] here.",
    ODD: "A stray markup [/ closer and a [bold red]red alarm[/bold red] stay as written.",
}
ESC_NAME = "esc\x1b[31mred.txt"
NEWLINE_NAME = "two\nlines.txt"
ESC_TEXT = "An escape sequence in a file name must never reach the terminal raw."
NEWLINE_TEXT = "A newline in a file name is shown escaped on one line."


def flat(output: str) -> str:
    """Output with Rich's line wrapping undone."""
    return " ".join(output.split())


def run(*args: str, input: str | None = None) -> click.testing.Result:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def write_corpus(folder: Path) -> None:
    (folder / "appendix [").mkdir(parents=True)
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    (folder / ESC_NAME).write_text(ESC_TEXT)
    (folder / NEWLINE_NAME).write_text(NEWLINE_TEXT)
    (folder / "appendix [" / "bold].txt").write_text("")  # skipped: empty


@pytest.fixture
def corpus(
    tmp_path: Path, home: Path, config: ragkit.Config, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """The hostile folder indexed; returns the CLI's arguments for its index. The working
    directory is the folder, so tables show short relative names."""
    folder = tmp_path / "docs"
    write_corpus(folder)
    with ragkit.Assistant(tmp_path / "i.db", config) as kb:
        report = kb.add(folder)
    assert len(report.added) == 6 and len(report.failed) == 1
    monkeypatch.chdir(folder)
    return ["--home", str(home), "--db", str(tmp_path / "i.db")]


def test_ingest_prints_skipped_names_verbatim(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_corpus(tmp_path / "docs")
    monkeypatch.chdir(tmp_path / "docs")
    shown = run("--home", str(home), "--db", str(tmp_path / "i.db"), "ingest", ".").output
    assert "6 added" in shown and "1 failed" in shown
    assert "/docs/appendix [/bold].txt: file is empty" in shown


def assert_no_raw_controls(output: str) -> None:
    assert "\x1b" not in output
    assert "esc\\x1b[31mred.txt" in output


def test_search_prints_passages_and_names_verbatim(corpus: list[str]) -> None:
    for name, text in DOCS.items():
        shown = flat(run(*corpus, "search", "-k", "2", "--mode", "bm25", text[:40]).output)
        assert text in shown and name.rpartition("/")[2] in shown  # the location: a name
    escaped = run(*corpus, "search", "-k", "6", "--mode", "bm25", "escape sequence newline").output
    assert_no_raw_controls(escaped)
    assert ESC_TEXT in flat(escaped)
    assert "two\\nlines.txt" in escaped


def test_ls_and_rm_print_names_verbatim(corpus: list[str]) -> None:
    listed = run(*corpus, "ls").output
    for name in DOCS:
        assert name in listed
    assert_no_raw_controls(listed)
    assert "two\\nlines.txt" in listed and "two\nlines" not in listed
    # Twice: a name that once broke `ls` broke it on every later call.
    assert run(*corpus, "ls").output == listed
    removed = run(*corpus, "rm", ODD).output
    assert "removed" in removed and ODD in removed
    gone = run(*corpus, "rm", ESC_NAME).output
    assert_no_raw_controls(gone)
    assert "4 documents" in run(*corpus, "ls").output
    # The error naming a path that matches nothing is not markup either.
    missing = CliRunner().invoke(main, [*corpus, "rm", "no [/such].txt"], catch_exceptions=False)
    assert missing.exit_code == 1 and "no indexed document matches no [/such].txt" in missing.output


def test_ask_extractive_quotes_and_sources_verbatim(corpus: list[str]) -> None:
    shown = run(*corpus, "ask", "--extractive", "What did the witness write on the deed?").output
    assert '"signed in haste" [sic]' in flat(shown)
    assert "deed [sic].txt" in shown and "Sources" in shown
    stray = run(*corpus, "ask", "--extractive", "What stays as written: the stray markup?").output
    assert "[/ closer" in flat(stray) and "[bold red]red alarm[/bold red]" in flat(stray)


def test_ask_generated_answer_verbatim(corpus: list[str], scripted_cli: ScriptedCli) -> None:
    def answer(messages: Messages) -> str:
        n = passage_number(messages[-1]["content"], "[bold red]")
        return f"A stray markup [/ closer and a [bold red]red alarm[/bold red] stay [{n}]."

    scripted_cli(answer)
    shown = run(*corpus, "ask", "What stays as written: the stray markup?").output
    assert "A stray markup [/ closer and a [bold red]red alarm[/bold red] stay" in flat(shown)
    assert ODD in shown and "Sources" in shown


def test_chat_sources_and_commands_verbatim(corpus: list[str], scripted_cli: ScriptedCli) -> None:
    def answer(messages: Messages) -> str:
        n = passage_number(messages[-1]["content"], "[sic]")
        return f'The witness wrote "signed in haste" [sic] [{n}].'

    scripted_cli(answer)
    lines = ["What did the witness write on the deed?", "/sources", "/[/x] [bold]", "/exit"]
    shown = run(*corpus, "chat", input="\n".join(lines) + "\n").output
    assert flat(shown).count('"signed in haste" [sic] on the deed') == 1  # /sources
    assert 'The witness wrote "signed in haste" [sic]' in flat(shown)  # the answer
    assert re.search(r"\[\d\] deed \[sic\]\.txt  similarity", shown)  # /sources' heading
    assert "unknown command /[/x] [bold]" in shown


def test_skipped_files_table_shows_names_verbatim(monkeypatch: pytest.MonkeyPatch) -> None:
    import ragkit.cli._app as app

    buffer = io.StringIO()
    terminal = Console(file=buffer, force_terminal=True, color_system=None, width=200)
    monkeypatch.setattr(app, "err", terminal)
    app._print_failures(
        [
            ragkit.IngestFailure(path="/x/empty [/bold].txt", reason="file is empty [sic]"),
            ragkit.IngestFailure(path="/x/esc\x1b]0;title\x07.txt", reason="bad\x9bname"),
        ]
    )
    shown = buffer.getvalue()
    assert "Skipped files" in shown
    assert "/x/empty [/bold].txt" in shown and "file is empty [sic]" in shown
    assert "/x/esc\\x1b]0;title\\x07.txt" in shown and "bad\\x9bname" in shown
    assert "\x1b]" not in shown and "\x07" not in shown and "\x9b" not in shown
