"""The ragkit error tree.

Every error ragkit raises on purpose derives from :class:`RagkitError`, so callers can catch
one type. Messages name the file or setting at fault and say what to do about it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ChunkingMismatchError",
    "ConfigError",
    "EncoderError",
    "EncoderMismatchError",
    "GenerationError",
    "IndexBusyError",
    "IndexCorruptError",
    "IndexKeyError",
    "LoadError",
    "ModelPackError",
    "RagkitError",
    "StoreError",
]


class RagkitError(Exception):
    """Base class of every error ragkit raises on purpose."""


class ConfigError(RagkitError):
    """A setting is missing or invalid."""


class ModelPackError(RagkitError):
    """A model pack is missing, incomplete, or fails verification."""


class LoadError(RagkitError):
    """A document could not be read; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class StoreError(RagkitError):
    """The SQLite index cannot be opened or used."""


class EncoderMismatchError(StoreError):
    """The index was built with a different encoder than the one configured."""


class ChunkingMismatchError(StoreError):
    """The index's documents were chunked with other settings than the configured ones."""


class IndexBusyError(StoreError):
    """Another connection held the index's write lock for longer than the busy timeout."""


class IndexCorruptError(StoreError):
    """The index file is not a SQLite database, or its pages are damaged."""


class IndexKeyError(StoreError):
    """The index is encrypted and no key or a wrong one was given, or a key was given for an
    index that is not encrypted."""


class EncoderError(RagkitError):
    """The encoder failed to load or to embed texts."""


class GenerationError(RagkitError):
    """The language model failed to load or to produce an answer."""
