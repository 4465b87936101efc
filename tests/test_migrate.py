"""Moving an index between backends: `ragkit.migrate` copies documents, chunks and vectors
from a SQLite file into PostgreSQL without embedding anything again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragkit import Answer, Assistant, Config, StoreError, TextEncoder, migrate
from ragkit.testing import ScriptedGenerator

from .helpers import stores, with_params

QUESTIONS = [
    "How long does the clinic keep the records of adult patients?",
    "How large is the security deposit the tenant pays when signing the lease?",
    "On which garage level should visitors to 1200 Harbor Street park?",
]


def _comparable(answer: Answer) -> tuple[str, list[float]]:
    """The answer as `ask --json` gives it, without the chunk ids each backend numbers alone,
    and apart the passages' fused scores, which pgvector's float arithmetic moves by ~1e-7."""
    data = answer.as_dict()
    scores = []
    for passage in data["passages"]:
        del passage["chunk_id"]
        scores.append(passage.pop("rank_score"))
    return json.dumps(data, sort_keys=True), scores


def test_migrated_index_answers_as_the_file_did(
    postgres_dsn: str, tmp_path: Path, samples_copy: Path, config: Config, encoder: TextEncoder
) -> None:
    with stores("postgres", tmp_path, postgres_dsn) as make:
        schema = make("moved").schema  # type: ignore[attr-defined]
        url = with_params(postgres_dsn, schema=schema)
        seen: list[str] = []
        copied = migrate(samples_copy, url, progress=lambda _d, _t, path: seen.append(path))
        with Assistant(samples_copy, config, encoder=encoder) as lite:
            documents = lite.documents()
        assert copied == len(documents) == len(seen)
        assert migrate(samples_copy, url) == copied  # again: each document replaced, once
        model = ScriptedGenerator(lambda _m: "The answer is in the first passage [1].")
        with (
            Assistant(url, config, encoder=encoder, generator=model) as moved,
            Assistant(samples_copy, config, encoder=encoder, generator=model) as lite,
        ):
            assert [
                (d.path, d.chunks, d.sha256, d.collection, d.language) for d in moved.documents()
            ] == [(d.path, d.chunks, d.sha256, d.collection, d.language) for d in documents]
            for question in QUESTIONS:
                for mode in ("generate", "extractive"):
                    text, scores = _comparable(moved.ask(question, mode=mode))
                    assert (text, scores) == (
                        _comparable(lite.ask(question, mode=mode))[0],
                        pytest.approx(_comparable(lite.ask(question, mode=mode))[1], abs=1e-5),
                    )


def test_migrate_refuses_a_target_of_another_encoder(
    postgres_dsn: str, tmp_path: Path, samples_copy: Path
) -> None:
    from ragkit import EncoderMismatchError

    with stores("postgres", tmp_path, postgres_dsn) as make:
        schema = make("other", fingerprint="another encoder", dims=384).schema  # type: ignore[attr-defined]
        with pytest.raises(EncoderMismatchError):
            migrate(samples_copy, with_params(postgres_dsn, schema=schema))


def test_ragkit_migrate_then_ask_json_gives_the_same_answer_from_both(
    postgres_dsn: str, tmp_path: Path, samples_copy: Path, home: Path
) -> None:
    from click.testing import CliRunner

    from ragkit.cli import main

    with stores("postgres", tmp_path, postgres_dsn) as make:
        schema = make("cli").schema  # type: ignore[attr-defined]
        url = with_params(postgres_dsn, schema=schema)
        base = ["--home", str(home)]
        moved = CliRunner().invoke(
            main, [*base, "migrate", "--from", str(samples_copy), "--to", url]
        )
        assert moved.exit_code == 0, moved.output
        assert "copied 5 documents" in moved.stdout
        answers = []
        for db in (str(samples_copy), url):
            asked = CliRunner().invoke(
                main, [*base, "--db", db, "ask", "--json", "--extractive", QUESTIONS[1]]
            )
            assert asked.exit_code == 0, asked.output
            data = json.loads(asked.stdout)
            for passage in data["passages"]:
                del passage["chunk_id"], passage["rank_score"]
            answers.append(data)
        assert answers[0] == answers[1]
        assert answers[0]["citations"] and not answers[0]["abstained"]


def test_the_audit_log_moves_with_the_index_and_still_verifies(
    postgres_dsn: str, tmp_path: Path, samples_copy: Path, config: Config, encoder: TextEncoder
) -> None:
    with Assistant(samples_copy, config, encoder=encoder) as lite:
        lite.set_audit(True)
        lite.search("security deposit")
        lite.ask("How long are closed matter files kept?", mode="extractive")
        before = lite.audit_log()
    with stores("postgres", tmp_path, postgres_dsn) as make:
        schema = make("moved").schema  # type: ignore[attr-defined]
        url = with_params(postgres_dsn, schema=schema)
        migrate(samples_copy, url)
        migrate(samples_copy, url)  # run again: nothing is copied twice
        with Assistant(url, config, encoder=encoder) as moved:
            after = moved.audit_log()
            assert [(e.at, e.user, e.action, e.detail, e.hash) for e in after] == [
                (e.at, e.user, e.action, e.detail, e.hash) for e in before
            ]
            assert moved.verify_audit_log() is None
            moved.search("notice period")  # still switched on, and the chain goes on
            assert moved.audit_log()[-1].action == "search"
            assert moved.verify_audit_log() is None
        # Into an index keeping a log of its own, the copy is refused, not spliced.
        other = tmp_path / "other.db"
        migrate(samples_copy, other)
        with Assistant(other, config, encoder=encoder) as kept:
            kept.search("parking")
        with pytest.raises(StoreError, match="audit log of its own"):
            migrate(url, other)
