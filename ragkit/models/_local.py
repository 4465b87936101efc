"""GGUF models other tools already downloaded (Ollama, LM Studio), found without copying them.

Nothing here writes anything: a scan reads manifests and the first bytes of model files, and
a folder, manifest or file it cannot read is left out rather than failing the scan.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "LocalModel",
    "LocalSource",
    "find_local_models",
    "lmstudio_dirs",
    "ollama_dir",
]

LocalSource = Literal["ollama", "lmstudio"]
"""The tool that downloaded a :class:`LocalModel`."""

_MODEL_LAYER = "application/vnd.ollama.image.model"
_LICENSE_LAYER = "application/vnd.ollama.image.license"
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")
_BLOB = re.compile(r"sha256-([0-9a-f]{64})")
_DEFAULT_REGISTRY = "registry.ollama.ai"
_DEFAULT_NAMESPACE = "library"
# A manifest is a few hundred bytes; anything far larger is not one.
_MANIFEST_LIMIT = 1 << 20
_LICENSE_LINE = 200


@dataclass(frozen=True, kw_only=True)
class LocalModel:
    """A GGUF model file another tool downloaded: ``name`` as that tool shows it (Ollama's
    ``qwen2.5:0.5b``, LM Studio's file name without ``.gguf``), the file's ``path`` and
    ``size`` in bytes, and its ``license`` (the first line of Ollama's license text, else
    ``"unknown"``). ``sha256`` is the digest the tool records (Ollama's blob name), or
    ``None`` when it records none (LM Studio)."""

    name: str
    path: Path
    source: LocalSource
    size: int
    license: str = "unknown"
    sha256: str | None = None


def ollama_dir() -> Path:
    """Where Ollama keeps its models: ``$OLLAMA_MODELS``, else ``~/.ollama/models``."""
    env = os.environ.get("OLLAMA_MODELS")
    return Path(env).expanduser() if env else Path.home() / ".ollama" / "models"


def lmstudio_dirs() -> list[Path]:
    """Where LM Studio keeps its models: ``~/.lmstudio/models`` (LM Studio 0.3 and later)
    and ``~/.cache/lm-studio/models`` (earlier versions)."""
    home = Path.home()
    return [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]


def find_local_models(
    ollama: Path | None = None, lmstudio: Iterable[Path] | None = None
) -> list[LocalModel]:
    """The GGUF models found in Ollama's folder (``ollama``, default :func:`ollama_dir`) and
    LM Studio's folders (``lmstudio``, default :func:`lmstudio_dirs`), sorted by source then
    name. Only files that start with the GGUF magic count."""
    found = list(_ollama_models(ollama if ollama is not None else ollama_dir()))
    for folder in lmstudio_dirs() if lmstudio is None else lmstudio:
        found.extend(_lmstudio_models(folder))
    return sorted(found, key=lambda m: (m.source, m.name, str(m.path)))


def ollama_name(blob: Path) -> str | None:
    """The name Ollama gives the model whose weights are ``blob`` (a file
    ``<models>/blobs/sha256-<hex>``), from the manifests beside it; ``None`` if none names it."""
    match = _BLOB.fullmatch(blob.name)
    if not match or blob.parent.name != "blobs":
        return None
    names = [m.name for m in _ollama_models(blob.parent.parent) if m.sha256 == match[1]]
    return min(names, default=None)


def _is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(4) == b"GGUF"
    except OSError:
        return False


def _ollama_models(root: Path) -> Iterator[LocalModel]:
    manifests = root / "manifests"
    try:
        paths = sorted(manifests.glob("*/*/*/*"))
    except OSError:
        return
    for manifest in paths:
        layers = _layers(manifest)
        model = next((layer for layer in layers if layer.get("mediaType") == _MODEL_LAYER), None)
        digest = _DIGEST.fullmatch(str(model.get("digest"))) if model else None
        if digest is None:
            continue
        blob = root / "blobs" / f"sha256-{digest[1]}"
        try:
            size = blob.stat().st_size
        except OSError:
            continue
        if not _is_gguf(blob):
            continue
        host, namespace, name, tag = manifest.relative_to(manifests).parts
        # As `ollama list` shows it: the registry and namespace only when not the defaults.
        prefix = "" if namespace == _DEFAULT_NAMESPACE else f"{namespace}/"
        if host != _DEFAULT_REGISTRY:
            prefix = f"{host}/{namespace}/"
        yield LocalModel(
            name=f"{prefix}{name}:{tag}",
            path=blob,
            source="ollama",
            size=size,
            license=_ollama_license(root, layers),
            sha256=digest[1],
        )


def _layers(manifest: Path) -> list[dict[str, Any]]:
    """The layers of an Ollama manifest; none when it cannot be read or is not one."""
    try:
        if not manifest.is_file() or manifest.stat().st_size > _MANIFEST_LIMIT:
            return []
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list):
        return []
    return [layer for layer in layers if isinstance(layer, dict)]


def _ollama_license(root: Path, layers: list[dict[str, Any]]) -> str:
    """The first non-empty line of the model's license text, or ``"unknown"``."""
    for layer in layers:
        digest = _DIGEST.fullmatch(str(layer.get("digest")))
        if layer.get("mediaType") != _LICENSE_LAYER or digest is None:
            continue
        try:
            with (root / "blobs" / f"sha256-{digest[1]}").open(encoding="utf-8") as stream:
                for line in stream:
                    if line.strip():
                        return line.strip()[:_LICENSE_LINE]
        except (OSError, ValueError):
            pass
    return "unknown"


def _lmstudio_models(root: Path) -> Iterator[LocalModel]:
    try:
        paths = sorted(root.glob("*/*/*.gguf"))
    except OSError:
        return
    for path in paths:
        # A vision model's image projector sits beside its weights; it answers nothing alone.
        if path.name.lower().startswith("mmproj-") or not _is_gguf(path):
            continue
        try:
            size = path.stat().st_size
        except OSError:
            continue
        yield LocalModel(name=path.stem, path=path, source="lmstudio", size=size)
