"""An ingest killed with SIGKILL leaves a consistent index, and the next run completes it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ragkit import Assistant, Config
from ragkit.store import connect

from .conftest import SAMPLES

WORDS = ("clinic lease tenant patient record notice rent deposit vaccine policy retention "
         "shredding parking password leave expense travel laptop backup audit").split()


def make_corpus(root: Path, n: int) -> Path:
    shutil.copytree(SAMPLES, root)
    for i in range(n):
        body = "\n\n".join(
            " ".join(WORDS[(i * 7 + j * 3 + k) % len(WORDS)] for k in range(60)) + "."
            for j in range(6)
        )
        (root / f"note-{i:03d}.md").write_text(f"# Note {i}\n\n{body}\n")
    return root


def check_consistent(db: Path) -> int:
    conn = connect(db)
    try:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        chunks = conn.execute("select count(*) from chunks").fetchone()[0]
        assert conn.execute("select count(*) from chunks_fts_docsize").fetchone()[0] == chunks
        assert conn.execute("select count(*) from vectors").fetchone()[0] == chunks
        assert conn.execute("select count(*) from embeddings").fetchone()[0] == chunks
        conn.execute("insert into chunks_fts(chunks_fts) values ('integrity-check')")
        # No document is half present: its chunks are numbered 0..n-1 with none missing.
        broken = conn.execute(
            "select d.path from documents d left join chunks c on c.document_id = d.id "
            "group by d.id having count(c.id) = 0 or max(c.ordinal) + 1 != count(c.id)"
        ).fetchall()
        assert broken == []
        orphans = conn.execute(
            "select count(*) from vectors where rowid not in (select id from chunks)"
        ).fetchone()[0]
        assert orphans == 0
        return conn.execute("select count(*) from documents").fetchone()[0]
    finally:
        conn.close()


SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from ragkit import Assistant, Config
    kb = Assistant(sys.argv[1], Config(home=Path(sys.argv[3]), threads=1, parse_workers=1))
    kb.add(sys.argv[2])
""")


@pytest.mark.parametrize("kill_after_docs", [1, 12, 40])
def test_sigkill_mid_ingest_then_resume(tmp_path: Path, home: Path, config: Config,
                                        kill_after_docs: int) -> None:
    corpus = make_corpus(tmp_path / "corpus", 60)
    db = tmp_path / "i.db"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(db), str(corpus), str(home)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                try:
                    conn = connect(db, readonly=True)
                    done = conn.execute("select count(*) from documents").fetchone()[0]
                    conn.close()
                except Exception:
                    done = 0
                if done >= kill_after_docs:
                    break
            time.sleep(0.02)
        assert proc.poll() is None, f"ingest ended before it could be killed: {proc.stderr.read()}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    partial = check_consistent(db)
    assert kill_after_docs <= partial < 65
    with Assistant(db, config) as kb:
        report = kb.add(corpus)
    assert not report.failed
    assert len(report.unchanged) == partial
    assert check_consistent(db) == 65
