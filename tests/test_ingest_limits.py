"""A file that takes too long to parse is stopped in its worker, reported, and the rest of
the batch is indexed; the worker pool recovers for the files after it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from ragkit import Assistant, Config

from .conftest import SAMPLES


def test_slow_file_is_stopped_and_the_batch_goes_on(tmp_path: Path, config: Config) -> None:
    corpus = tmp_path / "c"
    shutil.copytree(SAMPLES, corpus)
    # Tens of megabytes on one line: chunking it takes far longer than the limit below.
    (corpus / "b-huge-line.txt").write_text("lorem ipsum dolor sit amet " * 1_500_000)
    limited = config.replace(parse_timeout=3.0, parse_workers=1)
    started = time.monotonic()
    with Assistant(tmp_path / "i.db", limited) as kb:
        report = kb.add(corpus)
        elapsed = time.monotonic() - started
        assert [Path(f.path).name for f in report.failed] == ["b-huge-line.txt"]
        assert "longer than 3 s" in report.failed[0].reason
        # Files queued after the stuck one were parsed by a fresh worker.
        assert sorted(Path(p).name for p in report.added) == sorted(p.name for p in SAMPLES.iterdir())
        assert len(kb.documents()) == 5
    assert elapsed < 60


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
        result = subprocess.run([sys.executable, *args], input=stdin, capture_output=True,
                                text=True, timeout=120, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        # The first run indexes the five samples; the second, from stdin, finds them unchanged.
        assert result.stdout.strip() == ("5 added" if stdin is None else "0 added")
