"""ragkit: an offline RAG assistant. Ask questions of your documents, get cited answers.

Everything runs on this machine: documents are indexed in one SQLite file, embedded with a
quantized ONNX encoder, and answered by a local 4-bit language model. Nothing is sent
anywhere, ever.
"""

import os as _os

# Dependencies' telemetry is switched off here, first, before the imports below can load any
# of them: these variables are read when a library loads, not when it is used. onnxruntime
# (1.32) otherwise starts its own telemetry as it loads: DNS look-ups for
# mobile.events.data.microsoft.com and an event queue with a device id under
# ~/.cache/Microsoft/DeveloperTools/.onnxruntime/; onnxruntime.disable_telemetry_events()
# does not stop it, ORT_DISABLE_TELEMETRY=1 does. Telemetry is forced off whatever the
# environment says (no one legitimately wants their documents' metadata sent), while the
# offline switches of the Hugging Face libraries (used only by `ragkit models build`, which
# reads local files) are defaults an application importing ragkit may override.
# An application that imports onnxruntime itself before ragkit must set the variable itself.
# tests/test_offline.py proves it at the system-call level.
_os.environ["ORT_DISABLE_TELEMETRY"] = "1"
_os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
_os.environ["DO_NOT_TRACK"] = "1"  # the cross-tool convention, honoured by huggingface_hub
_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

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
    IndexKeyError,
    LoadError,
    ModelPackError,
    RagkitError,
    StoreError,
)
from ragkit._migrate import migrate
from ragkit._settings import LoadedConfig, load_config
from ragkit._types import (
    Answer,
    AnswerSentence,
    AskMode,
    Citation,
    Conflict,
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
from ragkit.store import AuditEntry, Filter

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "AnswerSentence",
    "AnswerStream",
    "AskMode",
    "Assistant",
    "AuditEntry",
    "Chat",
    "Check",
    "ChunkingMismatchError",
    "Citation",
    "Config",
    "ConfigError",
    "Conflict",
    "DocumentInfo",
    "EncoderError",
    "EncoderMismatchError",
    "Filter",
    "GenerationError",
    "IndexBusyError",
    "IndexCorruptError",
    "IndexKeyError",
    "IngestFailure",
    "IngestProgress",
    "IngestReport",
    "LoadError",
    "LoadedConfig",
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
    "load_config",
    "migrate",
]
