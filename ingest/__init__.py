"""Loading documents and cutting them into encoder-sized chunks.

``load`` turns a ``.txt``, ``.md``/``.markdown`` or ``.pdf`` file into a :class:`Document`
of located :class:`Section` objects (PDF page, Markdown heading path); ``chunk_document``
cuts those into token-exact :class:`Chunk` objects. Unreadable files raise
:class:`ragkit._errors.LoadError` naming the file and the reason.
"""

from __future__ import annotations

from ._chunk import chunk_document
from ._load import SUPPORTED_SUFFIXES, file_sha256, iter_files, load
from ._types import Chunk, Document, Section

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Chunk",
    "Document",
    "Section",
    "chunk_document",
    "file_sha256",
    "iter_files",
    "load",
]
