"""One encoder pack everywhere: the pack built here is the pinned file, so an index built on
any machine opens on any other; the index records the recipe and refuses another chunking."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragkit import Assistant, ChunkingMismatchError, Config, EncoderMismatchError, ModelPackError
from ragkit._doctor import _cpu, doctor
from ragkit.models import Encoder, ModelPacks
from ragkit.models._build import (
    PINNED_ENCODER_SHA256,
    PINNED_TOKENIZER_SHA256,
    _check_pinned,
    build_versions,
)
from ragkit.store import Index


def test_the_built_encoder_pack_is_the_pinned_file(config: Config) -> None:
    pack = ModelPacks(config).get(config.encoder_pack(), "encoder")
    sha = {f["role"]: f["sha256"] for f in pack.manifest["files"]}
    assert sha["model"] == PINNED_ENCODER_SHA256[config.encoder_pack()]
    assert sha["tokenizer"] == PINNED_TOKENIZER_SHA256
    recipe = pack.manifest["recipe"]
    assert recipe["model_sha256"] == sha["model"]
    assert set(recipe["built_with"]) >= {"torch", "onnxruntime", "optimum"}
    assert "int8" in recipe["quantization"]


def test_an_index_from_another_machine_opens_here(tmp_path: Path, config: Config) -> None:
    # Another machine's pack has the pinned bytes (the test above holds there too), so its
    # index carries this fingerprint: write one as that machine would and open it here.
    name = config.encoder_pack()
    encoder = Encoder(ModelPacks(config).get(name, "encoder"))
    pinned = f"{PINNED_ENCODER_SHA256[name]}:{PINNED_TOKENIZER_SHA256[:16]}:mean:256:384"
    assert encoder.fingerprint == pinned
    db = tmp_path / "elsewhere.db"
    Index(db, fingerprint=pinned, dims=384, recipe="as built elsewhere").close()
    with Assistant(db, config) as kb:
        kb.add_texts([("note", "The archive room is in the basement, next to the boiler.")])
        assert kb.search("Where is the archive room?")[0].text.startswith("The archive room")
    other = "0" * 64 + pinned[64:]
    with pytest.raises(EncoderMismatchError, match="another encoder"):
        Index(db, fingerprint=other, dims=384)


def test_the_index_records_the_recipe_and_chunking(tmp_path: Path, config: Config) -> None:
    db = tmp_path / "i.db"
    with Assistant(db, config) as kb:
        kb.add_texts([("a", "Opening hours are eight to six on weekdays.")])
    meta = Index(db).meta()
    assert "int8" in meta["encoder_recipe"]
    assert '"chunk_tokens": 200' in meta["chunking"] and '"chunk_overlap": 40' in meta["chunking"]


def test_another_chunking_is_refused_with_the_way_out(tmp_path: Path, config: Config) -> None:
    db = tmp_path / "i.db"
    with Assistant(db, config) as kb:
        kb.add_texts([("a", "Opening hours are eight to six on weekdays.")])
    wider = config.replace(chunk_tokens=120, chunk_overlap=20)
    with Assistant(db, wider) as kb, pytest.raises(ChunkingMismatchError) as caught:
        kb.add_texts([("b", "The pharmacy closes at noon on Saturdays.")])
    message = str(caught.value)
    assert str(db) in message and "chunk_tokens=200" in message and "new file" in message
    with Assistant(db, config) as kb:
        assert [d.path for d in kb.documents()] == ["a"]
        assert kb.add_texts([("b", "The pharmacy closes at noon on Saturdays.")]).added == ["b"]


def test_a_build_with_other_bytes_fails_naming_the_versions(tmp_path: Path) -> None:
    built = tmp_path / "model.onnx"
    built.write_bytes(b"not the pinned model")
    versions = build_versions()
    with pytest.raises(ModelPackError) as caught:
        _check_pinned(
            "minilm-l6-v2-int8", built, PINNED_ENCODER_SHA256["minilm-l6-v2-int8"], versions
        )
    message = str(caught.value)
    assert f"onnxruntime {versions['onnxruntime']}" in message
    assert f"torch {versions['torch']}" in message and "pinned" in message


def test_doctor_reports_the_recipe(config: Config) -> None:
    checks = {c.name: c for c in doctor(config)}
    assert checks["encoder recipe"].ok
    assert "as pinned" in checks["encoder recipe"].detail


def test_doctor_cpu_check_fails_without_avx2() -> None:
    assert not _cpu("flags\t: fpu sse sse2 ssse3 sse4_1", "x86_64").ok
    avx2 = _cpu("flags\t: fpu sse2 avx avx2 fma", "x86_64")
    assert avx2.ok and "avx2" in avx2.detail
    assert _cpu("", "aarch64").ok
