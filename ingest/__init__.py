"""Loading documents and cutting them into encoder-sized chunks.

``load`` turns a file of a supported format (``SUPPORTED_SUFFIXES``: plain text, Markdown,
PDF, HTML, DOCX, ODT, PPTX, RTF, e-mail (.eml), CSV/TSV and XLSX) into a :class:`Document`
of located :class:`Section` objects (a PDF page or slide, a heading path, a sheet, an
e-mail attachment; a table's rows each name their columns), with every section's text
passed through :func:`normalize_text` (text that is not UTF-8 has its encoding detected, and
``Document.warnings`` says when that was a guess); files over ``MAX_FILE_BYTES`` are
refused unread unless ``load(..., max_file_bytes=...)`` allows them. ``iter_files`` finds
the files to ingest under folders, with include/exclude globs and ``.ragkitignore`` files
(``IGNORE_FILE``), reporting entries it skips and files of unsupported types (names that
are not UTF-8 shown by ``printable_path``), and ``file_sha256`` hashes one so an unchanged
file can be skipped unread. PDF pages without a text layer are read by OCR as ``load(..., ocr=...)``
says (one of ``OCR_MODES``, typed ``OcrMode``; ``ocr_unavailable`` tells why OCR cannot
run here), and only the first ``MAX_PAGES`` pages of a PDF are read unless ``max_pages``
says otherwise. ``chunk_document`` cuts sections into token-exact :class:`Chunk` objects.
Unreadable files raise :class:`ragkit._errors.LoadError` naming the file and the reason.
"""

from __future__ import annotations

from ._chunk import chunk_document
from ._files import IGNORE_FILE, iter_files, printable_path
from ._load import MAX_FILE_BYTES, SUPPORTED_SUFFIXES, file_sha256, load
from ._normalize import normalize_text
from ._ocr import OCR_MODES, OcrMode, ocr_unavailable
from ._pdf import MAX_PAGES
from ._types import Chunk, Document, Section

__all__ = [
    "IGNORE_FILE",
    "MAX_FILE_BYTES",
    "MAX_PAGES",
    "OCR_MODES",
    "SUPPORTED_SUFFIXES",
    "Chunk",
    "Document",
    "OcrMode",
    "Section",
    "chunk_document",
    "file_sha256",
    "iter_files",
    "load",
    "normalize_text",
    "ocr_unavailable",
    "printable_path",
]
