"""The language model: llama.cpp through llama-cpp-python, streamed, greedy by default."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ragkit._errors import GenerationError, ModelPackError
from ragkit.models._packs import ModelPack

__all__ = ["Generator"]


# Greedy decoding of a small model can fall into a loop ("the Faroe Islands, the Åland
# islands, and the Faroe Islands, ..."); once its last this-many characters already appeared
# earlier in the answer, the rest would only repeat, and on a loaded CPU cost seconds.
_LOOP_CHARS = 40


def _looping(text: str) -> bool:
    return len(text) > 3 * _LOOP_CHARS and text[-_LOOP_CHARS:] in text[:-_LOOP_CHARS]


class Generator:
    """Chat completion with a generator pack's GGUF, using the model's own chat template."""

    def __init__(self, pack: ModelPack, *, n_ctx: int, threads: int, seed: int = 0) -> None:
        if pack.kind != "generator":
            raise ModelPackError(f"model pack {pack.name!r} is a {pack.kind} pack, not a generator.")
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
                messages=list(messages),  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=temperature,
                top_k=1 if temperature == 0 else 40,
                repeat_penalty=1.0,
                stream=True,
            )
            for chunk in chunks:
                delta = chunk["choices"][0]["delta"].get("content")  # type: ignore[index]
                if delta:
                    yield delta
                    written += delta
                    if _looping(written):
                        chunks.close()  # type: ignore[union-attr]
                        return
        except ValueError as exc:
            raise GenerationError(
                f"the prompt does not fit the model's context ({exc}); lower context_tokens or "
                "raise n_ctx in the configuration."
            ) from exc

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> int:
        """Tokens of the rendered chat prompt (an estimate from the message texts)."""
        return sum(self.count_tokens(m["content"]) + 4 for m in messages)
