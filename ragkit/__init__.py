"""ragkit: an offline RAG assistant. Ask questions of your documents, get cited answers.

Everything runs on this machine: documents are indexed in one SQLite file, embedded with a
quantized ONNX encoder, and answered by a local 4-bit language model. Nothing is sent
anywhere, ever.
"""

from ragkit._assistant import AnswerStream, Assistant
from ragkit.answer._chat import Chat, Turn
from ragkit._config import Config
from ragkit._doctor import Check, doctor
from ragkit._errors import (
    ConfigError,
    EncoderMismatchError,
    GenerationError,
    LoadError,
    ModelPackError,
    RagkitError,
    StoreError,
)
from ragkit.models import ModelPack, ModelPacks, TextEncoder, TextGenerator
from ragkit.store import Filter
from ragkit._types import (
    Answer,
    AnswerSentence,
    Citation,
    DocumentInfo,
    IngestFailure,
    IngestProgress,
    IngestReport,
    Passage,
)

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "AnswerSentence",
    "AnswerStream",
    "Assistant",
    "Chat",
    "Check",
    "Citation",
    "Config",
    "ConfigError",
    "DocumentInfo",
    "Filter",
    "EncoderMismatchError",
    "GenerationError",
    "IngestFailure",
    "IngestProgress",
    "IngestReport",
    "LoadError",
    "ModelPack",
    "ModelPackError",
    "ModelPacks",
    "Passage",
    "RagkitError",
    "StoreError",
    "TextEncoder",
    "TextGenerator",
    "Turn",
    "doctor",
]
