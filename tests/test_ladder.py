"""The model ladder and the judge, with scripted models: which model answers, when a larger
one takes over, what the reader is shown meanwhile, and what the judge is asked.

The samples index, the encoder and sqlite-vec are real; what each "model" writes and how the
judge rules are scripted, so every assertion is exact on every CPU.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ragkit import Answer, Assistant, Config, ConfigError, ModelPacks, TextEncoder
from ragkit._config import DEFAULT_GENERATOR, LARGE_GENERATOR
from ragkit.answer._judge import JUDGE_SYSTEM
from ragkit.cli import main
from ragkit.eval import default_pipelines
from ragkit.testing import Messages, ScriptedGenerator

from .helpers import passage_number

DEPOSIT = "How large is the security deposit the tenant pays when signing the lease?"
# Both lexically supported by the deposit passage: only the judge tells them apart.
JUDGED_WRONG = "The deposit is $19,350.00"
JUDGED_RIGHT = "The security deposit is $19,350.00"
FABRICATED = "The clinic offers free helicopter transport to Paris"


def writes(sentence: str) -> Callable[[Messages], str]:
    """A script citing the passage that holds the deposit."""

    def write(messages: Messages) -> str:
        return f"{sentence} [{passage_number(messages[-1]['content'], '$19,350.00')}]."

    return write


def rules(messages: Messages) -> float:
    """The scripted judge: yes only to the sentence JUDGED_RIGHT."""
    return 4.0 if f"Answer: {JUDGED_RIGHT}." in messages[-1]["content"] else -4.0


Rungs = tuple[Assistant, ScriptedGenerator, ScriptedGenerator, ScriptedGenerator]
Ladder = Callable[..., Rungs]


@pytest.fixture
def ladder(samples_index: Path, config: Config, encoder: TextEncoder) -> Ladder:
    """``ladder(small_script, large_script)``: an Assistant whose ladder is two scripted
    models and whose judge follows :func:`rules`."""

    def make(
        small: Callable[[Messages], str] | str, large: Callable[[Messages], str] | str
    ) -> Rungs:
        rungs = ScriptedGenerator(small, name="small"), ScriptedGenerator(large, name="large")
        judge = ScriptedGenerator("unused", name="judge", verdict=rules)
        kb = Assistant(samples_index, config, encoder=encoder, generator=rungs, judge=judge)
        return kb, *rungs, judge

    return make


def ask(kb: Assistant) -> tuple[list[str], Answer, list[str]]:
    statuses: list[str] = []
    stream = kb.ask_stream(DEPOSIT, on_status=statuses.append)
    pieces = list(stream)
    return pieces, stream.answer, statuses


def test_a_first_answer_that_passes_is_kept_and_the_larger_model_never_runs(ladder: Ladder) -> None:
    kb, _small, large, judge = ladder(writes(JUDGED_RIGHT), writes(JUDGED_RIGHT))
    pieces, answer, statuses = ask(kb)
    assert answer.model == "small" and not answer.escalated and not answer.abstained
    assert large.calls == [] and statuses == []
    assert "".join(pieces).startswith(JUDGED_RIGHT)
    # The judge saw the cited passage, the question and the sentence, after its fixed rules.
    (question,) = judge.judged
    assert question[0] == {"role": "system", "content": JUDGE_SYSTEM}
    content = question[-1]["content"]
    assert "$19,350.00" in content.split("Question:")[0] and DEPOSIT in content
    assert answer.sentences[0].verdict == 4.0 and answer.sentences[0].supported


def test_a_failed_answer_goes_to_the_larger_model_and_is_never_shown(ladder: Ladder) -> None:
    kb, small, large, judge = ladder(writes(JUDGED_WRONG), writes(JUDGED_RIGHT))
    pieces, answer, statuses = ask(kb)
    assert answer.model == "large" and answer.escalated and not answer.abstained
    assert len(small.calls) == 1 and len(large.calls) == 1
    # The larger model was given the same passages, and only its answer reached the reader.
    assert large.last_call.prompt == small.last_call.prompt
    shown = "".join(pieces)
    assert shown.startswith(JUDGED_RIGHT) and JUDGED_WRONG not in shown
    assert statuses == ["small's answer did not pass its check; asking large…"]
    assert answer.sentences[0].verdict == 4.0 and len(judge.judged) == 2


def test_a_lexically_unsupported_answer_escalates_without_asking_the_judge(ladder: Ladder) -> None:
    kb, _small, _large, judge = ladder(writes(FABRICATED), writes(JUDGED_RIGHT))
    _, answer, _ = ask(kb)
    assert answer.model == "large" and answer.escalated
    # Missing words are decisive: only the larger model's sentence went to the judge.
    assert len(judge.judged) == 1 and JUDGED_RIGHT in judge.judged[0][-1]["content"]


def test_a_model_that_declines_hands_the_question_up(ladder: Ladder) -> None:
    kb, _small, large, _judge = ladder("I don't know.", writes(JUDGED_RIGHT))
    _, answer, statuses = ask(kb)
    assert answer.model == "large" and answer.escalated and len(large.calls) == 1
    assert len(statuses) == 1


def test_when_every_rung_fails_the_answer_abstains_and_keeps_the_draft(ladder: Ladder) -> None:
    kb, _small, _large, _judge = ladder(writes(JUDGED_WRONG), writes(JUDGED_WRONG))
    pieces, answer, _ = ask(kb)
    assert answer.abstained and "don't know" in answer.text and answer.citations == ()
    assert answer.model == "large" and answer.escalated
    (sentence,) = answer.sentences
    assert sentence.text == f"{JUDGED_WRONG}." and sentence.verdict == -4.0
    assert not sentence.supported
    # The last rung streams as it writes; the checked answer then says it does not know.
    assert "".join(pieces).startswith(JUDGED_WRONG)


def test_judge_off_leaves_the_lexical_check_alone(
    samples_index: Path, config: Config, encoder: TextEncoder
) -> None:
    model = ScriptedGenerator(writes(JUDGED_WRONG), verdict=-4.0)
    kb = Assistant(samples_index, config.replace(judge="off"), encoder=encoder, generator=model)
    answer = kb.ask(DEPOSIT)
    assert not answer.abstained and model.judged == []
    assert answer.sentences[0].verdict is None and answer.sentences[0].supported


def test_auto_is_the_largest_installed_pack_and_ladder_climbs_them_all(
    tmp_path: Path, config: Config
) -> None:
    both = Config(home=config.home)
    assert Assistant(tmp_path / "i.db", both).ladder() == [LARGE_GENERATOR]
    climbing = both.replace(generator="ladder")
    assert Assistant(tmp_path / "i.db", climbing).ladder() == [DEFAULT_GENERATOR, LARGE_GENERATOR]
    assert default_pipelines(both) == [
        "ragkit",
        "ragkit:ladder",
        f"ragkit:{DEFAULT_GENERATOR}",
        "baseline",
        "extractive",
    ]
    assert f"ragkit:{LARGE_GENERATOR}" in default_pipelines(climbing)
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    # Only the smaller Qwen is installed (models build --no-large).
    (home / "models" / DEFAULT_GENERATOR).symlink_to(config.models_dir / DEFAULT_GENERATOR)
    auto = Config(home=home)
    assert auto.generator == "auto" and auto.ladder == (DEFAULT_GENERATOR, LARGE_GENERATOR)
    assert [p.name for p in ModelPacks(auto).list()] == [DEFAULT_GENERATOR]
    kb = Assistant(tmp_path / "i.db", auto)
    assert kb.ladder() == [DEFAULT_GENERATOR]
    assert Assistant(tmp_path / "i.db", auto.replace(generator="ladder")).ladder() == [
        DEFAULT_GENERATOR
    ]
    # Without the largest pack nothing judges: a small model is no judge (Config.judge).
    assert kb.judge is None
    one = auto.replace(generator=LARGE_GENERATOR)
    assert Assistant(tmp_path / "i.db", one).ladder() == [LARGE_GENERATOR]
    reordered = auto.replace(ladder=[LARGE_GENERATOR, DEFAULT_GENERATOR])
    assert reordered.ladder == (LARGE_GENERATOR, DEFAULT_GENERATOR)


def test_the_cli_says_which_model_answered_and_that_it_escalated(
    samples_index: Path, home: Path, monkeypatch: pytest.MonkeyPatch, encoder: TextEncoder
) -> None:
    import ragkit.cli._app as app

    rungs = [
        ScriptedGenerator(writes(JUDGED_WRONG), name="small"),
        ScriptedGenerator(writes(JUDGED_RIGHT), name="large"),
    ]
    judge = ScriptedGenerator("unused", name="judge", verdict=rules)
    monkeypatch.setattr(
        app,
        "Assistant",
        functools.partial(Assistant, encoder=encoder, generator=rungs, judge=judge),
    )
    db = ["--home", str(home), "--db", str(samples_index)]
    shown = CliRunner().invoke(main, [*db, "ask", DEPOSIT], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "answered by large after a smaller model's answer failed its check" in text
    assert JUDGED_RIGHT in text and f"{JUDGED_WRONG} [" not in text
    as_json = CliRunner().invoke(main, [*db, "ask", "--json", DEPOSIT], catch_exceptions=False)
    assert '"model": "large"' in as_json.output and '"escalated": true' in as_json.output


def test_a_lower_rung_must_convince_the_judge_more_than_a_final_answer(
    samples_index: Path, config: Config, encoder: TextEncoder
) -> None:
    # Judged between the two thresholds: good enough to stand as a final answer, not to
    # keep the larger model from answering.
    between = (config.judge_threshold + config.escalate_below) / 2
    rungs = [
        ScriptedGenerator(writes(JUDGED_RIGHT), name="small"),
        ScriptedGenerator(writes(JUDGED_RIGHT), name="large"),
    ]
    judge = ScriptedGenerator("unused", verdict=between)
    kb = Assistant(samples_index, config, encoder=encoder, generator=rungs, judge=judge)
    answer = kb.ask(DEPOSIT)
    assert answer.model == "large" and answer.escalated and not answer.abstained
    assert answer.sentences[0].supported and answer.sentences[0].verdict == between
    with pytest.raises(ConfigError, match="escalate_below"):
        config.replace(escalate_below=config.judge_threshold - 0.1)
