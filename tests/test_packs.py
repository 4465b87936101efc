"""Model packs: manifests, verification, the quick-verify stamp, add/build (small fake files)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

import ragkit.models._build as build_module
import ragkit.models._packs as packs_module
from ragkit import Config, ConfigError, ModelPack, ModelPackError, ModelPacks
from ragkit._config import DEFAULT_ENCODER, TINY_GENERATOR
from ragkit.models import build_packs
from ragkit.models._build import QWEN_05B, QWEN_15B, SplitGGUF

MODEL_BYTES = b"fake onnx model " * 64
TOKENIZER_BYTES = b'{"fake": "tokenizer"}'


@pytest.fixture
def packs(tmp_path: Path) -> ModelPacks:
    return ModelPacks(Config(home=tmp_path / "home"))


@pytest.fixture
def sources(tmp_path: Path) -> list[tuple[str, str, Path]]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "m.onnx").write_bytes(MODEL_BYTES)
    (src / "t.json").write_bytes(TOKENIZER_BYTES)
    return [
        ("model", "model.onnx", src / "m.onnx"),
        ("tokenizer", "tokenizer.json", src / "t.json"),
    ]


@pytest.fixture
def toy(packs: ModelPacks, sources: list[tuple[str, str, Path]]) -> ModelPack:
    return packs.install("toy", "encoder", sources, {"dims": 4, "license": "MIT"})


def bump_mtime(path: Path, seconds: int = 5) -> None:
    # Explicit, so a same-size rewrite never lands on the stamped mtime by clock granularity.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


def flip_byte(path: Path, offset: int = 3) -> None:
    with path.open("r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the file name of every full hash ``ragkit.models._packs`` makes."""
    calls: list[str] = []
    real = packs_module.sha256_file

    def counting(path: Path, *args, **kwargs) -> str:
        calls.append(path.name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(packs_module, "sha256_file", counting)
    return calls


# --- install / get / list ---------------------------------------------------------------


def test_install_writes_manifest_pinning_every_file(toy: ModelPack, packs: ModelPacks) -> None:
    manifest = json.loads((packs.root / "toy" / "manifest.json").read_text())
    assert manifest["name"] == "toy"
    assert manifest["kind"] == "encoder"
    assert manifest["format"] == 1
    assert manifest["dims"] == 4 and manifest["license"] == "MIT"
    assert manifest["files"] == [
        {
            "role": "model",
            "name": "model.onnx",
            "size": len(MODEL_BYTES),
            "sha256": hashlib.sha256(MODEL_BYTES).hexdigest(),
        },
        {
            "role": "tokenizer",
            "name": "tokenizer.json",
            "size": len(TOKENIZER_BYTES),
            "sha256": hashlib.sha256(TOKENIZER_BYTES).hexdigest(),
        },
    ]
    pack = packs.get("toy", "encoder")
    assert (pack.name, pack.kind, pack.path) == ("toy", "encoder", packs.root / "toy")
    assert pack.file("model").read_bytes() == MODEL_BYTES
    assert pack.license == "MIT"
    assert [p.name for p in packs.list()] == ["toy"]


def test_installed_pack_is_readable_by_other_users(toy: ModelPack) -> None:
    # mkdtemp makes 0700 folders; a pack shared on an air-gapped machine must not be private.
    assert stat.S_IMODE(toy.path.stat().st_mode) == 0o755
    assert stat.S_IMODE(toy.file("model").stat().st_mode) == 0o644


def test_install_with_move_consumes_the_source(packs: ModelPacks, tmp_path: Path) -> None:
    source = tmp_path / "big.gguf"
    source.write_bytes(b"GGUF" + b"\0" * 100)
    pack = packs.install("moved", "generator", [("model", "model.gguf", source)], {}, move=True)
    assert not source.exists()
    assert packs.get("moved").file("model").read_bytes() == b"GGUF" + b"\0" * 100
    assert pack.path == packs.root / "moved"


def test_reinstall_replaces_the_pack(toy: ModelPack, packs: ModelPacks, tmp_path: Path) -> None:
    other = tmp_path / "other.onnx"
    other.write_bytes(b"a different model")
    packs.install("toy", "encoder", [("model", "model.onnx", other)], {"dims": 8})
    pack = packs.get("toy")
    assert pack.manifest["dims"] == 8
    assert sorted(p.name for p in pack.path.iterdir()) == [
        ".verified.json",
        "manifest.json",
        "model.onnx",
    ]


def test_list_skips_a_pack_with_a_broken_manifest(toy: ModelPack, packs: ModelPacks) -> None:
    (packs.root / "broken").mkdir()
    (packs.root / "broken" / "manifest.json").write_text("{not json")
    assert [p.name for p in packs.list()] == ["toy"]


def test_list_of_an_empty_home_is_empty(packs: ModelPacks) -> None:
    assert packs.list() == []


def test_file_with_unknown_role_raises(toy: ModelPack) -> None:
    with pytest.raises(ModelPackError, match="no file with role 'vocab'"):
        toy.file("vocab")


# --- verification failures ----------------------------------------------------------------


def test_same_size_tampering_is_caught_and_names_the_file(
    toy: ModelPack, packs: ModelPacks
) -> None:
    model = toy.file("model")
    flip_byte(model)
    bump_mtime(model)
    assert model.stat().st_size == len(MODEL_BYTES)
    with pytest.raises(ModelPackError, match=r"model\.onnx has sha256"):
        packs.get("toy")


def test_size_change_is_caught(toy: ModelPack, packs: ModelPacks) -> None:
    with toy.file("tokenizer").open("ab") as fh:
        fh.write(b" ")
    with pytest.raises(ModelPackError, match=r"tokenizer.json is \d+ bytes but the manifest says"):
        packs.get("toy")


def test_missing_file_is_caught(toy: ModelPack, packs: ModelPacks) -> None:
    toy.file("tokenizer").unlink()
    with pytest.raises(ModelPackError, match=r"tokenizer\.json is missing"):
        packs.get("toy")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{not json",
        '{"kind": "encoder", "files": []}',
        '{"name": "toy", "kind": "reranker", "files": []}',
    ],
    ids=["empty", "not-json", "no-name", "unknown-kind"],
)
def test_invalid_manifest_raises(toy: ModelPack, packs: ModelPacks, text: str) -> None:
    (toy.path / "manifest.json").write_text(text)
    with pytest.raises(ModelPackError, match=r"manifest\.json"):
        packs.get("toy")


def test_unreadable_manifest_raises(toy: ModelPack, packs: ModelPacks) -> None:
    (toy.path / "manifest.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ModelPackError, match="cannot be read"):
        packs.get("toy")


@pytest.mark.parametrize(
    "manifest",
    [
        5,
        None,
        {
            "name": "toy",
            "kind": "encoder",
            "files": [{"role": "model", "name": "model.onnx", "size": len(MODEL_BYTES)}],
        },
    ],
    ids=["number", "null", "file-without-sha256"],
)
def test_malformed_manifest_raises_model_pack_error(
    toy: ModelPack, packs: ModelPacks, manifest: object
) -> None:
    (toy.path / "manifest.json").write_text(json.dumps(manifest))
    (toy.path / ".verified.json").unlink()
    with pytest.raises(ModelPackError):
        packs.get("toy")


# --- the stamp: small files re-hashed on every load, large ones spot-checked ---------------

# With the limits below, MODEL_BYTES (1,024 bytes) is a "large" file: its spot sample is the
# 4 blocks of 16 bytes at offsets 0, 336, 672 and 1008; byte 500 lies outside the sample.
SAMPLED = (0, 340, 1023)
UNSAMPLED = 500


@pytest.fixture
def big(
    monkeypatch: pytest.MonkeyPatch, packs: ModelPacks, sources: list[tuple[str, str, Path]]
) -> ModelPack:
    """The toy pack, installed with a full-hash limit that makes model.onnx a large file."""
    monkeypatch.setattr(packs_module, "FULL_HASH_LIMIT", 100)
    monkeypatch.setattr(packs_module, "SPOT_BLOCKS", 4)
    monkeypatch.setattr(packs_module, "SPOT_BLOCK", 16)
    return packs.install("toy", "encoder", sources, {"dims": 4})


def damage_in_place(path: Path, offset: int) -> None:
    """Flip one byte keeping the file's size and mtime, as bit rot does."""
    before = path.stat()
    flip_byte(path, offset)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_mtime_ns == before.st_mtime_ns


def age_stamp(pack: ModelPack, days: float) -> None:
    stamp_path = pack.path / ".verified.json"
    stamp = json.loads(stamp_path.read_text())
    for entry in stamp["files"].values():
        if "verified_at" in entry:
            entry["verified_at"] -= days * 86400
    stamp_path.write_text(json.dumps(stamp))


def test_small_files_are_fully_rehashed_on_every_load(
    toy: ModelPack, packs: ModelPacks, hash_calls: list[str]
) -> None:
    for _ in range(2):
        packs.get("toy")
    assert sorted(hash_calls) == ["model.onnx"] * 2 + ["tokenizer.json"] * 2


def test_small_file_damaged_in_place_is_refused(toy: ModelPack, packs: ModelPacks) -> None:
    packs.get("toy")
    damage_in_place(toy.file("tokenizer"), 5)
    with pytest.raises(ModelPackError, match=r"tokenizer\.json has sha256.*models add"):
        packs.get("toy")


def test_large_file_is_spot_checked_not_rehashed_while_the_stamp_is_young(
    big: ModelPack, packs: ModelPacks, hash_calls: list[str]
) -> None:
    packs.get("toy")
    packs.get("toy")
    assert hash_calls == ["tokenizer.json"] * 2  # model.onnx: spot check only

    (big.path / ".verified.json").unlink()
    hash_calls.clear()
    packs.get("toy")
    assert sorted(hash_calls) == ["model.onnx", "tokenizer.json"]

    bump_mtime(big.file("model"))
    hash_calls.clear()
    packs.get("toy")
    assert sorted(hash_calls) == ["model.onnx", "tokenizer.json"]


@pytest.mark.parametrize("offset", SAMPLED)
def test_large_file_damaged_in_a_sampled_block_is_refused(
    big: ModelPack, packs: ModelPacks, offset: int
) -> None:
    packs.get("toy")
    damage_in_place(big.file("model"), offset)
    for _ in range(2):  # never stamped as good
        with pytest.raises(ModelPackError, match=r"model\.onnx has sha256.*build_packs"):
            packs.get("toy")


def test_damage_outside_the_sample_waits_for_the_policy(
    big: ModelPack, packs: ModelPacks, hash_calls: list[str]
) -> None:
    # The documented limit of the spot check: a young stamp lets this through ...
    damage_in_place(big.file("model"), UNSAMPLED)
    packs.get("toy")
    assert "model.onnx" not in hash_calls
    # ... until the last full hash is older than verify_after_days (7 by default).
    age_stamp(big, 8)
    with pytest.raises(ModelPackError, match=r"model\.onnx has sha256"):
        packs.get("toy")
    assert "model.onnx" in hash_calls


def test_a_stamp_within_the_policy_is_not_rehashed(
    big: ModelPack, packs: ModelPacks, hash_calls: list[str]
) -> None:
    age_stamp(big, 6.9)
    packs.get("toy")
    assert "model.onnx" not in hash_calls


def test_a_stamp_from_the_future_is_not_trusted(
    big: ModelPack, packs: ModelPacks, hash_calls: list[str]
) -> None:
    age_stamp(big, -30)  # the clock was moved back since the last full hash
    packs.get("toy")
    assert "model.onnx" in hash_calls


def test_a_full_hash_renews_the_stamp(
    big: ModelPack, packs: ModelPacks, hash_calls: list[str]
) -> None:
    age_stamp(big, 30)
    packs.get("toy")
    hash_calls.clear()
    packs.get("toy")
    assert hash_calls == ["tokenizer.json"]


def test_verify_after_days_zero_rehashes_on_every_load(
    big: ModelPack, tmp_path: Path, hash_calls: list[str]
) -> None:
    packs = ModelPacks(Config(home=tmp_path / "home", verify_after_days=0))
    packs.get("toy")
    packs.get("toy")
    assert hash_calls.count("model.onnx") == 2


def test_a_damaged_stamp_is_not_a_damaged_model(
    big: ModelPack, packs: ModelPacks, hash_calls: list[str]
) -> None:
    # A stamp whose sample digest is wrong costs a full hash, which finds the file intact.
    stamp_path = big.path / ".verified.json"
    stamp = json.loads(stamp_path.read_text())
    stamp["files"]["model.onnx"]["spot"] = "0" * 64
    stamp_path.write_text(json.dumps(stamp))
    packs.get("toy")
    assert "model.onnx" in hash_calls
    hash_calls.clear()
    packs.get("toy")
    assert hash_calls == ["tokenizer.json"]


def test_an_old_format_stamp_means_a_full_hash(
    big: ModelPack, packs: ModelPacks, hash_calls: list[str]
) -> None:
    model = big.file("model")
    key = [model.stat().st_size, model.stat().st_mtime_ns]
    (big.path / ".verified.json").write_text(json.dumps({"model.onnx": key}))
    packs.get("toy")
    assert "model.onnx" in hash_calls


@pytest.mark.parametrize("days", [-1.0, float("nan"), float("inf")])
def test_verify_after_days_is_validated(days: float) -> None:
    with pytest.raises(ConfigError, match="verify_after_days"):
        Config(verify_after_days=days)


def test_verify_always_rehashes(toy: ModelPack, packs: ModelPacks, hash_calls: list[str]) -> None:
    packs.verify("toy")
    packs.verify("toy")
    assert sorted(hash_calls) == ["model.onnx", "model.onnx", "tokenizer.json", "tokenizer.json"]


def test_verify_catches_damage_anywhere_in_a_large_file(big: ModelPack, packs: ModelPacks) -> None:
    damage_in_place(big.file("model"), UNSAMPLED)
    packs.get("toy")  # the spot check cannot see this byte
    with pytest.raises(ModelPackError, match=r"model\.onnx has sha256"):
        packs.verify("toy")


def test_a_failed_check_is_not_stamped(toy: ModelPack, packs: ModelPacks) -> None:
    model = toy.file("model")
    flip_byte(model)
    bump_mtime(model)
    for _ in range(2):
        with pytest.raises(ModelPackError):
            packs.get("toy")


# --- lookup errors -------------------------------------------------------------------------


def test_missing_pack_says_how_to_build(toy: ModelPack, packs: ModelPacks) -> None:
    with pytest.raises(ModelPackError, match="build_packs") as err:
        packs.get("nope")
    assert "installed: toy" in str(err.value)


def test_wrong_kind_is_refused(packs: ModelPacks, tmp_path: Path) -> None:
    gguf = tmp_path / "g.gguf"
    gguf.write_bytes(b"GGUF" + b"\1" * 32)
    packs.add_gguf(gguf, "gen")
    with pytest.raises(ModelPackError, match="is a generator pack"):
        packs.get("gen", "encoder")
    assert packs.get("gen", "generator").kind == "generator"


# --- add_gguf ------------------------------------------------------------------------------


def test_add_gguf_refuses_a_non_gguf_file(packs: ModelPacks, tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 a zip, not a model")
    with pytest.raises(ModelPackError, match="not a GGUF"):
        packs.add_gguf(fake)
    assert packs.list() == []


def test_add_gguf_of_a_missing_file(packs: ModelPacks, tmp_path: Path) -> None:
    with pytest.raises(ModelPackError, match="no such file"):
        packs.add_gguf(tmp_path / "absent.gguf")


def test_add_gguf_registers_a_generator_pack(packs: ModelPacks, tmp_path: Path) -> None:
    data = b"GGUF\x03\x00\x00\x00" + bytes(range(256))
    source = tmp_path / "My Model.Q4.gguf"
    source.write_bytes(data)
    pack = packs.add_gguf(source, license="MIT")
    assert pack.name == "my-model.q4"
    assert pack.kind == "generator"
    assert pack.manifest["chat_format"] == "gguf-template"
    assert pack.license == "MIT"
    assert pack.manifest["files"] == [
        {
            "role": "model",
            "name": "model.gguf",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    ]
    assert source.exists()  # copied, not moved
    got = packs.get("my-model.q4", "generator")
    assert got.file("model").read_bytes() == data


@pytest.mark.parametrize("name", [".", "..", "a/b", ""])
def test_pack_name_cannot_reach_outside_its_folder(
    packs: ModelPacks, tmp_path: Path, name: str
) -> None:
    source = tmp_path / "x.gguf"
    source.write_bytes(b"GGUF" + b"\0" * 16)
    packs.add_gguf(source, "keep")
    with pytest.raises(ModelPackError):
        packs.install(name, "generator", [("model", "model.gguf", source)], {})
    assert packs.get("keep").name == "keep"


# --- atomic install ------------------------------------------------------------------------


def test_failed_install_leaves_nothing_behind(
    packs: ModelPacks, tmp_path: Path, sources: list[tuple[str, str, Path]]
) -> None:
    broken = [sources[0], ("tokenizer", "tokenizer.json", tmp_path / "does-not-exist.json")]
    with pytest.raises(OSError):
        packs.install("half", "encoder", broken, {})
    assert list(packs.root.iterdir()) == []


def test_failed_reinstall_keeps_the_old_pack(
    toy: ModelPack, packs: ModelPacks, tmp_path: Path, sources: list[tuple[str, str, Path]]
) -> None:
    broken = [sources[0], ("tokenizer", "tokenizer.json", tmp_path / "does-not-exist.json")]
    with pytest.raises(OSError):
        packs.install("toy", "encoder", broken, {"dims": 99})
    assert [p.name for p in packs.root.iterdir()] == ["toy"]
    assert packs.verify("toy").manifest["dims"] == 4


# --- the real built packs ------------------------------------------------------------------


@pytest.mark.parametrize("name", [DEFAULT_ENCODER, TINY_GENERATOR])
def test_built_pack_verifies_in_full(home: Path, name: str) -> None:
    pack = ModelPacks(Config(home=home)).verify(name)
    assert pack.name == name
    assert pack.license == "Apache-2.0"


@pytest.mark.parametrize(
    ("split", "size", "pinned"),
    [
        (
            QWEN_05B,
            491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        (
            QWEN_15B,
            1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    ],
    ids=["0.5b", "1.5b"],
)
def test_joined_generator_manifests_pin_the_qwen_sha256(
    home: Path, split: SplitGGUF, size: int, pinned: str
) -> None:
    assert (split.size, split.sha256) == (size, pinned)
    manifest = home / "models" / split.pack / "manifest.json"
    if not manifest.is_file():
        pytest.skip(f"{split.pack} is not built in {home}")
    files = json.loads(manifest.read_text())["files"]
    assert [(f["role"], f["size"], f["sha256"]) for f in files] == [("model", size, pinned)]


# --- build ---------------------------------------------------------------------------------


@pytest.fixture
def builders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replaces the real builders; records which ran and installs a tiny stand-in pack."""
    ran: list[str] = []

    def fake(what: str):
        def builder(packs: ModelPacks, progress) -> ModelPack:
            ran.append(what)
            source = packs.root.parent / f"{what}.bin"
            source.write_bytes(b"GGUF rebuilt " + what.encode())
            kind = "encoder" if what == "encoder" else "generator"
            name = build_module.PACK_NAMES[what]
            return packs.install(name, kind, [("model", "model.bin", source)], {"rebuilt": True})

        return builder

    monkeypatch.setattr(build_module, "_BUILDERS", {w: fake(w) for w in build_module._BUILDERS})
    return ran


def test_build_refuses_unknown_names_before_building_anything(
    packs: ModelPacks, builders: list[str]
) -> None:
    with pytest.raises(ModelPackError, match=r"unknown default pack.*bogus"):
        build_packs(packs, ["encoder", "bogus"])
    assert builders == []


def test_build_keeps_a_present_pack(
    packs: ModelPacks, sources: list[tuple[str, str, Path]], builders: list[str]
) -> None:
    existing = packs.install(DEFAULT_ENCODER, "encoder", sources, {"dims": 4})
    assert build_packs(packs, ["encoder"]) == [existing]
    assert builders == []


def test_build_replaces_a_damaged_pack(
    packs: ModelPacks, sources: list[tuple[str, str, Path]], builders: list[str]
) -> None:
    existing = packs.install(DEFAULT_ENCODER, "encoder", sources, {"dims": 4})
    existing.file("model").unlink()
    [pack] = build_packs(packs, ["encoder"])
    assert builders == ["encoder"]
    assert pack.manifest["rebuilt"] is True


def test_build_force_and_missing_packs_run_the_builders(
    packs: ModelPacks, sources: list[tuple[str, str, Path]], builders: list[str]
) -> None:
    packs.install(DEFAULT_ENCODER, "encoder", sources, {"dims": 4})
    built = build_packs(packs, ["encoder", "tiny"], force=True)
    assert builders == ["encoder", "tiny"]
    assert [p.name for p in built] == [DEFAULT_ENCODER, TINY_GENERATOR]
    builders.clear()
    build_packs(packs, ["encoder", "tiny", "generator"])
    assert builders == ["generator"]
