"""An ingest killed with SIGKILL leaves a consistent index, and the next run completes it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from ragkit import Assistant, Config
from ragkit.store import connect

from .helpers import SAMPLES

WORDS = (
    "clinic lease tenant patient record notice rent deposit vaccine policy retention "
    "shredding parking password leave expense travel laptop backup audit"
).split()


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


# The child ingests with a trace on its index connection: when the write of document
# ``stop_after + 1`` has put its first chunk's rows in (its transaction open, uncommitted),
# it says so and waits to be killed. So the kill always lands mid-write, after exactly
# ``stop_after`` committed documents, however fast the machine is.
SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from ragkit import Assistant, Config
    db, corpus, home, stop_after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    kb = Assistant(db, Config(home=Path(home), threads=1, parse_workers=1))
    writing = 0

    def trace(sql):
        global writing
        if sql.startswith("insert into documents"):
            writing += 1
        elif writing == stop_after + 1 and sql.startswith("insert into embeddings"):
            print("mid-write", flush=True)
            time.sleep(3600)

    kb._open(with_encoder=True).conn.set_trace_callback(trace)
    kb.add(corpus)
    print("finished", flush=True)
""")


@pytest.mark.parametrize("stop_after", [0, 12, 40])
def test_sigkill_mid_ingest_then_resume(
    tmp_path: Path, home: Path, config: Config, stop_after: int
) -> None:
    corpus = make_corpus(tmp_path / "corpus", 60)
    db = tmp_path / "i.db"
    with open(tmp_path / "stderr.txt", "w+") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(db), str(corpus), str(home), str(stop_after)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        # Only a hang guard: a child that never reaches the point is killed, and fails below.
        guard = threading.Timer(600, proc.kill)
        guard.start()
        try:
            said = proc.stdout.readline().strip()
            stderr.seek(0)
            assert said == "mid-write", f"the ingest did not stop mid-write: {stderr.read()}"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            guard.cancel()
            proc.wait(timeout=60)
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert check_consistent(db) == stop_after
    with Assistant(db, config) as kb:
        report = kb.add(corpus)
    assert not report.failed
    assert len(report.unchanged) == stop_after and len(report.added) == 65 - stop_after
    assert check_consistent(db) == 65
