"""`ragkit eval retrieval`: metrics against hand-computed values, BEIR loading, a real run."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Config, ConfigError
from ragkit.cli import main
from ragkit.eval._retrieval import (
    RetrievalRow,
    _cpu_times,
    _other_load,
    evaluate_retrieval,
    load_beir,
    mrr_at,
    ndcg_at,
    recall_at,
    summarize_retrieval,
)


def test_metrics_match_hand_computation() -> None:
    relevant = {"a": 1, "c": 1}
    ranked = ["b", "a", "d", "c"]
    idcg = 1 + 1 / math.log2(3)
    assert ndcg_at(ranked, relevant, 10) == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(5)) / idcg
    )
    assert ndcg_at(["a", "c"], relevant, 10) == pytest.approx(1.0)
    assert ndcg_at(ranked, relevant, 1) == 0.0
    assert recall_at(ranked, relevant, 2) == 0.5 and recall_at(ranked, relevant, 4) == 1.0
    assert mrr_at(ranked, relevant, 10) == 0.5 and mrr_at(["x"], relevant, 10) == 0.0


ENGLISH = (
    {
        "d1": ("Vaccine storage", "Vaccines are kept in a refrigerator between 2 and 8 degrees."),
        "d2": ("Office rent", "The monthly base rent for the suite is 6,450 dollars."),
        "d3": ("Passwords", "Passwords must be at least fourteen characters long."),
        "d4": ("Parking", "Visitors park on garage level P2 and get a validated ticket."),
        "d5": ("Shredding", "Confidential paper is shredded by Cedar Line every Tuesday."),
    },
    {
        "q1": "how cold must vaccines be stored",
        "q2": "minimum password length",
        "q3": "where do visitors park",
        "q9": "not judged",
    },
)
GERMAN = (
    {
        "d1": ("Impfstoffe", "Impfstoffe werden im Kühlschrank zwischen 2 und 8 Grad gelagert."),
        "d2": ("Büromiete", "Die monatliche Grundmiete für die Räume beträgt 6.450 Euro."),
        "d3": ("Passwörter", "Passwörter müssen mindestens vierzehn Zeichen lang sein."),
        "d4": ("Parken", "Besucher parken auf der Ebene P2 der Garage und erhalten ein Ticket."),
        "d5": ("Akten", "Vertrauliche Papiere werden jeden Dienstag von Cedar Line vernichtet."),
    },
    {
        "q1": "Wie kalt müssen Impfstoffe gelagert werden?",
        "q2": "Wie lang muss ein Passwort sein?",
        "q3": "Wo parken die Besucher?",
        "q9": "nicht bewertet",
    },
)


def write_beir(
    root: Path, data: tuple[dict[str, tuple[str, str]], dict[str, str]] = ENGLISH
) -> Path:
    docs, queries = data
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "title": t, "text": x}) + "\n" for k, (t, x) in docs.items())
    )
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items())
    )
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\nq2\td3\t1\r\nq3\td4\t1\r\nq3\td5\t0\r\n"
    )
    return root


def test_load_beir_keeps_judged_queries_and_positive_qrels(tmp_path: Path) -> None:
    data = load_beir(write_beir(tmp_path / "set"))
    assert len(data.corpus) == 5 and set(data.queries) == {"q1", "q2", "q3"}
    assert data.qrels["q3"] == {"d4": 1}
    with pytest.raises(ConfigError, match=r"corpus\.jsonl"):
        load_beir(tmp_path)


def test_every_mode_ranks_a_tiny_set_perfectly(tmp_path: Path, config: Config) -> None:
    rows = evaluate_retrieval(load_beir(write_beir(tmp_path / "set")), config, workdir=tmp_path)
    assert [r.mode for r in rows] == ["bm25", "dense", "hybrid"]
    for row in rows:
        assert row.queries == 3 and row.mrr10 == 1.0 and row.recall100 == 1.0
        assert 0 < row.p50_ms <= row.p95_ms


def test_cli_json(tmp_path: Path, home: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "--home",
            str(home),
            "eval",
            "retrieval",
            "--dataset",
            str(write_beir(tmp_path / "set")),
            "--mode",
            "hybrid",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [d["documents"] for d in data["datasets"]] == [5]
    assert data["rows"][0]["mode"] == "hybrid" and data["rows"][0]["dataset"] == "set"
    assert isinstance(data["rows"][0]["load"], float)


def test_several_data_sets_print_one_table_each_and_the_mean_and_worst(
    tmp_path: Path, home: Path
) -> None:
    english = write_beir(tmp_path / "english")
    german = write_beir(tmp_path / "german", GERMAN)
    result = CliRunner().invoke(
        main,
        [
            *("--home", str(home), "eval", "retrieval", "--dataset", str(english)),
            *("--dataset", str(german), "--mode", "bm25", "--mode", "hybrid"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "english (en) on sqlite: 5 documents, 3 queries" in result.output
    assert "german (de) on sqlite: 5 documents, 3 queries" in result.output
    summary = [line for line in result.output.splitlines() if "mean nDCG@10" in line]
    # One whole line each, never wrapped: "... over 2 data sets, worst 0.9000 (german)".
    assert len(summary) == 2
    assert all(
        re.search(r"over 2 data sets, worst [\d.]+ \((english|german)\)$", line) for line in summary
    )


def test_the_summary_is_the_mean_and_the_worst_set() -> None:
    def row(dataset: str, mode: str, ndcg: float) -> RetrievalRow:
        return RetrievalRow("e", mode, ndcg, 1.0, 1.0, 1.0, 1.0, 3, dataset, "en")

    rows = [row("a", "bm25", 0.9), row("a", "hybrid", 0.8), row("b", "bm25", 0.5)]
    rows.append(row("b", "hybrid", 0.7))
    (bm25, hybrid) = summarize_retrieval(rows)
    assert (bm25.mode, bm25.datasets, bm25.worst_dataset) == ("bm25", 2, "b")
    assert bm25.mean_ndcg10 == pytest.approx(0.7) and bm25.worst_ndcg10 == 0.5
    assert hybrid.mean_ndcg10 == pytest.approx(0.75) and hybrid.worst_dataset == "b"


def test_eval_ingest_on_a_tiny_set(tmp_path: Path, config: Config) -> None:
    from ragkit.eval._ingest import evaluate_ingest

    bench = evaluate_ingest(
        load_beir(write_beir(tmp_path / "set")), config, workdir=tmp_path, scan_pages=1
    )
    assert bench.documents == 5 and bench.chunks == 5
    assert bench.rerun_embedded == 0 and bench.touched_embedded == bench.touched_chunks == 1
    assert bench.end_to_end_s > 0 and bench.encoder_only_s > 0 and bench.pytorch_s
    lines = bench.lines()
    assert any("end-to-end/encoder" in line for line in lines)
    assert any("end-to-end/PyTorch" in line for line in lines)
    # The five documents as text PDF pages, then as one scanned page read by OCR.
    pdf = bench.pdf
    assert pdf is not None and pdf.text_pages == 5 and pdf.scanned_pages == 1
    assert pdf.ocr_s and pdf.ocr_word_recall is not None and pdf.ocr_word_recall > 0.6
    assert any(line.startswith("text PDFs, 5 pages: ocr off") for line in lines)
    assert any(line.startswith("scanned PDF, 1 pages read by OCR") for line in lines)


def test_the_load_counts_other_processes_and_not_the_benchmark() -> None:
    """A child process spinning beside this one's own busy loop is one other core busy; this
    process's own work, which the one-minute load average would count, is left out."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass",
        ]
    )
    try:
        time.sleep(0.3)  # the child's interpreter starting
        before = _cpu_times()
        end = time.monotonic() + 0.8
        while time.monotonic() < end:
            pass
        load = _other_load(before)
    finally:
        child.wait()
    assert 0.5 <= load <= 1.5


def test_postgres_is_measured_beside_sqlite_in_the_same_run(
    tmp_path: Path, home: Path, postgres_dsn: str
) -> None:
    import psycopg

    dataset = write_beir(tmp_path / "english")
    result = CliRunner().invoke(
        main,
        [
            *("--home", str(home), "eval", "retrieval", "--dataset", str(dataset)),
            *("--postgres", postgres_dsn, "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    by_backend: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_backend.setdefault(row["backend"], {})[row["mode"]] = row
    assert set(by_backend) == {"sqlite", "postgresql"}
    for mode in ("bm25", "dense", "hybrid"):
        lite, pg = by_backend["sqlite"][mode], by_backend["postgresql"][mode]
        assert pg["ndcg10"] == pytest.approx(lite["ndcg10"], abs=0.005)
        assert (pg["approximate_recall10"] is None) == (mode != "dense")
    assert 0.0 <= by_backend["postgresql"]["dense"]["approximate_recall10"] <= 1.0
    with psycopg.connect(postgres_dsn) as conn:
        left = conn.execute(
            "select nspname from pg_namespace where nspname like 'ragkit_eval_%'"
        ).fetchall()
    assert left == []  # the scratch schema is dropped
