"""The OpenAI API's wire format, as ragkit speaks it: requests read and checked, responses
and errors shaped as OpenAI clients expect them."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ragkit._types import Answer
from ragkit.store import Filter

__all__ = [
    "ApiError",
    "ChatRequest",
    "completion",
    "completion_chunk",
    "embeddings",
    "error_body",
    "new_id",
    "read_filter",
    "sources_text",
]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    413: "invalid_request_error",
    503: "server_overloaded",
}


class ApiError(Exception):
    """A request the server answers with an error status and an OpenAI-style JSON body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = dict(headers or {})


def error_body(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """``{"error": {...}}`` as the OpenAI API sends it (its clients read ``message``)."""
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _text(content: object, where: str) -> str:
    """A message's content: a string, or a list of parts of which only text is read."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type") == "text"):
                raise ApiError(400, f"{where}: only text content is supported.", param="messages")
            texts.append(str(part.get("text", "")))
        return "".join(texts)
    if content is None:
        return ""
    raise ApiError(
        400, f"{where}: content must be a string or a list of text parts.", param="messages"
    )


@dataclass(frozen=True)
class ChatRequest:
    """A chat completion request: the question (the last user message), the conversation
    before it as (question, reply) pairs, and ragkit's own options."""

    model: str
    question: str
    history: tuple[tuple[str, str], ...]
    stream: bool
    strict: bool
    where: Filter | None

    @classmethod
    def read(cls, body: object) -> ChatRequest:
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object.")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "messages must be a non-empty list.", param="messages")
        turns: list[tuple[str, str]] = []  # (role, text) of user and assistant messages
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or "role" not in message:
                raise ApiError(
                    400, f"messages[{i}] must be an object with a role.", param="messages"
                )
            role = message["role"]
            if role in ("system", "developer", "tool"):
                continue  # ragkit writes its own instructions; the documents are the context
            if role not in ("user", "assistant"):
                raise ApiError(400, f"messages[{i}]: unknown role {role!r}.", param="messages")
            turns.append((role, _text(message.get("content"), f"messages[{i}]")))
        if not turns or turns[-1][0] != "user" or not turns[-1][1].strip():
            raise ApiError(
                400, "the last message must be a user message with a question.", param="messages"
            )
        history: list[tuple[str, str]] = []
        for role, text in turns[:-1]:
            if role == "user":
                history.append((text, ""))
            elif history:
                history[-1] = (history[-1][0], text)
        model = body.get("model", "auto")
        if not isinstance(model, str):
            raise ApiError(400, "model must be a string.", param="model")
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise ApiError(400, "stream must be true or false.", param="stream")
        options = body.get("ragkit", {})
        if not isinstance(options, dict):
            raise ApiError(400, "ragkit must be an object of ragkit's options.", param="ragkit")
        strict = options.get("strict", False)
        if not isinstance(strict, bool):
            raise ApiError(400, "ragkit.strict must be true or false.", param="ragkit.strict")
        return cls(
            model=model or "auto",
            question=turns[-1][1],
            history=tuple(history),
            stream=stream,
            strict=strict,
            where=read_filter(options.get("filter")),
        )


def read_filter(given: object) -> Filter | None:
    """A :class:`Filter` from ``{"path", "collection", "tags", "modified_after",
    "modified_before"}``; ``None`` for none."""
    if given is None:
        return None
    if not isinstance(given, dict):
        raise ApiError(400, "filter must be an object.", param="filter")
    unknown = set(given) - {"path", "collection", "tags", "modified_after", "modified_before"}
    if unknown:
        raise ApiError(
            400, f"filter: unknown field(s) {', '.join(sorted(unknown))}.", param="filter"
        )
    tags = given.get("tags", [])
    if not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise ApiError(400, "filter.tags must be a list of strings.", param="filter.tags")
    for name in ("path", "collection"):
        if not isinstance(given.get(name), (str, type(None))):
            raise ApiError(400, f"filter.{name} must be a string.", param=f"filter.{name}")
    for name in ("modified_after", "modified_before"):
        value = given.get(name)
        if not (value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))):
            raise ApiError(400, f"filter.{name} must be Unix seconds.", param=f"filter.{name}")
    return Filter(
        path=given.get("path"),
        collection=given.get("collection"),
        tags=tuple(tags),
        modified_after=given.get("modified_after"),
        modified_before=given.get("modified_before"),
    )


def sources_text(answer: Answer) -> str:
    """The answer's citations as lines to append to its text: ``[1] file.pdf, p. 4``."""
    if not answer.citations:
        return ""
    lines = []
    for c in answer.citations:
        where = f", p. {c.page}" if c.page is not None else (f" > {c.heading}" if c.heading else "")
        lines.append(f"[{c.n}] {c.path.rsplit('/', 1)[-1]}{where}")
    return "\n\nSources:\n" + "\n".join(lines)


def _envelope(kind: str, model: str, request_id: str) -> dict[str, Any]:
    return {"id": request_id, "object": kind, "created": int(time.time()), "model": model}


def new_id() -> str:
    """A chat completion's id, unique across requests."""
    return f"chatcmpl-{uuid.uuid4().hex}"


def completion(answer: Answer, model: str, request_id: str) -> dict[str, Any]:
    """A whole ``chat.completion``: the checked answer with its sources, and the answer as
    ragkit's ``ragkit`` field."""
    return {
        **_envelope("chat.completion", answer.model or model, request_id),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text + sources_text(answer)},
                "finish_reason": "stop",
            }
        ],
        "ragkit": answer.as_dict(),
    }


def completion_chunk(
    model: str,
    request_id: str,
    *,
    content: str | None = None,
    finish: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` of a stream."""
    delta: dict[str, Any] = {} if content is None else {"content": content}
    chunk = {
        **_envelope("chat.completion.chunk", model, request_id),
        "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if finish else None}],
    }
    return {**chunk, **(extra or {})}


def embeddings(
    vectors: np.ndarray, model: str, *, base64_format: bool, tokens: int
) -> dict[str, Any]:
    """An embeddings response; base64 is float32 little-endian, as OpenAI's clients decode it
    (their default format)."""
    data = []
    for i, row in enumerate(np.asarray(vectors, dtype="<f4")):
        value: Sequence[float] | str = (
            base64.b64encode(row.tobytes()).decode("ascii") if base64_format else row.tolist()
        )
        data.append({"object": "embedding", "index": i, "embedding": value})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
