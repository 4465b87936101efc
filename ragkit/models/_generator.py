"""The language model: llama.cpp through llama-cpp-python, streamed, greedy by default."""

from __future__ import annotations

from collections.abc import Generator as GeneratorType
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ragkit._errors import GenerationError, ModelPackError
from ragkit.models._packs import ModelPack

if TYPE_CHECKING:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    from llama_cpp.llama_types import ChatCompletionRequestMessage

__all__ = ["Generator"]


# Greedy decoding of a small model can fall into a loop ("the Faroe Islands, the Åland
# islands, and the Faroe Islands, ..."); once its last this-many characters already appeared
# earlier in the answer, the rest would only repeat, and on a loaded CPU cost seconds.
_LOOP_CHARS = 40


def _looping(text: str) -> bool:
    return len(text) > 3 * _LOOP_CHARS and text[-_LOOP_CHARS:] in text[:-_LOOP_CHARS]


def _request_message(message: Mapping[str, str]) -> ChatCompletionRequestMessage:
    """A ``{"role": ..., "content": ...}`` message as llama-cpp-python's typed request."""
    role, content = message["role"], message["content"]
    if role == "system":
        return {"role": "system", "content": content}
    if role == "user":
        return {"role": "user", "content": content}
    if role == "assistant":
        return {"role": "assistant", "content": content}
    raise GenerationError(
        f"a chat message has role {role!r}; the generator takes system, user and assistant "
        "messages only."
    )


class Generator:
    """Chat completion with a generator pack's GGUF, using the model's own chat template."""

    def __init__(self, pack: ModelPack, *, n_ctx: int, threads: int, seed: int = 0) -> None:
        if pack.kind != "generator":
            raise ModelPackError(
                f"model pack {pack.name!r} is a {pack.kind} pack, not a generator."
            )
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise GenerationError(
                "llama-cpp-python is not installed; run `pip install llama-cpp-python`."
            ) from exc
        self.pack = pack
        self.n_ctx = n_ctx
        try:
            # chat_format=None: llama-cpp-python applies the template stored in the GGUF.
            self.llm = Llama(
                model_path=str(pack.file("model")),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=512,
                seed=seed,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise GenerationError(
                f"llama.cpp cannot load {pack.file('model')} ({exc}); check that the pack "
                f"{pack.name!r} holds a GGUF this llama-cpp-python supports."
            ) from exc
        self._verdicts: tuple[list[int], list[int]] | None = None
        self._formatter: Jinja2ChatFormatter | None = None

    @property
    def name(self) -> str:
        """The pack's name, reported with every answer this model writes."""
        return self.pack.name

    def _render(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """The chat prompt as tokens, as ``create_chat_completion`` would feed it."""
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = self.llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise GenerationError(
                    f"generator pack {self.pack.name!r} has no chat template in its GGUF; a "
                    "judge needs one to put its question."
                )
            eos, bos = self.llm.token_eos(), self.llm.token_bos()
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=self.llm._model.token_get_text(eos) if eos != -1 else "",
                bos_token=self.llm._model.token_get_text(bos) if bos != -1 else "",
            )
        result = self._formatter(messages=[_request_message(m) for m in messages])
        return self.llm.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )

    def yes_odds(self, messages: Sequence[dict[str, str]]) -> float:
        """Log-odds that the model's reply to ``messages`` starts with "yes" rather than "no".

        One forward pass over the prompt, with whatever prefix the last call shared still in
        llama.cpp's KV cache (a judge's fixed instructions are read once), and no sampling.
        """
        if self._verdicts is None:
            self._verdicts = (self._first_tokens("yes"), self._first_tokens("no"))
        tokens = self._render(messages)
        if len(tokens) >= self.n_ctx:
            raise GenerationError(
                f"a judge prompt of {len(tokens)} tokens does not fit the context of "
                f"{self.n_ctx}; lower context_tokens or raise n_ctx in the configuration."
            )
        llm = self.llm
        # Reuse the cached prefix, but always evaluate at least the last token: the logits
        # of the position that decides are not kept between calls.
        keep = min(int(llm.longest_token_prefix(llm._input_ids.tolist(), tokens)), len(tokens) - 1)
        llm.n_tokens = keep
        try:
            llm.eval(tokens[keep:])
        except RuntimeError as exc:
            raise GenerationError(
                f"llama.cpp failed while judging with generator pack {self.pack.name!r}: {exc}."
            ) from exc
        logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
        yes, no = (np.logaddexp.reduce(logits[ids].astype(np.float64)) for ids in self._verdicts)
        return float(yes - no)

    def _first_tokens(self, word: str) -> list[int]:
        """The tokens a reply starting with ``word`` can begin with (either case, with or
        without a leading space)."""
        spellings = (word, word.capitalize(), f" {word}", f" {word.capitalize()}")
        return sorted({self.llm.tokenize(w.encode(), add_bos=False)[0] for w in spellings})

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in this model's vocabulary."""
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(
        self, messages: Sequence[dict[str, str]], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        """Yield the answer's text as the model writes it, stopping early if it loops."""
        written = ""
        try:
            chunks = self.llm.create_chat_completion(
                messages=[_request_message(m) for m in messages],
                max_tokens=max_tokens,
                temperature=temperature,
                top_k=1 if temperature == 0 else 40,
                repeat_penalty=1.0,
                stream=True,
            )
            # Typed as a whole response or a stream, whatever ``stream`` is; stream=True
            # always gives a generator of chunks.
            if not isinstance(chunks, GeneratorType):
                raise GenerationError(
                    "llama-cpp-python returned a whole response where a stream was asked for."
                )
            for chunk in chunks:
                delta = chunk["choices"][0]["delta"].get("content")
                if isinstance(delta, str) and delta:
                    yield delta
                    written += delta
                    if _looping(written):
                        chunks.close()
                        return
        except ValueError as exc:
            raise GenerationError(
                f"the prompt does not fit the model's context ({exc}); lower context_tokens or "
                "raise n_ctx in the configuration."
            ) from exc
        except RuntimeError as exc:
            # llama-cpp-python raises RuntimeError when llama.cpp's decode fails (out of memory,
            # a KV cache that cannot hold the batch).
            raise GenerationError(
                f"llama.cpp failed while answering with generator pack {self.pack.name!r} "
                f"({self.pack.file('model')}): {exc}. Check free memory, or lower n_ctx or "
                "context_tokens in the configuration."
            ) from exc

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> int:
        """Tokens of the rendered chat prompt (an estimate from the message texts)."""
        return sum(self.count_tokens(m["content"]) + 4 for m in messages)
