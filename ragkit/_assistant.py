"""The Assistant facade: the one object most users of ragkit need."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ragkit import ingest
from ragkit._config import LADDERS, Config
from ragkit._errors import ConfigError, LoadError, ModelPackError, StoreError
from ragkit._ingestion import FileSource, Labels, Limits, TextSource, run_ingest
from ragkit._language import UNDETERMINED, answer_language, stopwords
from ragkit._retrieval import rank, search, trusted_dense_weight
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
    check_choice,
)
from ragkit._watch import watch_folders
from ragkit.answer._chat import Chat
from ragkit.answer._conflicts import find_conflicts, noted
from ragkit.answer._extractive import extract
from ragkit.answer._judge import judge_sentences
from ragkit.answer._prompt import (
    IDK,
    Excerpt,
    build_messages,
    drop_invalid_markers,
    is_abstention,
    parse_citations,
    render,
    trim_passages,
)
from ragkit.answer._stream import AnswerStream
from ragkit.answer._support import ScoredSentence, check_claims, score_passages
from ragkit.models._encoder import Encoder
from ragkit.models._generator import Generator
from ragkit.models._interfaces import (
    TextEncoder,
    TextGenerator,
    encode_queries,
    encoder_languages,
)
from ragkit.models._packs import ModelPacks
from ragkit.store import AuditEntry, Filter, Store, change_key, index_files, is_url, open_store

__all__ = ["Assistant"]

NOTHING_RELEVANT = (
    "I don't know: nothing in the indexed documents is relevant enough to answer this."
)
NOTHING_SUPPORTED = (
    "I don't know: no sentence of the model's answer is supported by the passages it was given."
)
NOTHING_EXTRACTED = (
    "I don't know: no sentence of the indexed documents answers this closely enough to quote."
)
# A judge prompt holds one passage, a question and a sentence.
_JUDGE_CTX = 1024
ESCALATING = "{model}'s answer did not pass its check; asking {larger}…"
NO_GENERATOR = (
    "No generator pack is installed in {models}, so these are the most relevant sentences of "
    "the documents, quoted; build the default packs (ragkit.models.build_packs) or add a GGUF "
    "(ModelPacks.add_gguf) for generated answers."
)


class Assistant:
    """Ask questions of your documents, offline, with cited answers.

    >>> from ragkit import Assistant
    >>> with Assistant("my.db") as kb:
    ...     kb.add(["handbook.pdf", "notes/"])
    ...     print(kb.ask("When does the clinic open?").text)

    Models load lazily: listing and removing documents never loads one, searching loads only
    the encoder, and asking loads the generators too. ``encoder`` and ``generator`` replace the
    configured packs with any object of the :class:`TextEncoder` / :class:`TextGenerator`
    shape (a model already loaded elsewhere, or :class:`ragkit.testing.ScriptedGenerator`);
    a sequence of generators is a ladder, smallest first. ``judge`` replaces the judge (by
    default the last rung of a given ladder).

    ``key`` opens an encrypted index (SQLCipher, the ``encryption`` extra), and makes a new
    one encrypted; :meth:`encrypt` and :meth:`decrypt` convert an existing index.
    """

    def __init__(
        self,
        db_path: str | Path | None = None,
        config: Config | None = None,
        *,
        encoder: TextEncoder | None = None,
        generator: TextGenerator | Sequence[TextGenerator] | None = None,
        judge: TextGenerator | None = None,
        key: str | None = None,
    ) -> None:
        self.config = config or Config()
        self._key = key
        # A PostgreSQL URL stays a string: a Path would fold its "//".
        self.db_path: str | Path = (
            db_path
            if isinstance(db_path, str) and is_url(db_path)
            else Path(db_path)
            if db_path is not None
            else self.config.default_db
        )
        # The index file, or None for an index in a database server.
        self._file = None if isinstance(self.db_path, str) else self.db_path
        self.packs = ModelPacks(self.config)
        self._encoder: TextEncoder | None = encoder
        given = [generator] if isinstance(generator, TextGenerator) else list(generator or [])
        self._rungs: list[TextGenerator | None] = list(given)
        self._ladder: list[str] | None = [g.name for g in given] if given else None
        # A given ladder's last rung judges, as the largest installed pack does for packs.
        default_judge = given[-1] if given and self.config.judge != "off" else None
        self._judge: TextGenerator | None = judge or default_judge
        self._installed: frozenset[str] | None = None
        self._index: Store | None = None
        self._may_create = False

    # lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the index; the Assistant reopens it if used again."""
        if self._index is not None:
            self._index.close()
            self._index = None

    @property
    def encoder(self) -> TextEncoder:
        """The encoder: the one given, else the configured pack (for ``Config.encoder``
        "auto" the pack the index was built with), loaded on first use."""
        if self._encoder is None:
            self._encoder = self._load_encoder(self._recorded_encoder())
        return self._encoder

    def _load_encoder(self, recorded: str | None) -> Encoder:
        """The configured encoder pack, loaded; ``recorded`` is the index's, for "auto"."""
        pack = self.packs.get(self.config.encoder_pack(recorded), "encoder")
        return Encoder(pack, threads=self.config.n_threads)

    def _recorded_encoder(self) -> str | None:
        """The encoder pack the index records, when "auto" asks for it and there is one."""
        if self.config.encoder != "auto":
            return None
        try:
            if self._index is not None:
                return self._index.meta().get("encoder_pack")
            if self._file is not None and not self._file.is_file():
                return None
            with self._plain_index(create=False) as index:
                return index.meta().get("encoder_pack")
        except StoreError:
            return None  # opening the index to use it reports what is wrong with it

    def _encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Questions, and the answer sentences compared with passage sentences: e5 asks for
        its query prefix on both sides of a symmetric comparison, so every text that is not an
        indexed chunk is embedded as a query."""
        return encode_queries(self.encoder, texts)

    def ladder(self) -> list[str]:
        """The generators that answer, smallest first: the ones given, else the configured
        pack, else the installed packs of ``Config.ladder``: all of them for
        ``generator="ladder"``; for ``"auto"`` the default pack
        (:meth:`ModelPacks.set_default`) if one is set, else the largest of them alone, else
        the only generator pack installed."""
        if self._ladder is None:
            config = self.config
            if config.generator not in LADDERS:
                self._ladder = [config.generator]
            else:
                installed = self._installed_generators()
                climb = [name for name in config.ladder if name in installed]
                default = self.packs.default() if config.generator == "auto" else None
                if config.generator == "ladder":
                    self._ladder = climb
                elif default is not None and default in installed:
                    self._ladder = [default]
                else:
                    self._ladder = climb[-1:] or (sorted(installed) if len(installed) == 1 else [])
            self._rungs = [None] * len(self._ladder)
        return list(self._ladder)

    def _installed_generators(self) -> frozenset[str]:
        """The installed generator packs' names, from their manifests, read once."""
        if self._installed is None:
            self._installed = frozenset(p.name for p in self.packs.list() if p.kind == "generator")
        return self._installed

    def _rung(self, i: int) -> TextGenerator:
        name = self.ladder()[i]
        rung = self._rungs[i]
        if rung is None:
            rung = self._rungs[i] = self._load_generator(name, self.config.n_ctx)
        return rung

    def _load_generator(self, name: str, n_ctx: int) -> Generator:
        pack = self.packs.get(name, "generator")
        return Generator(pack, n_ctx=n_ctx, threads=self.config.n_threads)

    @property
    def generator(self) -> TextGenerator:
        """The first generator of the :meth:`ladder`, loaded on first use."""
        if not self.ladder():
            installed = sorted(self._installed_generators())
            if installed:
                raise ModelPackError(
                    f"none of the generator packs Config.ladder names "
                    f"({', '.join(self.config.ladder)}) is installed in "
                    f"{self.config.models_dir}, and no default generator is set; installed "
                    f"generator packs: {', '.join(installed)}. Make one the default "
                    "(ModelPacks.set_default) or name it in Config.generator."
                )
            # None installed: the error names the pack the configuration expects.
            self.packs.get(self.config.ladder[0], "generator")
        return self._rung(0)

    @property
    def judge(self) -> TextGenerator | None:
        """The model that judges answers, loaded on first use (:meth:`Config.judge_pack`,
        whichever model answers); ``None`` when judging is off or the judge is missing."""
        if self._judge is None:
            name = self.config.judge_pack(self._installed_generators())
            if name is None:
                return None
            # Its own llama.cpp instance (the weights are mmapped once): judging never
            # evicts an answer prompt's cached prefix, and a judge prompt is short.
            self._judge = self._load_generator(name, _JUDGE_CTX)
        return self._judge

    def _open(self, *, with_encoder: bool, create: bool = True) -> Store:
        """The index, opened once and kept; ``create`` lets adding documents create the file
        (and bind the encoder), while reading and removing never create or convert one."""
        index = self._index
        if (
            index is not None
            and (index.dims is not None or not with_encoder)
            and (self._may_create or not create)
        ):
            return index
        self.close()
        if (
            with_encoder
            and self._encoder is None
            and self.config.encoder == "auto"
            and (self._file is None or self._file.is_file())
        ):
            # The pack the index records chooses the encoder: read on the connection that is
            # kept (opening an encrypted index costs its key derivation each time).
            index = self._plain_index(create)
            try:
                encoder = self._encoder = self._load_encoder(index.meta().get("encoder_pack"))
                index.bind_encoder(
                    encoder.fingerprint,
                    encoder.dims,
                    encoder.recipe,
                    encoder.pack.name,
                    create=create,
                )
            except BaseException:
                index.close()
                raise
            self._index = index
        elif with_encoder:
            enc = self.encoder
            self._index = open_store(
                self.db_path,
                fingerprint=enc.fingerprint,
                dims=enc.dims,
                recipe=enc.recipe,
                encoder_pack=enc.pack.name if isinstance(enc, Encoder) else None,
                busy_timeout=self.config.busy_timeout,
                create=create,
                key=self._key,
                pool=self.config.postgres_pool,
            )
        else:
            self._index = self._plain_index(create)
        self._may_create = create
        return self._index

    def _plain_index(self, create: bool) -> Store:
        """The index opened with no encoder bound."""
        return open_store(
            self.db_path,
            busy_timeout=self.config.busy_timeout,
            create=create,
            key=self._key,
            pool=self.config.postgres_pool,
        )

    # documents -----------------------------------------------------------------------------

    def add(
        self,
        paths: str | Path | Iterable[str | Path],
        *,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        collection: str | None = None,
        tags: Iterable[str] = (),
        prune: bool = False,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Index files and folders, incrementally.

        Unchanged files (same content hash) cost no embedding; a changed file's chunks are
        replaced in one transaction; a bad file is reported in the returned report and never
        stops the batch or leaves partial rows behind; a file in a folder of a type ragkit
        does not read is listed in ``skipped`` with the reason. ``include``/``exclude`` are
        gitignore-style globs relative to each folder (a ``.ragkitignore`` in a folder adds
        to ``exclude``). ``collection`` and ``tags`` label the documents for filtered search.
        With ``prune``, documents under the given folders whose files are gone (or now
        filtered out) are removed.
        """
        if isinstance(paths, (str, Path)):
            paths = [paths]
        return self._add(
            [Path(p).expanduser() for p in paths],
            *_selection(include, exclude, collection, tags),
            prune=prune,
            progress=progress,
        )

    def _add(
        self,
        given: list[Path],
        include: list[str] | None,
        exclude: list[str] | None,
        labels: Labels,
        *,
        prune: bool,
        progress: Callable[[IngestProgress], None] | None = None,
        within: Collection[str] | None = None,
    ) -> IngestReport:
        """:meth:`add`; ``within`` (paths under the given folders) narrows the walk, the
        ingest and the pruning to what is at or under them."""
        started = time.monotonic()
        report = IngestReport()
        files: list[Path] = []
        own_files = index_files(self._file.resolve()) if self._file is not None else []

        def skipped(path: str, reason: str) -> None:  # a bad entry never stops the walk
            report.failed.append(IngestFailure(path=path, reason=reason))

        def unsupported(path: str, reason: str) -> None:
            # An index kept in the folder it indexes is no document that was left out.
            name = os.path.basename(path)
            if not any(f.name == name and os.path.realpath(path) == str(f) for f in own_files):
                report.skipped.append(IngestFailure(path=path, reason=reason))

        for path in given:
            try:
                files.extend(
                    ingest.iter_files(
                        [path],
                        include=include,
                        exclude=exclude,
                        skipped=skipped,
                        unsupported=unsupported,
                        within=within,
                    )
                )
            except LoadError as exc:
                report.failed.append(IngestFailure(path=exc.path, reason=exc.reason))
        if files:
            self._ingest([FileSource(p) for p in files], progress, report, labels)
        if prune:
            # A folder that is gone (an unmounted drive, a typo) prunes nothing.
            folders = [p for p in given if p.is_dir()]
            scopes = (
                folders
                if within is None
                else [Path(w) for w in within if any(Path(w).is_relative_to(f) for f in folders)]
            )
            report.removed = self._prune(scopes, files)
        report.seconds = time.monotonic() - started
        return report

    def _prune(self, scopes: list[Path], kept: list[Path]) -> list[str]:
        """Remove the documents at or under ``scopes`` whose files are not ``kept``."""
        if self._file is not None and not self._file.exists() and self._index is None:
            return []  # nothing was ever indexed here, and pruning creates nothing
        index = self._open(with_encoder=False, create=False)
        # A set, looked up by each document's folders: a watch's pass may bring many scopes.
        roots = {str(s.resolve()) for s in scopes}
        present = {str(p.resolve()) for p in kept}
        return index.remove_documents(
            [
                doc.path
                for doc in index.documents()
                if doc.path not in present and _at_or_under(doc.path, roots)
            ]
        )

    def watch(
        self,
        paths: str | Path | Iterable[str | Path],
        *,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        collection: str | None = None,
        tags: Iterable[str] = (),
        debounce: float = 2.0,
        on_report: Callable[[IngestReport], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Keep the index in step with folders, until ``stop`` is set (a pass under way is
        finished first) or the program is interrupted (``KeyboardInterrupt`` is raised once
        watching has shut down).

        First the folders are added with ``prune``, as :meth:`add` does; from then on, once
        ``debounce`` seconds pass with no change in them (at most ten times as long while
        changes keep coming), what changed is added again and documents whose files are
        gone or moved away are pruned, one pass at a time, under :meth:`add`'s rules
        (filters, ``.ragkitignore``, hidden files, limits) and labels. ``on_report``
        receives the first pass's report and then that of every pass that added, updated,
        pruned, skipped or failed something. A bad file is reported and watching goes on
        (an error of the index or the encoder ends it, raised); the index's own files and
        hidden entries are never taken for changes, so the index may live in a watched
        folder. Where the system's inotify watch limit is too low for the folders, they are
        polled instead, with a warning in the first report. Raises :class:`LoadError` for a
        path that is not a folder.
        """
        if isinstance(paths, (str, Path)):
            paths = [paths]
        folders = [Path(p).expanduser().resolve() for p in paths]
        selection = _selection(include, exclude, collection, tags)

        def sync(within: Collection[str] | None) -> IngestReport:
            return self._add(folders, *selection, prune=True, within=within)

        watch_folders(
            folders,
            sync,
            own_files=index_files(self._file) if self._file is not None else [],
            debounce=debounce,
            on_report=on_report,
            stop=stop,
        )

    def add_texts(
        self,
        texts: Iterable[tuple[str, str] | tuple[str, str, str | None]],
        *,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Index texts that are not files, as ``(source, text)`` or ``(source, text, title)``.

        ``source`` identifies the text in the index (and in citations); adding the same
        source again with the same text embeds nothing, with other text replaces it.
        """
        started = time.monotonic()
        sources = [TextSource(*item) for item in texts]
        report = self._ingest(sources, progress, IngestReport(), Labels())
        report.seconds = time.monotonic() - started
        return report

    def _ingest(
        self,
        sources: Sequence[FileSource | TextSource],
        progress: Callable[[IngestProgress], None] | None,
        report: IngestReport,
        labels: Labels,
    ) -> IngestReport:
        limits = Limits(
            seconds=self.config.parse_timeout,
            memory_bytes=self.config.parse_memory_mb << 20,
            workers=self.config.n_parse_workers,
            max_chunks=self.config.max_chunks_per_file,
            max_pages=self.config.max_pages_per_file,
            ocr=self.config.ocr,
        )
        index = self._open(with_encoder=True)
        index.bind_chunking(
            {"chunk_tokens": self.config.chunk_tokens, "chunk_overlap": self.config.chunk_overlap}
        )
        try:
            run_ingest(
                index,
                self.encoder,
                sources,
                sizes=(self.config.chunk_tokens, self.config.chunk_overlap),
                limits=limits,
                progress=progress,
                report=report,
                labels=labels,
            )
        except BaseException:
            # Erase what replaced documents left behind even when the run is cut short; the
            # error that stopped it is the one to report.
            with contextlib.suppress(Exception):
                index.erase()
            raise
        # Replaced documents' old versions are erased once per run, not once per document.
        index.erase()
        return report

    def remove(self, paths: str | Path | Iterable[str | Path]) -> list[str]:
        """Remove documents (a folder removes every document under it); returns their paths.

        They are erased from the index file, not only unlinked: their text, full-text terms
        and vectors are overwritten (see :meth:`vacuum` for an index an older ragkit wrote).
        """
        if isinstance(paths, (str, Path)):
            paths = [paths]
        index = self._open(with_encoder=False, create=False)
        targets = [str(Path(p).expanduser().resolve()) for p in paths]
        return index.remove_documents(
            [
                doc.path
                for doc in index.documents()
                if any(doc.path == t or doc.path.startswith(t.rstrip("/") + "/") for t in targets)
            ]
        )

    def vacuum(self) -> None:
        """Rewrite the index file so that nothing deleted from it remains anywhere in it.

        Removing a document already erases it; this is for an index written by an older
        ragkit, which left removed documents' text in free pages and their terms in the
        full-text index. It takes about as long as copying the file, and never creates one.
        """
        self._open(with_encoder=False, create=False).vacuum()

    def encrypt(self, key: str) -> None:
        """Encrypt the index with ``key`` (a passphrase), or give an encrypted index a new key.

        The index is rewritten into a new encrypted file that takes its place; the old file's
        bytes are overwritten with zeros first. On a copy-on-write filesystem or an SSD older
        blocks may survive that: an index created encrypted (``Assistant(key=...)`` before the
        first :meth:`add`) never had a plain page. Nothing else may use the index meanwhile.
        Raises :class:`IndexKeyError` without the encryption extra.
        """
        self._change_key(key)

    def decrypt(self) -> None:
        """Rewrite the encrypted index as a plain SQLite file (the encrypted one is zeroed)."""
        self._change_key(None)

    def _change_key(self, new_key: str | None) -> None:
        if self._file is None:
            raise ConfigError(
                "an index in PostgreSQL is not encrypted by ragkit: encryption is the "
                "server's business (TLS to it, sslmode=verify-full in the URL, and encrypted "
                "disks)."
            )
        self.close()
        change_key(
            self._file, key=self._key, new_key=new_key, busy_timeout=self.config.busy_timeout
        )
        self._key = new_key

    # audit log -----------------------------------------------------------------------------

    def set_audit(self, enabled: bool) -> None:
        """Switch the index's audit log on or off, for every program that uses the index.

        While it is on, each :meth:`ask` (and chat question) and :meth:`search` adds an
        entry before anything is answered: when, the operating-system user, the question
        (and a follow-up's search query) and the sources retrieved for it. Entries are kept
        inside the index (private, and encrypted with it), never changed or removed by
        ragkit (erasing a document leaves the questions asked about it), and hash-chained:
        :meth:`verify_audit_log` finds an entry changed or removed by other means."""
        self._open(with_encoder=False, create=False).set_audit(enabled)

    def audit_log(self, since: str | None = None) -> list[AuditEntry]:
        """The index's audit log, oldest first (``since``: an ISO date or time, UTC)."""
        return self._open(with_encoder=False, create=False).audit_entries(since)

    def verify_audit_log(self) -> int | None:
        """The id of the first audit entry that was changed, or follows a removed one;
        ``None`` when the log is whole."""
        return self._open(with_encoder=False, create=False).audit_first_broken()

    def _log(self, action: str, detail: dict[str, object], passages: list[Passage]) -> None:
        index = self._open(with_encoder=False, create=False)
        if index.audit_enabled():
            sources = [{"path": p.path, "page": p.page, "heading": p.heading} for p in passages]
            index.log(action, {**detail, "sources": sources})

    def documents(self) -> list[DocumentInfo]:
        """Every document in the index, sorted by path."""
        return [
            DocumentInfo(
                path=d.path,
                title=d.title,
                chunks=d.n_chunks,
                size=d.size,
                mtime=d.mtime,
                sha256=d.sha256,
                added_at=d.added_at,
                collection=d.collection,
                tags=tuple(d.metadata.get("tags", ())),
                metadata=d.metadata.get("source", {}),
                language=d.language,
            )
            for d in self._open(with_encoder=False, create=False).documents()
        ]

    # questions -----------------------------------------------------------------------------

    def search(
        self,
        question: str,
        k: int | None = None,
        *,
        mode: SearchMode = "hybrid",
        where: Filter | None = None,
    ) -> list[Passage]:
        """The passages most relevant to ``question``, best first (no language model).

        ``mode`` is ``"hybrid"`` (vector and BM25 ranks fused), ``"dense"`` or ``"bm25"``
        (any other value raises :class:`ConfigError`); ``where`` (a :class:`Filter`) limits
        the search to some documents before ranking.
        """
        check_choice("mode", mode, SearchMode)
        passages = self._search(question, k, mode=mode, where=where)
        self._log("search", {"question": question, "mode": mode}, passages)
        return passages

    def _search(
        self, question: str, k: int | None, *, mode: SearchMode, where: Filter | None
    ) -> list[Passage]:
        index = self._open(with_encoder=True, create=False)
        if not question.strip():
            return []
        vector = self._encode_queries([question])[0]
        return search(
            index,
            vector,
            question,
            k=k or self.config.top_k,
            candidates=self.config.candidates,
            dense_weight=self._dense_weight(index),
            mode=mode,
            where=where,
            expand=self.config.expand_neighbors,
        )

    def _dense_weight(self, index: Store) -> float:
        """The vector ranking's share in hybrid search on ``index`` for this encoder."""
        return trusted_dense_weight(
            self.config.dense_weight, encoder_languages(self.encoder), index.languages()
        )

    def _may_answer(self, passages: Sequence[Passage]) -> bool:
        """Whether any passage may answer the question: its cosine to the question reaches
        ``Config.min_similarity``, or the encoder never learnt its document's language (then
        the cosine is no evidence: with all-MiniLM-L6-v2, 13% of answerable XQuAD questions
        in German had no passage above the threshold, against 4% in English)."""
        known = encoder_languages(self.encoder)
        return any(
            p.similarity >= self.config.min_similarity
            or (known is not None and p.language not in known | {UNDETERMINED})
            for p in passages
        )

    def _rank_chunks(self, question: str, *, mode: SearchMode, depth: int) -> list[int]:
        """Chunk ids best first, ``depth`` deep (for evaluation)."""
        check_choice("mode", mode, SearchMode)
        index = self._open(with_encoder=True, create=False)
        vector = self._encode_queries([question])[0] if mode != "bm25" else None
        # "dense" is measured as the exact search, the reference the coarse one is held to.
        ranked = rank(
            index,
            vector,
            question,
            mode=mode,
            depth=depth,
            dense_weight=self._dense_weight(index),
            window=self.config.candidates,
            exact=True if mode == "dense" else None,
        )
        return [i for i, _ in ranked]

    def ask(
        self,
        question: str,
        *,
        where: Filter | None = None,
        mode: AskMode = "generate",
        strict: bool = False,
    ) -> Answer:
        """Answer ``question`` from the indexed documents, citing them.

        When no passage is relevant enough, the answer says so without calling the language
        model and carries the closest passages. Each sentence of a generated answer is
        checked against the passages it cites (``Answer.sentences``); with ``strict=True``
        unsupported sentences are left out of the text. ``mode="extractive"`` answers with
        the best supporting sentences of the documents and no language model at all (also
        what happens, with a note, when no generator pack is installed); any other ``mode``
        than these two raises :class:`ConfigError`. :meth:`ask_stream` streams the text.
        """
        return self.ask_stream(question, where=where, mode=mode, strict=strict).answer

    def ask_stream(
        self,
        question: str,
        *,
        where: Filter | None = None,
        mode: AskMode = "generate",
        strict: bool = False,
        on_status: Callable[[str], None] | None = None,
    ) -> AnswerStream:
        """As :meth:`ask`, streamed: iterate over the :class:`AnswerStream` for the text as
        the model writes it, then read its ``answer`` (checked, with citations).

        A rung of the ladder below the last is not streamed: its answer is shown once it has
        passed its check. When it fails and a larger model takes over, ``on_status`` is called
        with a line saying so (the larger model may take seconds to load and read)."""
        check_choice("mode", mode, AskMode)
        return self._ask(
            question, question, where=where, mode=mode, strict=strict, on_status=on_status
        )

    def _ask(
        self,
        question: str,
        query: str,
        *,
        where: Filter | None,
        mode: AskMode,
        strict: bool,
        earlier: str | None = None,
        on_status: Callable[[str], None] | None = None,
    ) -> AnswerStream:
        """Answer ``question``, retrieving with ``query`` (a chat's standalone rewrite);
        ``earlier``, the question a follow-up leans on, is shown to the model too."""
        config = self.config
        passages = self._search(query, config.ask_passages, mode="hybrid", where=where)
        asked: dict[str, object] = {"question": question, "mode": mode}
        self._log("ask", asked if query == question else {**asked, "query": query}, passages)
        if not self._may_answer(passages):
            shown = tuple(passages[: config.prompt_passages])
            return AnswerStream.ready(
                Answer(
                    question=question,
                    text=NOTHING_RELEVANT,
                    citations=(),
                    passages=shown,
                    abstained=True,
                )
            )
        scored = score_passages(query, passages, self._encode_queries)
        note = ""
        # A generator given or loaded proves one exists without reading the manifests.
        if mode == "generate" and not any(self._rungs) and not self._installed_generators():
            mode, note = "extractive", NO_GENERATOR.format(models=self.config.models_dir)
        if mode == "extractive":
            shown, picked = extract(
                passages, scored, config.extract_sentences, min_score=config.extract_min_score
            )
            # Sentences quoted from two documents may give one thing different figures.
            conflicts = find_conflicts(
                picked, shown, [[s.text for s in scored[passages.index(p)]] for p in shown]
            )
            return AnswerStream.ready(
                Answer(
                    question=question,
                    text=noted(render(picked), conflicts) if picked else NOTHING_EXTRACTED,
                    citations=_citations(shown, picked, conflicts),
                    conflicts=conflicts,
                    passages=shown or tuple(passages[: config.prompt_passages]),
                    sentences=picked,
                    abstained=not picked,
                    mode="extractive",
                    note=note,
                )
            )
        return self._climb(question, query, passages, scored, earlier, strict, on_status)

    def _climb(
        self,
        question: str,
        query: str,
        passages: list[Passage],
        scored: list[list[ScoredSentence]],
        earlier: str | None,
        strict: bool,
        on_status: Callable[[str], None] | None,
    ) -> AnswerStream:
        """Answer with each rung of the ladder in turn until one's answer passes its check.

        Only the last rung streams as it writes: an earlier rung's answer is shown only once
        it has passed, so nobody reads an answer that is then taken back.
        """
        config = self.config
        self.generator  # noqa: B018 - loads the first rung now, so a missing pack raises here
        ladder = self.ladder()
        final: list[Answer] = []
        language = answer_language(question, [p.language for p in passages])

        def climb() -> Iterator[str]:
            for i, name in enumerate(ladder):
                generator = self._rung(i)
                excerpts = trim_passages(
                    passages,
                    scored,
                    budget=config.context_tokens,
                    max_passages=config.prompt_passages,
                    per_passage=config.passage_sentences,
                    count_tokens=generator.count_tokens,
                )
                messages = build_messages(
                    question, [e.passage for e in excerpts], earlier=earlier, language=language
                )
                raw = generator.stream(
                    messages, max_tokens=config.max_answer_tokens, temperature=config.temperature
                )
                written: list[str] = []
                last = i == len(ladder) - 1
                # What is shown never holds a marker to a passage that was not given.
                shown = drop_invalid_markers(_recorded(raw, written), len(excerpts))
                held = [] if last else list(shown)
                if last:
                    yield from shown
                answer = self._check(
                    question,
                    query,
                    "".join(written),
                    excerpts,
                    generator.prompt_tokens(messages),
                    strict,
                    model=name,
                    escalated=i > 0,
                )
                if last or _passes(answer, config.escalate_below):
                    final.append(answer)
                    yield from held
                    return
                if on_status:
                    on_status(ESCALATING.format(model=name, larger=ladder[i + 1]))

        return AnswerStream(climb(), lambda _text: final[-1])

    def _check(
        self,
        question: str,
        query: str,
        raw: str,
        excerpts: list[Excerpt],
        prompt_tokens: int,
        strict: bool,
        *,
        model: str,
        escalated: bool,
    ) -> Answer:
        """Check a generated answer: citations against the passages given, each sentence
        against the passages it cites, first by its words (those of ``query`` are not new
        claims), then by the judge. With no sentence supported, the answer abstains."""
        passages = tuple(e.passage for e in excerpts)
        invalid = tuple(n for n in parse_citations(raw) if not 1 <= n <= len(passages))
        # What every outcome of the check shares: the question, what the model was given
        # and which model wrote it.
        answer = functools.partial(
            Answer,
            question=question,
            passages=passages,
            invalid_citations=invalid,
            prompt_tokens=prompt_tokens,
            model=model,
            escalated=escalated,
        )
        if not raw.strip() or is_abstention(raw):
            return answer(text=IDK, citations=(), abstained=True)
        checked = check_claims(
            raw,
            query,
            [e.sentences for e in excerpts],
            self._encode_queries,
            threshold=self.config.support_threshold,
            stop=stopwords(p.language for p in passages),
        )
        judge = self.judge
        if judge is not None:
            checked = judge_sentences(
                judge, query, checked, passages, threshold=self.config.judge_threshold
            )
        if not any(s.supported for s in checked):
            return answer(
                text=NOTHING_SUPPORTED, citations=(), abstained=True, sentences=tuple(checked)
            )
        shown = [s for s in checked if s.supported or not strict]
        # A supported sentence another given passage contradicts stays supported, but the
        # answer says so and cites both.
        conflicts = find_conflicts(
            checked, passages, [[s.text for s in e.sentences] for e in excerpts]
        )
        return answer(
            text=noted(render(shown), conflicts),
            citations=_citations(passages, shown, conflicts),
            sentences=tuple(checked),
            conflicts=conflicts,
        )

    def chat(
        self,
        *,
        where: Filter | None = None,
        mode: AskMode = "generate",
        strict: bool = False,
        rewrite: Rewrite = "words",
    ) -> Chat:
        """A conversation: ``chat.ask(question)`` (or ``chat.ask_stream``) keeps the history,
        and a follow-up ("what about its side effects?") is rewritten into a standalone
        search query first: by carrying over the earlier query's salient words
        (``rewrite="words"``, no model), by asking the generator (``"model"``), or not at all
        (``"off"``). Other values of ``mode`` or ``rewrite`` raise :class:`ConfigError`."""
        return Chat(self, where=where, mode=mode, strict=strict, rewrite=rewrite)


def _at_or_under(path: str, roots: set[str]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one."""
    while path not in roots:
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return True


def _selection(
    include: Iterable[str] | None,
    exclude: Iterable[str] | None,
    collection: str | None,
    tags: Iterable[str],
) -> tuple[list[str] | None, list[str] | None, Labels]:
    """:meth:`Assistant.add`'s filters and labels, materialised once: every folder (and
    every pass of a watch) gets the same, even from a generator."""
    return (
        list(include) if include is not None else None,
        list(exclude) if exclude is not None else None,
        Labels(collection, tuple(sorted(set(tags)))),
    )


def _passes(answer: Answer, threshold: float) -> bool:
    """Whether a lower rung's answer stands: answered, every sentence supported and judged
    at least ``threshold`` (a sentence no judge saw stands on the lexical check)."""
    return not answer.abstained and all(
        s.supported and (s.verdict is None or s.verdict >= threshold) for s in answer.sentences
    )


def _recorded(pieces: Iterable[str], written: list[str]) -> Iterator[str]:
    """``pieces`` passed on, each also appended to ``written``."""
    for piece in pieces:
        written.append(piece)
        yield piece


def _citations(
    passages: Sequence[Passage],
    sentences: Sequence[AnswerSentence],
    conflicts: Sequence[Conflict] = (),
) -> tuple[Citation, ...]:
    """One citation per passage the sentences cite, in order of first citation, then one
    per passage that disagrees with them; inferred when ragkit, not the model, chose every
    sentence's citation of it."""
    cited = [n for s in sentences for n in s.citations]
    numbers = list(dict.fromkeys([*cited, *(c.other_passage for c in conflicts)]))
    return tuple(
        Citation(
            n=n,
            path=passages[n - 1].path,
            page=passages[n - 1].page,
            heading=passages[n - 1].heading,
            text=passages[n - 1].text,
            similarity=passages[n - 1].similarity,
            ocr=passages[n - 1].ocr,
            # A passage cited only as disagreeing was never offered as the answer's source.
            inferred=n in cited and all(s.inferred for s in sentences if n in s.citations),
        )
        for n in numbers
    )
