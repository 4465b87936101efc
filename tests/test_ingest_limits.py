"""A file that takes too long to parse is stopped in its worker, reported, and the rest of
the batch is indexed; the worker pool recovers for the files after it. A script without a
main guard can ingest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ragkit import Config, TextEncoder
from ragkit._ingestion import FileSource, Limits, run_ingest
from ragkit.store import Index

from .helpers import SAMPLES, NeverEndingSource


def test_a_file_that_never_finishes_parsing_is_stopped_and_the_batch_goes_on(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    # The stuck source never finishes, so it is stopped whatever the machine's speed; the
    # limit only has to leave a fresh worker time to start and parse one sample file.
    limit = 10.0
    files = sorted(SAMPLES.iterdir())
    sources = [
        FileSource(files[0]),
        NeverEndingSource("stuck.txt", "never parsed"),
        *(FileSource(p) for p in files[1:]),
    ]
    with Index(tmp_path / "i.db", fingerprint=encoder.fingerprint, dims=encoder.dims) as index:
        report = run_ingest(
            index,
            encoder,
            sources,
            sizes=(config.chunk_tokens, config.chunk_overlap),
            limits=Limits(seconds=limit, workers=1),
        )
        assert len(index.documents()) == len(files)
    assert [(f.path, f.reason) for f in report.failed] == [
        ("stuck.txt", f"parsing took longer than {limit:g} s; skipped")
    ]
    # The files queued after the stuck one were parsed by a fresh worker.
    assert report.added == [str(p.resolve()) for p in files]


UNGUARDED = """
from pathlib import Path
from ragkit import Assistant, Config
kb = Assistant(Path({db!r}), Config(home=Path({home!r}), parse_workers=1))
print(len(kb.add(Path({corpus!r})).added), "added")
"""


def test_a_script_without_a_main_guard_or_file_can_ingest(tmp_path: Path, home: Path) -> None:
    # Spawned workers re-run the caller's main script unless ragkit stops them; this once
    # hung forever in an unguarded script and failed when the script came from stdin.
    script = UNGUARDED.format(db=str(tmp_path / "i.db"), home=str(home), corpus=str(SAMPLES))
    (tmp_path / "plain.py").write_text(script)
    for args, stdin in (([str(tmp_path / "plain.py")], None), (["-"], script)):
        result = subprocess.run(
            [sys.executable, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        # The first run indexes the five samples; the second, from stdin, finds them unchanged.
        assert result.stdout.strip() == ("5 added" if stdin is None else "0 added")
