"""Nothing ragkit does at run time opens a network connection."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ragkit import Assistant, Config

from .helpers import ROOT, SAMPLES, assert_answer_invariants


def test_guard_catches_a_connection(no_network: list) -> None:
    # The guard itself must work, or the test below proves nothing.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", 9), timeout=0.5)
    assert no_network


def test_ingest_search_ask_open_no_socket(tmp_path: Path, config: Config, no_network: list) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLES, corpus)
    with Assistant(tmp_path / "i.db", config) as kb:
        assert kb.add(corpus).added
        assert kb.search("parking level for visitors")
        stream = kb.ask_stream("On which garage level should visitors park?")
        pieces = list(stream)
        assert_answer_invariants(stream.answer, pieces)
    assert no_network == []


@pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux unshare is not installed")
def test_cli_answers_inside_a_namespace_without_network(samples_index: Path, home: Path) -> None:
    """The whole process, C extensions included, runs where no network exists at all."""
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("this kernel does not allow an unprivileged network namespace")
    ragkit = Path(sys.executable).with_name("ragkit")
    result = subprocess.run(
        [
            "unshare",
            "-rn",
            str(ragkit),
            "--home",
            str(home),
            "--generator",
            "smollm2-135m-q4_1",
            "--db",
            str(samples_index),
            "ask",
            "--json",
            "What does a lost key fob cost?",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["answer"] and bool(answer["abstained"]) != bool(answer["citations"])
