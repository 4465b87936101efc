"""The ragkit error tree.

Every error ragkit raises on purpose derives from :class:`RagkitError`, so callers can catch
one type. Messages name the file or setting at fault and say what to do about it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "RagkitError",
    "ConfigError",
    "ModelPackError",
    "LoadError",
    "StoreError",
    "EncoderMismatchError",
    "GenerationError",
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


class GenerationError(RagkitError):
    """The language model failed to load or to produce an answer."""
