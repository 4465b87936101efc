"""Every question in samples/questions.jsonl is answered from its expected file by the
default generator pack (Qwen2.5-Coder-0.5B Q4_K_M) — the demo's promise, checked — and by
`ragkit ask --extractive`, which runs no model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Assistant, Config
from ragkit.cli import main

from .conftest import QUESTIONS

CASES = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]


@pytest.mark.default_model
@pytest.mark.parametrize("case", CASES, ids=[c["question"][:40] for c in CASES])
def test_question_cites_its_source(samples_index: Path, default_config: Config, case: dict) -> None:
    # A fresh Assistant per question, as each `ragkit ask` is a fresh process: a model that
    # has answered earlier questions reuses its KV prefix, and the different batch split of
    # the prompt can flip a greedy token.
    with Assistant(samples_index, default_config) as kb:
        answer = kb.ask(case["question"])
    cited = {(Path(c.path).name, c.page) for c in answer.citations}
    assert case["source"] in {name for name, _ in cited}, (answer.text, cited)
    if case.get("page") is not None:
        assert (case["source"], case["page"]) in cited, (answer.text, cited)


@pytest.mark.parametrize("case", CASES, ids=[c["question"][:40] for c in CASES])
def test_extractive_ask_cites_its_source(samples_index: Path, home: Path, case: dict) -> None:
    # No generator is named that exists: the extractive path must not need one.
    result = CliRunner().invoke(main, [
        "--home", str(home), "--generator", "no-such-pack", "--db", str(samples_index), "ask",
        "--extractive", "--json", case["question"]], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["mode"] == "extractive" and not answer["abstained"]
    cited = {Path(c["path"]).name for c in answer["citations"]}
    assert case["source"] in cited, (answer["answer"], cited)
