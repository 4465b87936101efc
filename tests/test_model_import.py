"""Models other tools downloaded: finding Ollama's and LM Studio's GGUFs, registering them by
reference, the default generator and removing packs (fake folders laid out as those tools
write them; one test loads the tiny real pack through a reference)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from ragkit import Assistant, Config, ModelPackError, ModelPacks
from ragkit._config import TINY_GENERATOR, default_home
from ragkit.models import LocalModel, find_local_models, lmstudio_dirs, ollama_dir

from .test_cli import flat, run
from .test_packs import flip_byte

MODEL_LAYER = "application/vnd.ollama.image.model"
LMSTUDIO_FILE = "Qwen2.5-0.5B-Instruct-Q4_K_M"
# The pack names the fake models get.
QWEN = "qwen2.5-0.5b"
LMSTUDIO = "qwen2.5-0.5b-instruct-q4_k_m"
HF = "hf.co-bartowski-llama-3.2-1b-instruct-gguf-q4_k_m"


def gguf(seed: str, size: int = 4096) -> bytes:
    """A small file that starts as a GGUF does (registration reads no more than the magic)."""
    block = hashlib.sha256(seed.encode()).digest()
    return (b"GGUF\x03\x00\x00\x00" + block * (size // len(block) + 1))[:size]


def _blob(root: Path, data: bytes) -> str:
    """Store ``data`` as Ollama does, named by its sha256; returns the layer's digest."""
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs").mkdir(parents=True, exist_ok=True)
    (root / "blobs" / f"sha256-{digest}").write_bytes(data)
    return f"sha256:{digest}"


def ollama_model(
    root: Path,
    model: str,
    tag: str,
    data: bytes,
    *,
    namespace: str = "library",
    host: str = "registry.ollama.ai",
    license: str | None = None,
) -> Path:
    """Write a model as `ollama pull` leaves it: its layers as blobs and a manifest naming
    them. Returns the weights' blob."""
    layers = [
        {"mediaType": MODEL_LAYER, "digest": _blob(root, data), "size": len(data)},
        {
            "mediaType": "application/vnd.ollama.image.template",
            "digest": _blob(root, b"{{ .Prompt }}"),
            "size": 13,
        },
    ]
    if license is not None:
        text = license.encode()
        layers.append(
            {
                "mediaType": "application/vnd.ollama.image.license",
                "digest": _blob(root, text),
                "size": len(text),
            }
        )
    config = b'{"model_format":"gguf","model_family":"qwen2"}'
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": _blob(root, config),
            "size": len(config),
        },
        "layers": layers,
    }
    path = root / "manifests" / host / namespace / model / tag
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest))
    return root / "blobs" / f"sha256-{layers[0]['digest'].split(':')[1]}"


@pytest.fixture
def ollama(tmp_path: Path) -> Path:
    """An Ollama models folder: qwen2.5 under two tags (one blob), a model from Hugging
    Face, and what a scan must pass over (a manifest that is not JSON, one whose blob is
    gone, one whose weights are not a GGUF)."""
    root = tmp_path / "ollama"
    license = "\n  Apache License\n  Version 2.0, January 2004\n"
    ollama_model(root, "qwen2.5", "0.5b", gguf("qwen"), license=license)
    ollama_model(root, "qwen2.5", "latest", gguf("qwen"), license=license)
    ollama_model(
        root,
        "Llama-3.2-1B-Instruct-GGUF",
        "Q4_K_M",
        gguf("llama"),
        namespace="bartowski",
        host="hf.co",
    )
    broken = root / "manifests" / "registry.ollama.ai" / "library" / "broken" / "latest"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    ollama_model(root, "gone", "latest", gguf("gone")).unlink()
    ollama_model(root, "safetensors", "latest", b"\x00" * 64)
    return root


@pytest.fixture
def lmstudio(tmp_path: Path) -> Path:
    """An LM Studio models folder: one model, its vision projector and a file that only
    claims to be a GGUF."""
    root = tmp_path / "lmstudio"
    folder = root / "lmstudio-community" / "Qwen2.5-0.5B-Instruct-GGUF"
    folder.mkdir(parents=True)
    (folder / f"{LMSTUDIO_FILE}.gguf").write_bytes(gguf("lmstudio", 6000))
    (folder / "mmproj-model-f16.gguf").write_bytes(gguf("projector"))
    (folder / "notes.gguf").write_text("not a model")
    return root


@pytest.fixture
def found(ollama: Path, lmstudio: Path) -> list[LocalModel]:
    return find_local_models(ollama, [lmstudio])


@pytest.fixture
def packs(tmp_path: Path) -> ModelPacks:
    return ModelPacks(Config(home=tmp_path / "home"))


# --- discovery -------------------------------------------------------------------------------


def test_finds_ollama_and_lmstudio_models(
    found: list[LocalModel], ollama: Path, lmstudio: Path
) -> None:
    assert [(m.source, m.name) for m in found] == [
        ("lmstudio", LMSTUDIO_FILE),
        ("ollama", "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"),
        ("ollama", "qwen2.5:0.5b"),
        ("ollama", "qwen2.5:latest"),
    ]
    studio, hf, qwen, latest = found
    digest = hashlib.sha256(gguf("qwen")).hexdigest()
    assert qwen.path == latest.path == ollama / "blobs" / f"sha256-{digest}"
    assert qwen.sha256 == digest and qwen.size == 4096
    assert qwen.license == "Apache License" and hf.license == "unknown"
    assert studio.path.parent.parent.parent == lmstudio
    assert studio.sha256 is None and studio.size == 6000


def test_missing_folders_find_nothing(tmp_path: Path) -> None:
    assert find_local_models(tmp_path / "no-ollama", [tmp_path / "no-lmstudio"]) == []


def test_default_folders_follow_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("OLLAMA_MODELS", raising=False)
    assert ollama_dir() == tmp_path / ".ollama" / "models"
    assert lmstudio_dirs() == [
        tmp_path / ".lmstudio" / "models",
        tmp_path / ".cache" / "lm-studio" / "models",
    ]
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "elsewhere"))
    assert ollama_dir() == tmp_path / "elsewhere"


# --- import --------------------------------------------------------------------------------


def test_import_registers_by_reference(found: list[LocalModel], packs: ModelPacks) -> None:
    results = packs.import_models(found)
    assert [(r.model.name, r.name, r.status) for r in results] == [
        (LMSTUDIO_FILE, LMSTUDIO, "added"),
        ("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", HF, "added"),
        ("qwen2.5:0.5b", QWEN, "added"),
        # Another tag of the same blob: no second pack.
        ("qwen2.5:latest", QWEN, "unchanged"),
    ]
    qwen = packs.get(QWEN, "generator")
    blob = found[2].path.resolve()
    # Nothing copied: the pack folder holds its manifest and stamp, the manifest the path.
    assert sorted(p.name for p in qwen.path.iterdir()) == [".verified.json", "manifest.json"]
    (entry,) = qwen.manifest["files"]
    assert entry["path"] == str(blob) and entry["size"] == blob.stat().st_size
    assert entry["sha256"] == found[2].sha256
    assert qwen.file("model") == blob == qwen.reference
    assert qwen.license == "Apache License" and qwen.size == 4096
    assert packs.get(LMSTUDIO).file("model") == found[0].path.resolve()


def test_import_again_changes_nothing(found: list[LocalModel], packs: ModelPacks) -> None:
    packs.import_models(found)
    manifests = {p.name: p.manifest for p in packs.list()}
    assert {r.status for r in packs.import_models(found)} == {"unchanged"}
    assert {p.name: p.manifest for p in packs.list()} == manifests


def test_dry_run_writes_nothing(found: list[LocalModel], packs: ModelPacks) -> None:
    results = packs.import_models(found, dry_run=True)
    assert [r.status for r in results] == ["added", "added", "added", "unchanged"]
    assert packs.list() == []


def test_import_with_copy_holds_the_file(found: list[LocalModel], packs: ModelPacks) -> None:
    packs.import_models(found, copy=True)
    qwen = packs.get(QWEN)
    assert qwen.reference is None and "path" not in qwen.manifest["files"][0]
    assert qwen.file("model") == qwen.path / "model.gguf"
    assert qwen.file("model").read_bytes() == found[2].path.read_bytes()
    # The copy holds the same model: importing it again by reference adds nothing.
    assert {r.status for r in packs.import_models(found)} == {"unchanged"}
    # Removing that pack would delete what another referred to.
    with pytest.raises(ModelPackError, match="belongs to a model pack"):
        packs.add_gguf(qwen.file("model"), "again", copy=False)


def test_a_pack_of_the_same_name_is_kept(
    found: list[LocalModel], packs: ModelPacks, tmp_path: Path
) -> None:
    mine = tmp_path / "mine.gguf"
    mine.write_bytes(gguf("mine"))
    packs.add_gguf(mine, QWEN)
    named = {r.model.name: r.name for r in packs.import_models(found)}
    assert named["qwen2.5:0.5b"] == f"{QWEN}-2"
    assert packs.get(QWEN).file("model").read_bytes() == gguf("mine")


@pytest.mark.parametrize("change", ["flip", "grow", "delete"])
def test_a_changed_or_vanished_file_is_refused(
    found: list[LocalModel], packs: ModelPacks, change: str
) -> None:
    packs.import_models(found)
    blob = found[2].path
    if change == "flip":
        flip_byte(blob, 100)
    elif change == "grow":
        with blob.open("ab") as fh:
            fh.write(b"\0")
    else:
        blob.unlink()
    with pytest.raises(ModelPackError) as err:
        packs.get(QWEN)
    message = str(err.value)
    assert str(blob) in message and repr(QWEN) in message
    assert "ModelPacks.import_models" in message and f"ModelPacks.remove({QWEN!r})" in message


def test_import_again_registers_a_changed_file(found: list[LocalModel], packs: ModelPacks) -> None:
    packs.import_models(found)
    studio = found[0].path
    flip_byte(studio, 100)
    with pytest.raises(ModelPackError, match=r"ModelPacks\.import_models"):
        packs.get(LMSTUDIO)
    again = find_local_models(found[2].path.parent.parent, [studio.parents[2]])
    statuses = {r.name: r.status for r in packs.import_models(again)}
    assert statuses[LMSTUDIO] == "updated"
    assert packs.get(LMSTUDIO).file("model") == studio.resolve()


def test_add_names_an_ollama_blob_from_its_manifests(
    found: list[LocalModel], packs: ModelPacks
) -> None:
    pack = packs.add_gguf(found[2].path, copy=False)
    assert pack.name == QWEN and pack.reference == found[2].path.resolve()


def test_add_refuses_to_name_a_pack_after_a_digest(ollama: Path, packs: ModelPacks) -> None:
    data = gguf("orphan")
    orphan = ollama / "blobs" / f"sha256-{hashlib.sha256(data).hexdigest()}"
    orphan.write_bytes(data)
    with pytest.raises(ModelPackError, match="give the pack a name"):
        packs.add_gguf(orphan, copy=False)
    assert packs.add_gguf(orphan, "orphan", copy=False).name == "orphan"


# --- default and removal ---------------------------------------------------------------------


def _ladder(home: Path, **config: str) -> list[str]:
    return Assistant(home / "index.db", Config(home=home, **config)).ladder()


def test_the_default_answers_auto(found: list[LocalModel], packs: ModelPacks) -> None:
    packs.import_models(found)
    with pytest.raises(ModelPackError, match=f"installed generators: {HF}, {QWEN}, {LMSTUDIO}"):
        packs.set_default("nope")
    assert packs.default() is None
    packs.set_default(LMSTUDIO)
    assert packs.default() == LMSTUDIO
    home = packs.config.home
    assert _ladder(home) == [LMSTUDIO]
    assert _ladder(home, generator=QWEN) == [QWEN]  # an explicit pack wins
    packs.set_default(None)
    assert packs.default() is None


def test_auto_without_default_or_ladder_packs(found: list[LocalModel], packs: ModelPacks) -> None:
    home = packs.config.home
    packs.import_models(found[2:3])
    assert _ladder(home) == [QWEN]  # the only generator installed
    packs.import_models(found)
    kb = Assistant(home / "index.db", Config(home=home))
    assert kb.ladder() == []
    with pytest.raises(ModelPackError) as err:
        kb.generator  # noqa: B018
    message = str(err.value)
    assert f"{HF}, {QWEN}, {LMSTUDIO}" in message and "ModelPacks.set_default" in message


def test_remove_keeps_the_model_file_and_clears_the_default(
    found: list[LocalModel], packs: ModelPacks
) -> None:
    packs.import_models(found)
    packs.set_default(QWEN)
    removed = packs.remove(QWEN)
    assert not removed.path.exists() and found[2].path.is_file()
    assert packs.default() is None
    assert QWEN not in {p.name for p in packs.list()}
    with pytest.raises(ModelPackError, match=f"installed: {HF}, {LMSTUDIO}"):
        packs.remove(QWEN)


# --- a real model by reference -------------------------------------------------------------


def test_a_real_model_held_by_reference_generates(tmp_path: Path) -> None:
    real = ModelPacks(Config(home=default_home()))
    if not (real.root / TINY_GENERATOR / "manifest.json").is_file():
        pytest.skip(f"the tiny pack {TINY_GENERATOR} is not in {real.root}; run `make packs`.")
    model = real.get(TINY_GENERATOR, "generator").file("model")
    home = tmp_path / "home"
    pack = ModelPacks(Config(home=home)).add_gguf(model, "linked-smollm", copy=False)
    assert pack.reference == model.resolve() and not (pack.path / "model.gguf").exists()
    config = Config(home=home, generator="linked-smollm", threads=2)
    with Assistant(tmp_path / "index.db", config) as kb:
        generator = kb.generator
        assert generator.name == "linked-smollm"
        text = "".join(
            generator.stream(
                [{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0.0
            )
        )
    assert text.strip()


# --- the command line ----------------------------------------------------------------------


def test_cli_import_default_list_rm(
    tmp_path: Path, ollama: Path, lmstudio: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no real Ollama or LM Studio folder is read
    home = ["--home", str(tmp_path / "home")]
    folders = ["--ollama", str(ollama), "--lmstudio", str(lmstudio)]
    dry = flat(run(*home, "models", "import", *folders, "--dry-run").output)
    assert "would be added" in dry and "3 added, 0 updated, 1 unchanged (dry run)" in dry
    assert json.loads(run(*home, "models", "list", "--json").output) == []

    imported = flat(run(*home, "models", "import", *folders).output)
    assert "3 added, 0 updated, 1 unchanged" in imported and QWEN in imported
    assert "ragkit models default NAME" in imported
    again = flat(run(*home, "models", "import", *folders).output)
    assert "0 added, 0 updated, 4 unchanged" in again

    assert f"default generator: {QWEN}" in run(*home, "models", "default", QWEN).output
    listed = {p["name"]: p for p in json.loads(run(*home, "models", "list", "--json").output)}
    assert listed[QWEN]["default"] is True and listed[LMSTUDIO]["default"] is False
    assert listed[QWEN]["size"] == 4096
    blob = ollama / "blobs" / f"sha256-{hashlib.sha256(gguf('qwen')).hexdigest()}"
    assert listed[QWEN]["reference"] == str(blob.resolve())
    table = run(*home, "models", "list").output
    (row,) = [line for line in table.splitlines() if line.lstrip().startswith("*")]
    assert row.split()[:5] == ["*", QWEN, "generator", "4.1", "kB"]

    missing = run(*home, "models", "default", "nope", ok=False)
    assert missing.exit_code == 1 and QWEN in missing.output

    removed = flat(run(*home, "models", "rm", QWEN).output)
    assert f"removed generator pack {QWEN}" in removed and "is left where it is" in removed
    assert "no default generator" in run(*home, "models", "default").output
    gone = run(*home, "models", "rm", QWEN, ok=False)
    assert gone.exit_code == 1 and "not found" in gone.output


def test_cli_add_link(tmp_path: Path, lmstudio: Path) -> None:
    model = next(lmstudio.rglob(f"{LMSTUDIO_FILE}.gguf")).resolve()
    home = ["--home", str(tmp_path / "home")]
    added = run(*home, "models", "add", str(model), "--link").output
    assert f"added generator pack {LMSTUDIO} by reference to" in flat(added)
    assert str(model) in "".join(added.split())  # a long path is wrapped at any character
    (listed,) = json.loads(run(*home, "models", "list", "--json").output)
    assert listed["reference"] == str(model) and listed["size"] == os.path.getsize(model)
