"""The ASGI application behind `ragkit serve`: OpenAI-compatible endpoints, ragkit's own, and
the web page."""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import re
import shutil
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ragkit._assistant import Assistant
from ragkit._config import LADDERS, Config
from ragkit._errors import ConfigError, RagkitError
from ragkit._private import private_folder
from ragkit._types import Answer, AskMode, SearchMode
from ragkit.answer._chat import Chat, Turn
from ragkit.models._interfaces import TextEncoder
from ragkit.models._packs import ModelPacks
from ragkit.server._lanes import Lane, LaneFull, Streamed
from ragkit.server._wire import (
    ApiError,
    ChatRequest,
    completion,
    completion_chunk,
    embeddings,
    error_body,
    new_id,
    read_filter,
    sources_text,
)
from ragkit.store import is_url, redacted

__all__ = ["EXTRACTIVE", "ServerSettings", "create_app"]

log = logging.getLogger("ragkit.server")

EXTRACTIVE = "extractive"
"""The model name that answers by quoting the documents' best sentences, with no language
model (``ask --extractive``)."""
STATIC = Path(__file__).with_name("static")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """How `ragkit serve` serves an index."""

    db: Path | str | None = None
    """The index: a file, or a ``postgresql://`` URL (default: ``Config.default_db``)."""
    config: Config = field(default_factory=Config)
    key: str | None = None
    """The passphrase of an encrypted index."""
    api_key: str | None = None
    """When set, every ``/v1`` request must carry ``Authorization: Bearer <api_key>``."""
    max_queue: int = 16
    """Questions answering or waiting at once; past it a request gets 503 with Retry-After."""
    max_body: int = 1 << 20
    """Largest JSON request body, in bytes (413 above)."""
    max_upload: int = 200 << 20
    """Largest upload through the page, in bytes (413 above)."""
    cors_origins: tuple[str, ...] = ()
    """Origins other web pages may call the API from; none by default."""
    uploads: Path | None = None
    """Where documents uploaded through the page are kept (default: ``<home>/uploads``); the
    index cites them there, so they stay."""
    search_threads: int | None = None
    """Threads serving searches, embeddings and the document list at once, each with its own
    connection to the index (default: 2 for a PostgreSQL index, whose connections then come
    from one pool, see ``Config.postgres_pool``; 1 for a file, whose searches run from memory
    and gain nothing from a second thread: ``ragkit eval serve``)."""


def create_app(
    settings: ServerSettings, *, open_assistant: Callable[[Config], Assistant] | None = None
) -> Starlette:
    """The ASGI application serving ``settings.db``.

    ``open_assistant(config)`` opens the Assistant each lane works with (by default
    ``Assistant(settings.db, config, key=settings.key)``); a test passes one whose generator
    is scripted. Answers run on one thread (the "answer" lane: one llama.cpp instance, one
    request at a time); searches, embeddings and the document list on the "search" lane's
    ``settings.search_threads``; uploads on a "write" lane of one thread, so a long upload
    never holds searches up. Every thread has an Assistant of its own.
    """
    config = settings.config
    db: Path | str = (
        config.default_db
        if settings.db is None
        else settings.db
        if is_url(settings.db)
        else Path(settings.db)
    )
    threads = settings.search_threads
    if threads is None:
        threads = 2 if isinstance(db, str) else 1
    if threads < 1:
        raise ConfigError(f"search_threads ({threads}) must be at least 1.")
    if isinstance(db, str):
        # One pool for every thread's index: the search threads, the answer and write lanes.
        config = config.replace(postgres_pool=max(config.postgres_pool, threads + 2))
    # Loaded once and shared: an onnxruntime session serves several threads at once.
    encoders: list[TextEncoder] = []

    def default_open(cfg: Config) -> Assistant:
        kb = Assistant(db, cfg, key=settings.key, encoder=encoders[0] if encoders else None)
        if not encoders:
            encoders.append(kb.encoder)
        return kb

    opener = open_assistant or default_open
    answers = Lane("answer", settings.max_queue)
    searches = Lane("search", settings.max_queue, threads)
    writes = Lane("write", settings.max_queue)
    held: dict[int, tuple[str, Assistant]] = {}
    opening = threading.Lock()

    def assistant(generator: str) -> Assistant:
        """The calling lane thread's Assistant answering with ``generator``; only one
        generator stays loaded, so switching models costs a load but never two models'
        memory."""
        thread = threading.get_ident()
        current = held.get(thread)
        if current is not None and current[0] == generator:
            return current[1]
        if current is not None:
            current[1].close()
            del held[thread]
        with opening:
            kb = opener(config.replace(generator=generator))
        held[thread] = (generator, kb)
        return kb

    def generators() -> list[str]:
        return [p.name for p in ModelPacks(config).list() if p.kind == "generator"]

    def choose(model: str) -> tuple[str, AskMode]:
        """The generator setting and ask mode a request's ``model`` stands for."""
        if model == EXTRACTIVE:
            return config.generator, "extractive"
        if model == "auto":
            return config.generator, "generate"
        if model in LADDERS or model in generators():
            return model, "generate"
        known = ", ".join(["auto", "ladder", EXTRACTIVE, *generators()])
        raise ApiError(
            404,
            f"The model {model!r} does not exist here; models: {known} (GET /v1/models).",
            code="model_not_found",
            param="model",
        )

    async def body_of(request: Request, limit: int) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"the request body is over {limit} bytes.", code="body_too_large")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(
                    413, f"the request body is over {limit} bytes.", code="body_too_large"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def json_of(request: Request) -> Any:
        raw = await body_of(request, settings.max_body)
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"the request body is not valid JSON: {exc}.") from exc

    def authorize(request: Request) -> None:
        if settings.api_key is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        # compare_digest takes the same time wherever the strings differ.
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), settings.api_key.encode()
        ):
            raise ApiError(
                401,
                "Incorrect or missing API key: send it as 'Authorization: Bearer <key>'.",
                code="invalid_api_key",
            )

    def endpoint(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        """Checks the API key and turns every failure into an OpenAI-style error."""

        async def guarded(request: Request) -> Response:
            try:
                authorize(request)
                return await handler(request)
            except ApiError as exc:
                return _error(exc.status, exc.message, exc.code, exc.param, exc.headers)
            except LaneFull:
                return _busy()
            except RagkitError as exc:
                return _error(500, str(exc), "ragkit_error")
            except Exception:
                log.exception("request to %s failed", request.url.path)
                return _error(500, "the server failed on this request; its log says why.")

        return guarded

    # answers -------------------------------------------------------------------------------

    def conversation(kb: Assistant, request: ChatRequest, mode: AskMode) -> Chat:
        """A chat holding the request's earlier turns, so a follow-up is searched with
        what it leans on (the same rewrite as ``ragkit chat``)."""
        chat = kb.chat(where=request.where, mode=mode, strict=request.strict)
        for question, reply in request.history:
            earlier = Answer(question=question, text=reply, citations=(), passages=())
            chat.turns.append(
                Turn(question=question, query=chat.query_for(question), answer=earlier)
            )
        return chat

    async def chat_completions(request: Request) -> Response:
        chat_request = ChatRequest.read(await json_of(request))
        generator, mode = choose(chat_request.model)
        request_id = new_id()

        def job(emit: Callable[[Streamed], None], stopped: Callable[[], bool]) -> Answer | None:
            kb = assistant(generator)
            chat = conversation(kb, chat_request, mode)
            stream = chat.ask_stream(
                chat_request.question, on_status=lambda line: emit(Streamed("status", line))
            )
            pieces = iter(stream)
            try:
                # Strict answers leave unsupported sentences out, so nothing unchecked is sent.
                for piece in pieces:
                    if stopped():
                        return None
                    if not chat_request.strict:
                        emit(Streamed("piece", piece))
            finally:
                pieces.close()  # type: ignore[attr-defined]
            return stream.answer

        consumer = answers.stream(job)
        if not chat_request.stream:
            answer: Answer | None = None
            try:
                async for item in consumer:
                    if item.kind == "error":
                        raise item.value
                    if item.kind == "done":
                        answer = item.value
            finally:
                consumer.close()
            if answer is None:
                raise RuntimeError("the answer's job ended without an answer")
            return JSONResponse(completion(answer, chat_request.model, request_id))

        model = chat_request.model

        async def events() -> AsyncIterator[str]:
            try:
                yield _event(completion_chunk(model, request_id, content=""))
                async for item in consumer:
                    if item.kind == "piece":
                        yield _event(completion_chunk(model, request_id, content=item.value))
                    elif item.kind == "status":
                        yield _event(
                            completion_chunk(model, request_id, extra={"ragkit_status": item.value})
                        )
                    elif item.kind == "error":
                        exc = item.value
                        status = 500
                        message = (
                            str(exc)
                            if isinstance(exc, RagkitError)
                            else "the answer failed; the server's log says why."
                        )
                        if not isinstance(exc, RagkitError):
                            log.error("answer failed", exc_info=exc)
                        yield _event(error_body(status, message, "ragkit_error"))
                    elif item.kind == "done":
                        answer = item.value
                        tail = answer.text if chat_request.strict else ""
                        yield _event(
                            completion_chunk(
                                answer.model or model,
                                request_id,
                                content=tail + sources_text(answer),
                                finish=True,
                                extra={"ragkit": answer.as_dict()},
                            )
                        )
                yield "data: [DONE]\n\n"
            finally:
                consumer.close()

        return _EventStream(events(), consumer.close)

    # the rest of the API -----------------------------------------------------------------------

    async def list_models(_request: Request) -> Response:
        now = int(time.time())
        names = ["auto", "ladder", EXTRACTIVE, *generators()]
        encoders = [p.name for p in ModelPacks(config).list() if p.kind == "encoder"]
        data = [{"id": n, "object": "model", "created": now, "owned_by": "ragkit"} for n in names]
        data += [
            {
                "id": n,
                "object": "model",
                "created": now,
                "owned_by": "ragkit",
                "ragkit_kind": "encoder",
            }
            for n in encoders
        ]
        return JSONResponse({"object": "list", "data": data})

    async def create_embeddings(request: Request) -> Response:
        body = await json_of(request)
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object.")
        given = body.get("input")
        texts = [given] if isinstance(given, str) else given
        if not (isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts)):
            raise ApiError(
                400,
                "input must be a string or a non-empty list of strings (token arrays are not "
                "supported).",
                param="input",
            )
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            raise ApiError(
                400, "encoding_format must be 'float' or 'base64'.", param="encoding_format"
            )

        model = body.get("model")

        def work() -> tuple[Any, str, int]:
            encoder = assistant(config.generator).encoder
            pack = getattr(encoder, "pack", None)
            name = pack.name if pack is not None else "encoder"
            if model not in (None, "", "auto", name):
                raise ApiError(
                    404,
                    f"The model {model!r} is not this index's encoder ({name}).",
                    code="model_not_found",
                    param="model",
                )
            tokenizer = encoder.chunking_tokenizer()
            tokens = sum(len(tokenizer.encode(t).ids) for t in texts)
            return encoder.encode(texts), name, tokens

        vectors, name, tokens = await searches.run(work)
        return JSONResponse(embeddings(vectors, name, base64_format=fmt == "base64", tokens=tokens))

    async def search(request: Request) -> Response:
        body = await json_of(request)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise ApiError(400, "query must be a string.", param="query")
        k = body.get("k", config.top_k)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 100:
            raise ApiError(400, "k must be an integer from 1 to 100.", param="k")
        mode = body.get("mode", "hybrid")
        if mode not in ("hybrid", "dense", "bm25"):
            raise ApiError(400, "mode must be 'hybrid', 'dense' or 'bm25'.", param="mode")
        where = read_filter(body.get("filter"))
        search_mode: SearchMode = mode

        def work() -> list[dict[str, Any]]:
            kb = assistant(config.generator)
            passages = kb.search(body["query"], k, mode=search_mode, where=where)
            return [{**asdict(p), "location": p.location} for p in passages]

        return JSONResponse({"object": "list", "data": await searches.run(work)})

    async def documents(_request: Request) -> Response:
        def work() -> list[dict[str, Any]]:
            if isinstance(db, Path) and not db.is_file():
                return []
            return [asdict(d) for d in assistant(config.generator).documents()]

        return JSONResponse({"object": "list", "data": await searches.run(work)})

    async def upload(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > settings.max_upload:
            raise ApiError(
                413, f"the upload is over {settings.max_upload} bytes.", code="body_too_large"
            )
        form = await request.form(max_files=50, max_fields=10)
        files = [v for v in form.getlist("file") if isinstance(v, UploadFile)]
        if not files:
            raise ApiError(
                400, "send the documents as multipart form fields named 'file'.", param="file"
            )
        # A body sent without a length is only measured once parsed (spooled to disk).
        if sum(f.size or 0 for f in files) > settings.max_upload:
            raise ApiError(
                413, f"the upload is over {settings.max_upload} bytes.", code="body_too_large"
            )
        collection = form.get("collection")
        folder = settings.uploads or config.home / "uploads"
        targets = [
            folder
            / (_SAFE_NAME.sub("_", Path(f.filename or "upload").name).strip(" .") or "upload")
            for f in files
        ]

        def work() -> dict[str, Any]:
            private_folder(folder)
            for upload_file, target in zip(files, targets, strict=True):
                with target.open("wb") as out:
                    shutil.copyfileobj(upload_file.file, out)
            kb = assistant(config.generator)
            report = kb.add(
                targets,
                collection=collection if isinstance(collection, str) and collection else None,
            )
            return {
                "added": report.added,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "failed": [asdict(f) for f in report.failed],
                "warnings": [asdict(f) for f in report.warnings],
                "chunks_embedded": report.chunks_embedded,
            }

        return JSONResponse(await writes.run(work))

    lanes = (answers, searches, writes)

    async def health(_request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "index": redacted(db) if isinstance(db, str) else str(db),
                "queue": _counts(answers),
                "lanes": {lane.name: _counts(lane) for lane in lanes},
            }
        )

    async def page(_request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = "no such endpoint." if status == 404 else f"{request.method} is not allowed here."
        return _error(status, f"{request.url.path}: {message}")

    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        for lane in lanes:
            lane.close()
        for _lane, kb in held.values():
            kb.close()

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/", page),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            Route("/healthz", health),
            Route("/v1/models", endpoint(list_models)),
            Route("/v1/chat/completions", endpoint(chat_completions), methods=["POST"]),
            Route("/v1/embeddings", endpoint(create_embeddings), methods=["POST"]),
            Route("/v1/search", endpoint(search), methods=["POST"]),
            Route("/v1/documents", endpoint(documents), methods=["GET"]),
            Route("/v1/documents", endpoint(upload), methods=["POST"]),
        ],
        middleware=middleware,
        exception_handlers={404: not_found, 405: not_found},
    )

    return app


class _EventStream(StreamingResponse):
    """Server-sent events that stop their job however the response ends. A client that
    disconnects makes the next write fail inside Starlette, which leaves the events'
    generator suspended until it is garbage-collected; closing here stops the model between
    two pieces at once and frees the lane for the next request."""

    def __init__(self, events: AsyncIterator[str], stop: Callable[[], None]) -> None:
        super().__init__(
            events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
        self._events = events
        self._stop = stop

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._stop()
            await self._events.aclose()  # type: ignore[attr-defined]


def _counts(lane: Lane) -> dict[str, int]:
    return {
        "pending": lane.pending,
        "limit": lane.limit,
        "threads": lane.threads,
        "served": lane.served,
        "refused": lane.refused,
    }


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _error(
    status: int,
    message: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(status, message, code, param), status_code=status, headers=headers
    )


def _busy() -> JSONResponse:
    return _error(
        503,
        "the server is answering as many questions as it queues; retry after the delay given.",
        "queue_full",
        headers={"Retry-After": "1"},
    )
