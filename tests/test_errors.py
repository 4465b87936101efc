"""Failures of SQLite, onnxruntime and llama.cpp reach the SDK user as ragkit errors that
name the file or pack and say what to do; mistyped choices are refused."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from ragkit import (
    Assistant,
    Chat,
    Config,
    ConfigError,
    EncoderError,
    GenerationError,
    IndexBusyError,
    IndexCorruptError,
    ModelPacks,
    StoreError,
)
from ragkit._config import DEFAULT_ENCODER, TINY_GENERATOR
from ragkit.models import Encoder, Generator
from ragkit.store import Index, connect

from .helpers import rows

ROOT = Path(__file__).resolve().parent.parent
DIMS = 8


def _put(index: Index, path: str, texts: list[str]) -> None:
    vectors = np.random.default_rng(0).normal(size=(len(texts), DIMS)).astype(np.float32)
    index.put_document(
        path=path,
        title=path,
        sha256="0" * 64,
        size=1,
        mtime=0.0,
        chunks=rows(*texts),
        vectors=vectors / np.linalg.norm(vectors, axis=1, keepdims=True),
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """An index holding one document, ``/docs/a.txt``, closed."""
    path = tmp_path / "index.db"
    with Index(path, fingerprint="enc", dims=DIMS) as index:
        _put(index, "/docs/a.txt", [f"alpha beta gamma {i} " * 40 for i in range(20)])
    assert not Path(f"{path}-wal").exists()
    return path


# sqlite ------------------------------------------------------------------------------------


def test_a_file_that_is_not_a_database_is_index_corrupt(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_bytes(bytes(range(256)) * 32)
    with pytest.raises(IndexCorruptError, match=re.escape(str(notes))) as caught:
        Index(notes)
    assert "backup" in str(caught.value)
    with Assistant(notes, Config(home=tmp_path)) as kb, pytest.raises(IndexCorruptError):
        kb.documents()


def test_damaged_pages_are_index_corrupt(db: Path) -> None:
    data = bytearray(db.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    # The header page stays whole, so the file still opens as SQLite; the tables do not.
    data[page_size:] = b"\xa5" * (len(data) - page_size)
    db.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match=re.escape(str(db))), Index(db) as index:
        index.documents()


def test_a_write_blocked_past_the_busy_timeout_is_index_busy(db: Path, tmp_path: Path) -> None:
    holder = connect(db)
    holder.execute("begin exclusive")
    try:
        with Assistant(db, Config(home=tmp_path, busy_timeout=0.2)) as kb:
            with pytest.raises(IndexBusyError, match=re.escape(str(db))) as caught:
                kb.remove("/docs/a.txt")
            assert "Config.busy_timeout" in str(caught.value)
    finally:
        holder.execute("rollback")
        holder.close()
    with Assistant(db, Config(home=tmp_path)) as kb:
        assert kb.remove("/docs/a.txt") == ["/docs/a.txt"]


def test_a_full_disk_is_a_store_error_and_the_write_is_undone(db: Path) -> None:
    with Index(db, fingerprint="enc", dims=DIMS) as index:
        before = index.counts()
        pages = index.conn.execute("pragma page_count").fetchone()[0]
        # SQLite's own size cap fails a write exactly as a full disk does (SQLITE_FULL).
        index.conn.execute(f"pragma max_page_count={pages}")
        with pytest.raises(StoreError, match="disk is full") as caught:
            _put(index, "/docs/b.txt", [f"delta epsilon {i} " * 60 for i in range(50)])
        assert str(db) in str(caught.value)
        assert type(caught.value) is StoreError
        assert index.counts() == before
        assert [d.path for d in index.documents()] == ["/docs/a.txt"]


def test_an_index_path_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreError, match=r"index\.db"):
        Index(tmp_path / "file" / "index.db")


# models ------------------------------------------------------------------------------------


def test_an_onnxruntime_failure_while_embedding_is_an_encoder_error(home: Path) -> None:
    pack = ModelPacks(Config(home=home)).get(DEFAULT_ENCODER, "encoder")
    encoder = Encoder(pack)
    # onnxruntime refuses a feed that lacks the model's inputs.
    encoder._inputs = set()
    with pytest.raises(EncoderError, match=re.escape(pack.name)):
        encoder.encode(["a question"])


def test_an_encoder_pack_onnxruntime_cannot_load_is_an_encoder_error(
    tmp_path: Path, home: Path
) -> None:
    real = ModelPacks(Config(home=home)).get(DEFAULT_ENCODER, "encoder")
    garbage = tmp_path / "model.onnx"
    garbage.write_bytes(b"not an onnx graph" * 64)
    pack = ModelPacks(Config(home=tmp_path / "home")).install(
        "broken-encoder",
        "encoder",
        [("model", "model.onnx", garbage), ("tokenizer", "tokenizer.json", real.file("tokenizer"))],
        {"dims": 384, "max_tokens": 256, "pooling": "mean"},
    )
    with pytest.raises(EncoderError, match="broken-encoder"):
        Encoder(pack)


def test_a_llama_cpp_failure_while_answering_is_a_generation_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = ModelPacks(Config(home=home)).get(TINY_GENERATOR, "generator")
    generator = Generator(pack, n_ctx=512, threads=1)

    def decode_fails(*args: object, **kwargs: object) -> None:
        # What llama-cpp-python raises when llama.cpp's decode fails (e.g. out of memory).
        raise RuntimeError("llama_decode returned -3")

    monkeypatch.setattr(generator.llm, "create_chat_completion", decode_fails)
    with pytest.raises(GenerationError, match=re.escape(pack.name)):
        list(generator.stream([{"role": "user", "content": "Hi"}], max_tokens=4, temperature=0))


# choices -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda kb: kb.search("q", mode="hybird"),
            "mode='hybird' is not one of 'hybrid', 'dense', 'bm25'",
        ),
        (
            lambda kb: kb.ask("q", mode="extract"),
            "mode='extract' is not one of 'generate', 'extractive'",
        ),
        (lambda kb: kb.ask_stream("q", mode="Generate"), "mode='Generate'"),
        (lambda kb: kb.chat(mode="extract"), "mode='extract'"),
        (
            lambda kb: kb.chat(rewrite="word"),
            "rewrite='word' is not one of 'words', 'model', 'off'",
        ),
        (lambda kb: Chat(kb, rewrite="llm"), "rewrite='llm'"),
    ],
)
def test_a_mistyped_choice_is_a_config_error(tmp_path: Path, call: object, message: str) -> None:
    with Assistant(tmp_path / "index.db", Config(home=tmp_path)) as kb:
        with pytest.raises(ConfigError, match=re.escape(message)):
            call(kb)  # type: ignore[operator]
    # Refused before anything was opened or loaded.
    assert not (tmp_path / "index.db").exists()


# messages ----------------------------------------------------------------------------------

# Options of other programs that an SDK message may tell the user to run.
_OTHER_PROGRAMS_FLAGS = {
    "--no-deps",
    "--require-hashes",
    "--decrypt",
    "--enable-loadable-sqlite-extensions",
}
_CLI_COMMAND = re.compile(r"`ragkit |\bragkit (ingest|ask|chat|search|ls|rm|models|eval|doctor)\b")


def _raised_messages() -> list[tuple[str, str]]:
    """``(file:line, the string parts of the raised expression)`` for every ``raise`` in the
    SDK (everything but the CLI)."""
    found = []
    for folder in ("ragkit", "store", "ingest"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Raise) and node.exc is not None:
                    text = "".join(
                        part.value
                        for part in ast.walk(node.exc)
                        if isinstance(part, ast.Constant) and isinstance(part.value, str)
                    )
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", text))
    return found


def test_sdk_error_messages_do_not_speak_of_cli_flags_or_commands() -> None:
    messages = _raised_messages()
    assert len(messages) > 50
    offending = [
        (where, text)
        for where, text in messages
        if set(re.findall(r"(?<![\w-])--[a-z][\w-]*", text)) - _OTHER_PROGRAMS_FLAGS
        or _CLI_COMMAND.search(text)
    ]
    assert not offending
