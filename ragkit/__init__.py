"""ragkit: an offline RAG assistant. Ask questions of your documents, get cited answers.

Everything runs on this machine: documents are indexed in one SQLite file, embedded with a
quantized ONNX encoder, and answered by a local 4-bit language model. Nothing is sent
anywhere, ever.
"""

from ragkit._assistant import Assistant
from ragkit._config import Config
from ragkit._doctor import Check, doctor
from ragkit._errors import (
    ChunkingMismatchError,
    ConfigError,
    EncoderError,
    EncoderMismatchError,
    GenerationError,
    IndexBusyError,
    IndexCorruptError,
    LoadError,
    ModelPackError,
    RagkitError,
    StoreError,
)
from ragkit._types import (
    Answer,
    AnswerSentence,
    AskMode,
    Citation,
    DocumentInfo,
    IngestFailure,
    IngestProgress,
    IngestReport,
    Passage,
    Rewrite,
    SearchMode,
)
from ragkit.answer._chat import Chat, Turn
from ragkit.answer._stream import AnswerStream
from ragkit.models import ModelPack, ModelPacks, PackKind, TextEncoder, TextGenerator
from ragkit.store import Filter

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "AnswerSentence",
    "AnswerStream",
    "AskMode",
    "Assistant",
    "Chat",
    "Check",
    "ChunkingMismatchError",
    "Citation",
    "Config",
    "ConfigError",
    "DocumentInfo",
    "EncoderError",
    "EncoderMismatchError",
    "Filter",
    "GenerationError",
    "IndexBusyError",
    "IndexCorruptError",
    "IngestFailure",
    "IngestProgress",
    "IngestReport",
    "LoadError",
    "ModelPack",
    "ModelPackError",
    "ModelPacks",
    "PackKind",
    "Passage",
    "RagkitError",
    "Rewrite",
    "SearchMode",
    "StoreError",
    "TextEncoder",
    "TextGenerator",
    "Turn",
    "doctor",
]
