"""The ingest pipeline: parse in worker processes while the encoder embeds in this one.

Parsing a file (PDF text extraction, chunking) runs in a small pool of worker processes,
each under a memory limit, and every file under a time limit, so a hostile or pathological
file is stopped and reported instead of hanging or exhausting the machine. The main process
keeps the encoder busy with batches of chunks gathered across documents and writes each
document in one transaction, so an interrupted run leaves the index consistent and the next
run continues where it stopped (finished documents are unchanged and skipped).
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragkit import ingest
from ragkit._errors import LoadError
from ragkit._types import IngestFailure, IngestProgress, IngestReport
from ragkit.models._interfaces import TextEncoder
from ragkit.store import Store

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["FileSource", "Labels", "Limits", "TextSource", "run_ingest"]

# Chunks are embedded in batches of about this many, across documents, so small files do not
# each pay for a separate encoder call.
EMBED_BATCH = 64


@dataclass(frozen=True)
class FileSource:
    """A file to ingest; its resolved path is its key in the index."""

    path: Path

    @property
    def key(self) -> str:
        return str(self.path.resolve())

    def digest(self) -> str:
        return ingest.file_sha256(self.path)


@dataclass(frozen=True)
class TextSource:
    """Text given directly (no file); ``source`` is its key in the index."""

    source: str
    text: str
    title: str | None = None

    @property
    def key(self) -> str:
        return self.source

    def digest(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def document(self) -> ingest.Document:
        if not self.text.strip():
            raise LoadError(self.source, "text is empty")
        # The title is kept as the heading, so it is embedded and searchable with each chunk.
        section = ingest.Section(ingest.normalize_text(self.text), heading=self.title or None)
        return ingest.Document(
            path=Path(self.source),
            title=self.title or self.source,
            sections=(section,),
            sha256=self.digest(),
            size=len(self.text.encode("utf-8")),
            mtime=0.0,
        )


Source = FileSource | TextSource

_Parsed = tuple[ingest.Document, list[ingest.Chunk]] | tuple[None, str]
"""What parsing one source gives: its document and chunks, or ``None`` and why it failed."""


@dataclass(frozen=True)
class Labels:
    """Collection and tags given for a batch; ``None``/empty leaves stored labels as they are."""

    collection: str | None = None
    tags: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.collection is not None or bool(self.tags)

    def metadata(self) -> dict[str, list[str]]:
        return {"tags": list(self.tags)} if self.tags else {}


@dataclass(frozen=True)
class Limits:
    """Bounds on parsing one file. ``workers=0`` parses in this process, where the time and
    memory limits do not apply; a file's chunks past ``max_chunks`` are dropped either way."""

    seconds: float = 120.0
    memory_bytes: int = 2 << 30
    workers: int = 1
    max_chunks: int = 20_000
    max_pages: int = ingest.MAX_PAGES
    ocr: ingest.OcrMode = "auto"


# --- worker side ---------------------------------------------------------------------------

# The part of the per-file time limit OCR may use; the rest is left for chunking the text.
_OCR_SHARE = 0.8
_worker_tokenizer: Tokenizer | None = None
_worker_sizes = (200, 40)


def _init_worker(tokenizer_json: str, sizes: tuple[int, int], memory_bytes: int) -> None:
    global _worker_tokenizer, _worker_sizes
    import resource

    from tokenizers import Tokenizer

    # An address-space limit turns a zip bomb or runaway parser into a MemoryError here
    # instead of the kernel's OOM killer picking a victim.
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, hard))
    _die_with_parent()
    # Ctrl-C in a terminal reaches every process of the group: the parent decides what an
    # interrupt means (it stops the pool), so a worker neither dies mid-file nor prints a
    # traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_tokenizer = Tokenizer.from_str(tokenizer_json)
    _worker_sizes = sizes


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the process that started it dies, however it dies."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: an orphaned worker still exits when its task queue closes


def _parse(
    source: Source,
    limits: Limits,
    tokenizer: Tokenizer | None = None,
    sizes: tuple[int, int] | None = None,
) -> _Parsed:
    """Load and chunk one source; returns (document, chunks) or (None, failure reason)."""
    tokenizer = tokenizer or _worker_tokenizer
    max_tokens, overlap = sizes or _worker_sizes
    max_chunks = limits.max_chunks
    # OCR, by far the slowest part of reading a scan, stops with a warning in time for the
    # pages it read to be indexed, rather than the whole file being killed at the limit.
    deadline = time.monotonic() + _OCR_SHARE * limits.seconds if limits.workers > 0 else None
    try:
        if isinstance(source, TextSource):
            doc = source.document()
        else:
            doc = ingest.load(
                source.path,
                ocr=limits.ocr,
                max_pages=limits.max_pages,
                ocr_deadline=deadline,
                # The cores left to each parser: while a scan is read the encoder mostly
                # waits, and on two cores OCR's second thread made it 1.7x as fast.
                ocr_threads=max(1, (os.cpu_count() or 1) // max(1, limits.workers)),
            )
        chunks = ingest.chunk_document(doc, tokenizer, max_tokens, overlap)
        if not chunks:
            raise LoadError(source.key, "no text to index")
        if len(chunks) > max_chunks:
            # Cut here, in the worker, so the dropped chunks cost neither a trip to the main
            # process nor embedding; embedding is most of a huge file's ingest time.
            warning = _capped_warning(chunks, max_chunks)
            doc = dataclasses.replace(doc, warnings=(*doc.warnings, warning))
            chunks = chunks[:max_chunks]
        return doc, chunks
    except LoadError as exc:
        return None, exc.reason
    except MemoryError:
        return None, "ran out of memory while parsing (over the per-file memory limit)"
    except RecursionError:
        return None, "structure nested too deeply to parse"


def _capped_warning(chunks: list[ingest.Chunk], max_chunks: int) -> str:
    last_page = chunks[max_chunks - 1].page
    through = f" (up to page {last_page})" if last_page is not None else ""
    # An unchanged file is skipped on the next ingest, so raising the cap alone re-reads nothing.
    return (
        f"only the first {max_chunks:,} of its {len(chunks):,} chunks were indexed{through}; "
        "the rest of the file was skipped. To index all of it, raise "
        "Config.max_chunks_per_file, remove the document from the index and add it again."
    )


# --- main side -----------------------------------------------------------------------------


def _with_source(labels: dict[str, Any], doc: ingest.Document) -> dict[str, Any]:
    """The document's stored metadata: its labels, and what this version of the file says
    about itself under ``source`` (a replaced file's old entries go with it)."""
    kept = {key: value for key, value in labels.items() if key != "source"}
    return {**kept, "source": doc.metadata} if doc.metadata else kept


class _WorkerProcess(multiprocessing.context.SpawnProcess):
    """A spawned parser that does not re-run the caller's main script.

    spawn re-imports ``__main__`` in every child so that functions defined there can be
    unpickled. Workers only run ragkit code, and a caller's script without an
    ``if __name__ == "__main__"`` guard would otherwise run again in each worker, try to
    spawn its own, die in bootstrapping, and leave this process waiting forever. So the
    child's preparation data is built while ``__main__`` is a bare module.
    """

    def start(self) -> None:
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        # A worker inherits an ignored SIGINT, so a Ctrl-C while it starts (importing ragkit
        # takes it a moment, before its initializer ignores SIGINT too) prints no traceback
        # from it. The price: a Ctrl-C in those few tenths of a second is lost here as well,
        # and must be pressed again. Only the main thread may change a signal's handler.
        on_main = threading.current_thread() is threading.main_thread()
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN) if on_main else None
        try:
            super().start()
        finally:
            sys.modules["__main__"] = main
            if on_main:
                signal.signal(signal.SIGINT, handler)


class _WorkerContext(multiprocessing.context.SpawnContext):
    Process = _WorkerProcess


class _Parser:
    """Parses sources in order of submission, with a bounded number in flight."""

    def __init__(self, encoder: TextEncoder, sizes: tuple[int, int], limits: Limits) -> None:
        self.sizes = sizes
        self.limits = limits
        self.tokenizer = encoder.chunking_tokenizer()
        self.pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        if self.pool is None:
            # spawn, not fork: workers must not inherit onnxruntime's or llama.cpp's threads;
            # not forkserver either: a server process outlives a main process killed with
            # SIGKILL, keeping idle workers alive forever.
            self.pool = ProcessPoolExecutor(
                self.limits.workers,
                mp_context=_WorkerContext(),
                initializer=_init_worker,
                initargs=(self.tokenizer.to_str(), self.sizes, self.limits.memory_bytes),
            )
        return self.pool

    def _submit(self, source: Source) -> Future[_Parsed]:
        return self._start().submit(_parse, source, self.limits)

    def kill(self) -> None:
        if self.pool is not None:
            for process in list(getattr(self.pool, "_processes", {}).values()):
                process.kill()
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def parse(self, sources: Iterable[Source]) -> Iterator[tuple[Source, _Parsed]]:
        if self.limits.workers <= 0:
            for source in sources:
                yield source, _parse(source, self.limits, self.tokenizer, self.sizes)
            return
        queue: collections.deque[tuple[Source, Future[_Parsed], float]] = collections.deque()
        depth = 4 * self.limits.workers
        iterator = iter(sources)
        exhausted = False
        last_result = time.monotonic()
        while queue or not exhausted:
            while not exhausted and len(queue) < depth:
                try:
                    source = next(iterator)
                except StopIteration:
                    exhausted = True
                    break
                queue.append((source, self._submit(source), time.monotonic()))
            if not queue:
                break
            source, future, submitted = queue.popleft()
            # A file cannot start before the one ahead of it is done, so its clock starts
            # at the later of its submission and the previous result.
            started = max(submitted, last_result)
            remaining = max(0.0, started + self.limits.seconds - time.monotonic())
            try:
                result = future.result(timeout=remaining)
                last_result = time.monotonic()
                yield source, result
                continue
            except FutureTimeout:
                reason = f"parsing took longer than {self.limits.seconds:g} s; skipped"
            except BrokenProcessPool:
                reason = "the parser crashed (out of memory or a fault in a library)"
            # A stuck or dead worker takes its pool down; start a new one for the rest.
            others = [s for s, _, _ in queue]
            queue.clear()
            self.kill()
            last_result = time.monotonic()
            yield source, (None, reason)
            for other in others:
                queue.append((other, self._submit(other), time.monotonic()))


def run_ingest(
    index: Store,
    encoder: TextEncoder,
    sources: Sequence[Source],
    *,
    sizes: tuple[int, int],
    limits: Limits,
    progress: Callable[[IngestProgress], None] | None = None,
    report: IngestReport | None = None,
    labels: Labels = Labels(),
) -> IngestReport:
    """Add ``sources`` to ``index``, skipping those whose content is already there."""
    report = report or IngestReport()
    total = len(sources)
    done = 0
    existing: dict[str, bool] = {}

    def tick(key: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(
                IngestProgress(
                    files_done=done,
                    files_total=total,
                    chunks_embedded=report.chunks_embedded,
                    path=key,
                )
            )

    def changed() -> Iterator[Source]:
        for source in sources:
            try:
                key = source.key
                key.encode("utf-8")  # the index holds UTF-8; any other name is refused here
            except (OSError, RuntimeError, UnicodeError) as exc:  # RuntimeError: a link loop
                shown = ingest.printable_path(
                    source.path if isinstance(source, FileSource) else source.source
                )
                reason = (
                    "name is not valid UTF-8; rename it to index it"
                    if isinstance(exc, UnicodeError)
                    else f"cannot resolve the path: {exc}"
                )
                report.failed.append(IngestFailure(path=shown, reason=reason))
                tick(shown)
                continue
            try:
                stored = index.document_by_path(key)
                if stored is not None and stored.sha256 == source.digest():
                    mtime = source.path.stat().st_mtime if isinstance(source, FileSource) else 0.0
                    if mtime != stored.mtime or labels:
                        index.touch_document(
                            key,
                            mtime,
                            collection=labels.collection,
                            # New tags replace the old; what the file says stays.
                            metadata={**stored.metadata, **labels.metadata()}
                            if labels.tags
                            else None,
                        )
                    report.unchanged.append(key)
                    tick(key)
                    continue
            except LoadError as exc:
                report.failed.append(IngestFailure(path=key, reason=exc.reason))
                tick(key)
                continue
            except OSError as exc:
                report.failed.append(
                    IngestFailure(path=key, reason=f"cannot read file: {exc.strerror or exc}")
                )
                tick(key)
                continue
            existing[key] = stored is not None
            yield source

    pending: list[tuple[str, ingest.Document, list[ingest.Chunk]]] = []

    def flush() -> None:
        texts = [_embedding_text(c) for _, _, chunks in pending for c in chunks]
        vectors = encoder.encode(texts)
        offset = 0
        for key, doc, chunks in pending:
            block = vectors[offset : offset + len(chunks)]
            offset += len(chunks)
            stored = index.document_by_path(key) if existing[key] and not labels else None
            index.put_document(
                path=key,
                title=doc.title,
                sha256=doc.sha256,
                size=doc.size,
                mtime=doc.mtime,
                chunks=chunks,
                vectors=block,
                # A changed file keeps the labels it had unless new ones are given.
                collection=stored.collection if stored else labels.collection,
                metadata=_with_source(stored.metadata if stored else labels.metadata(), doc),
            )
            (report.updated if existing[key] else report.added).append(key)
            if doc.pages_without_text:
                pages = ", ".join(map(str, doc.pages_without_text))
                reason = (
                    f"no text found on page(s) {pages} (blank, pictures only, or scans "
                    "left unread: see Config.ocr)"
                )
                report.warnings.append(IngestFailure(path=key, reason=reason))
            report.warnings.extend(IngestFailure(path=key, reason=w) for w in doc.warnings)
            report.chunks_embedded += len(chunks)
            tick(key)
        pending.clear()

    parser = _Parser(encoder, sizes, limits)
    try:
        for source, parsed in parser.parse(changed()):
            if parsed[0] is None:
                report.failed.append(IngestFailure(path=source.key, reason=parsed[1]))
                tick(source.key)
                continue
            doc, chunks = parsed
            pending.append((source.key, doc, chunks))
            if sum(len(c) for _, _, c in pending) >= EMBED_BATCH:
                flush()
        if pending:
            flush()
    except BaseException:
        # Interrupted (Ctrl-C) or failed: the files being parsed are of no use now, so the
        # workers are stopped rather than waited for. Every document written is whole.
        parser.kill()
        raise
    finally:
        parser.close()
    return report


def _embedding_text(chunk: ingest.Chunk) -> str:
    # The heading path tells the encoder what a terse chunk is about.
    return f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text
