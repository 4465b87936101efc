"""Text from scanned PDF pages: each page rendered with PDFium, its lines found by PP-OCRv4
and read by PP-OCRv6 (ONNX models inside the ``rapidocr-onnxruntime`` and ``rapidocr``
wheels), through RapidOCR's engine on onnxruntime."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator, Sequence
from importlib import util
from pathlib import Path
from typing import Any, Literal

OcrMode = Literal["auto", "off", "force"]
OCR_MODES: tuple[OcrMode, ...] = ("auto", "off", "force")
OCR_INSTALL_HINT = (
    "install ragkit's OCR extra and its recognition model (pip install 'ragkit[ocr]', "
    "then pip install --no-deps rapidocr==3.10.0)"
)

# The models, each (package, file, sha256), pinned like every other model ragkit runs.
# Recognition is PP-OCRv6's, from the `rapidocr` 3.10.0 wheel, installed without its
# dependencies (its own code, which can download models, is never imported): on scanned
# SciFact abstracts it read 0.95 of the words where the PP-OCRv4 recogniser inside
# rapidocr-onnxruntime read 0.51, running most English words together. Detection stays
# PP-OCRv4's: PP-OCRv6's found no text at all on a page of one 12-point line at 200 dpi.
_MODELS = {
    "det": (
        "rapidocr_onnxruntime",
        "ch_PP-OCRv4_det_infer.onnx",
        "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    ),
    "rec": (
        "rapidocr",
        "PP-OCRv6_rec_small.onnx",
        "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
    ),
    # Loaded by the engine although ragkit never asks it to turn lines (use_cls=False).
    "cls": (
        "rapidocr_onnxruntime",
        "ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
    ),
}
# Detection works on at most 2,000 pixels a side, which a letter page reaches at 200 dpi;
# rendering finer only adds work. Measured on generated 11-point pages scanned at 300 dpi:
# rendered at 100 to 300 dpi they all read 0.99 of the words, 300 dpi taking 1.7x as long.
_RENDER_DPI = 200
# A line is one the recogniser read with at least this confidence (RapidOCR's own default).
_MIN_SCORE = 0.5
# A gap between lines over this many line heights starts a new paragraph, which sentence
# splitting and chunking then respect.
_PARAGRAPH_GAP = 1.0


def ocr_unavailable() -> str | None:
    """Why OCR cannot run in this environment, or None when it can."""
    missing = [
        name
        for name in ("rapidocr_onnxruntime", "pypdfium2", "rapidocr")
        if util.find_spec(name) is None
    ]
    if missing:
        return f"OCR needs {' and '.join(missing)}: {OCR_INSTALL_HINT}"
    return None


class OcrError(Exception):
    """OCR could not run: its packages or model files are missing or not the pinned ones."""


_engine: Any = None
_engine_threads = 0
# Lines are recognised this many at a time; sorted by width first, so little is padding.
# With two threads 16 took 0.8x the time of RapidOCR's default 6 on a dense page.
_REC_BATCH = 16


def _load_engine(threads: int) -> Any:
    """The RapidOCR engine of this process, built after checking its model files (again
    only for another thread count)."""
    global _engine, _engine_threads
    if _engine is not None and _engine_threads == threads:
        return _engine
    reason = ocr_unavailable()
    if reason is not None:
        raise OcrError(reason)
    import rapidocr_onnxruntime

    paths = {}
    for role, (package, name, expected) in _MODELS.items():
        # Found without importing the package: only its model files are wanted.
        spec = util.find_spec(package)
        folders = list(spec.submodule_search_locations or ()) if spec else []
        path = paths[role] = Path(folders[0] if folders else package) / "models" / name
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as error:
            raise OcrError(
                f"OCR model {path} cannot be read ({error.strerror}); {OCR_INSTALL_HINT}"
            ) from error
        if digest != expected:
            raise OcrError(
                f"OCR model {path} is not the pinned file (sha256 {digest[:12]}…); "
                f"reinstall {package}: {OCR_INSTALL_HINT}"
            )
    # RapidOCR gives its logger a DEBUG stream handler of its own, which would print through
    # the progress bar; what matters reaches the caller as text or an error.
    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    # No line-orientation pass: it exists for lines printed upside down, and turning some
    # upright lines it read 0.64-0.80 of the words of the pages above, against 0.99 without.
    _engine = rapidocr_onnxruntime.RapidOCR(
        intra_op_num_threads=threads,
        inter_op_num_threads=1,
        use_cls=False,
        rec_batch_num=_REC_BATCH,
        det_model_path=str(paths["det"]),
        rec_model_path=str(paths["rec"]),
        cls_model_path=str(paths["cls"]),
    )
    _engine_threads = threads
    return _engine


def recognize_pages(
    data: bytes, numbers: Sequence[int], deadline: float | None = None, threads: int = 1
) -> Iterator[tuple[int, str]]:
    """Render these 1-based pages of a PDF and yield ``(number, text)`` for each, in order,
    recognising on ``threads`` threads.

    Stops early, without an error, once ``time.monotonic()`` passes ``deadline``: the caller
    says which pages were left. Lines are read top to bottom and joined left to right;
    a wide gap between lines starts a paragraph. Raises :class:`OcrError` when OCR is not
    installed or its model files are not the pinned ones.
    """
    engine = _load_engine(threads)
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        for number in numbers:
            if deadline is not None and time.monotonic() > deadline:
                return
            page = document[number - 1]
            try:
                image = page.render(scale=_RENDER_DPI / 72, grayscale=False).to_numpy()
            finally:
                page.close()
            found, _ = engine(image, use_cls=False)
            yield number, _layout(found or [])
    finally:
        document.close()


def _layout(found: list[Any]) -> str:
    """Recognised boxes as lines and paragraphs of text, in reading order."""
    boxes = []
    for corners, text, score in found:
        if float(score) < _MIN_SCORE or not str(text).strip():
            continue
        ys = [float(point[1]) for point in corners]
        boxes.append((min(ys), max(ys), min(float(point[0]) for point in corners), str(text)))
    boxes.sort()
    lines: list[list[tuple[float, str]]] = []
    extents: list[tuple[float, float]] = []
    for top, bottom, left, text in boxes:
        # A box belongs to the line whose vertical middle it spans: words of one line are
        # often detected as separate boxes of slightly different heights.
        if extents and top <= (extents[-1][0] + extents[-1][1]) / 2 <= bottom:
            lines[-1].append((left, text))
            extents[-1] = (min(extents[-1][0], top), max(extents[-1][1], bottom))
        else:
            lines.append([(left, text)])
            extents.append((top, bottom))
    out: list[str] = []
    for i, line in enumerate(lines):
        if i:
            height = extents[i - 1][1] - extents[i - 1][0]
            gap = extents[i][0] - extents[i - 1][1]
            out.append("\n\n" if gap > _PARAGRAPH_GAP * height else "\n")
        out.append(" ".join(text for _, text in sorted(line)))
    return "".join(out)
