"""Loading documents and cutting them into encoder-sized chunks.

``load`` turns a file of a supported format (``SUPPORTED_SUFFIXES``: plain text, Markdown,
PDF, HTML and DOCX) into a :class:`Document` of located :class:`Section` objects (a PDF
page, a heading path), with every section's text passed through :func:`normalize_text`
(text that is not UTF-8 has its encoding detected, and ``Document.warnings`` says when that
was a guess); files over ``MAX_FILE_BYTES`` are refused unread unless
``load(..., max_file_bytes=...)`` allows them. ``iter_files`` finds the files to ingest
under folders, with include/exclude globs and ``.ragkitignore`` files (reporting entries it
skips and files of unsupported types, with names that are not UTF-8 shown by
``printable_path``), and ``file_sha256`` hashes one so an unchanged file can be skipped
unread. ``chunk_document`` cuts sections into token-exact :class:`Chunk` objects.
Unreadable files raise :class:`ragkit._errors.LoadError` naming the file and the reason.
"""

from __future__ import annotations

from ._chunk import chunk_document
from ._files import iter_files, printable_path
from ._load import MAX_FILE_BYTES, SUPPORTED_SUFFIXES, file_sha256, load
from ._normalize import normalize_text
from ._types import Chunk, Document, Section

__all__ = [
    "MAX_FILE_BYTES",
    "SUPPORTED_SUFFIXES",
    "Chunk",
    "Document",
    "Section",
    "chunk_document",
    "file_sha256",
    "iter_files",
    "load",
    "normalize_text",
    "printable_path",
]
