"""`ragkit eval serve`: the server's searches per second by search threads, one server process
per setting, measured by real clients on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Config, ConfigError, RagkitError
from ragkit.cli import main
from ragkit.eval import evaluate_serve

from .test_eval_retrieval import write_beir


def test_each_setting_is_served_and_timed_against_the_first(
    tmp_path: Path, home: Path, samples_copy: Path
) -> None:
    result = CliRunner().invoke(
        main,
        [
            "--home",
            str(home),
            "--db",
            str(samples_copy),
            "eval",
            "serve",
            "--dataset",
            str(write_beir(tmp_path / "set")),
            "--threads",
            "1",
            "--threads",
            "2",
            "--clients",
            "2",
            "--searches",
            "3",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["queries"] == 3 and report["mode"] == "hybrid"
    assert [r["threads"] for r in report["rows"]] == [1, 2]
    for row in report["rows"]:
        assert row["searches"] == 6 and row["clients"] == 2 and row["errors"] == 0
        assert 0 < row["p50_ms"] <= row["p95_ms"] and row["seconds"] > 0


def test_a_server_that_cannot_search_is_reported(tmp_path: Path, config: Config) -> None:
    with pytest.raises(ConfigError, match="not an index file"):
        evaluate_serve(tmp_path / "missing.db", config, ["parking"])
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database at all" * 100)
    with pytest.raises(RagkitError, match="refused a search"):
        evaluate_serve(broken, config, ["parking"], threads=(1,), clients=1, searches=1)
