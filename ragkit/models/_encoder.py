"""Sentence embeddings on onnxruntime + tokenizers (no torch at run time)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from ragkit._errors import EncoderError, ModelPackError
from ragkit.models._packs import ModelPack

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

__all__ = ["Encoder"]


class Encoder:
    """Turns texts into L2-normalised float32 vectors with an encoder pack.

    Texts are sorted by token length and each batch is padded only to its longest member,
    so short chunks do not pay for long ones. Pooling is a mean over real tokens only: the
    ``tokenizer.json`` of all-MiniLM-L6-v2 ships with fixed padding to 128 baked in, and
    averaging padding into the vector quietly ruins retrieval.

    A pack whose manifest names prefixes (e5's ``"query: "`` and ``"passage: "``, which the
    model was trained with) gets them here: :meth:`encode` embeds passages, and
    :meth:`encode_queries` questions and the other short texts compared with each other.
    """

    def __init__(self, pack: ModelPack, *, threads: int = 1, batch_size: int = 32) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if pack.kind != "encoder":
            raise ModelPackError(f"model pack {pack.name!r} is a {pack.kind} pack, not an encoder.")
        self.pack = pack
        self.dims = int(pack.manifest["dims"])
        self.max_tokens = int(pack.manifest["max_tokens"])
        self.query_prefix = str(pack.manifest.get("query_prefix", ""))
        self.passage_prefix = str(pack.manifest.get("passage_prefix", ""))
        # The languages the model was trained on (ISO 639-1), or None for any.
        languages = pack.manifest.get("languages")
        self.languages = frozenset(map(str, languages)) if languages is not None else None
        if pack.manifest.get("pooling", "mean") != "mean":
            raise ModelPackError(
                f"encoder pack {pack.name!r} asks for pooling {pack.manifest['pooling']!r}; "
                "ragkit supports mean pooling only."
            )
        self.batch_size = batch_size
        self.threads = threads
        options = ort.SessionOptions()
        # One thread a run, and batches run side by side on ``threads`` threads: measured on
        # SciFact, batches side by side embedded 47-49 passages/s against 42-46 with both
        # threads inside each run, and a one-text run (a question) took 3.6 ms on one thread
        # against 4.0 on two (the second is woken for each operator).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # onnxruntime's and tokenizers' errors are classes of their own deriving straight
        # from Exception; nothing narrower catches them.
        tokenizer_file, model_file = pack.file("tokenizer"), pack.file("model")
        try:
            self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
            self.session = ort.InferenceSession(
                str(model_file), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise EncoderError(
                f"encoder pack {pack.name!r} ({pack.path}) cannot be loaded: {exc}. Check it with "
                f"ModelPacks.verify, and that onnxruntime ({ort.__version__}) and tokenizers "
                "are the versions ragkit requires."
            ) from exc
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_tokens)
        self._inputs = {i.name for i in self.session.get_inputs()}

    @property
    def fingerprint(self) -> str:
        """Identifies the vectors this encoder makes: model and tokenizer hashes, pooling, max
        length and dims. An index stores it and refuses to mix vectors from another encoder.
        """
        sha = {f["role"]: f["sha256"] for f in self.pack.manifest["files"]}
        base = f"{sha['model']}:{sha['tokenizer'][:16]}:mean:{self.max_tokens}:{self.dims}"
        if not (self.query_prefix or self.passage_prefix):
            return base  # unchanged for packs without prefixes, so their indexes stay valid
        return f"{base}:{json.dumps([self.query_prefix, self.passage_prefix])}"

    @property
    def recipe(self) -> str:
        """How the pack's model was built (export and quantization), as the index records it."""
        return self.pack.recipe

    def chunking_tokenizer(self) -> Tokenizer:
        """A copy of the tokenizer with no padding and no truncation, for counting tokens."""
        from tokenizers import Tokenizer

        tok = Tokenizer.from_str(self.tokenizer.to_str())
        tok.no_padding()
        tok.no_truncation()
        return tok

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages; returns a ``[len(texts), dims]`` float32 array, rows unit length."""
        return self._embed([self.passage_prefix + t for t in texts])

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions (and texts compared with each other), as :meth:`encode` does."""
        return self._embed([self.query_prefix + t for t in texts])

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        rows = [
            order[start : start + self.batch_size]
            for start in range(0, len(order), self.batch_size)
        ]
        batches = [[encodings[i] for i in batch] for batch in rows]
        if self.threads > 1 and len(batches) > 1:
            with ThreadPoolExecutor(min(self.threads, len(batches))) as pool:
                pooled = list(pool.map(self._pooled, batches))
        else:
            pooled = [self._pooled(batch) for batch in batches]
        for batch, vectors in zip(rows, pooled, strict=True):
            out[batch] = vectors
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        # numpy types ufunc results as Any; the quotient is an array of out's shape.
        unit: np.ndarray = out / np.maximum(norms, 1e-12)
        return unit

    def _pooled(self, batch: list[Encoding]) -> np.ndarray:
        """Mean-pooled (not yet normalised) vectors of one batch of tokenized texts."""
        width = max(len(enc.ids) for enc in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        types = np.zeros((len(batch), width), dtype=np.int64)
        for r, enc in enumerate(batch):
            n = len(enc.ids)
            ids[r, :n] = enc.ids
            mask[r, :n] = enc.attention_mask
            types[r, :n] = enc.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        try:
            hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[
                0
            ]
        except Exception as exc:  # onnxruntime's errors derive straight from Exception
            raise EncoderError(
                f"encoder pack {self.pack.name!r} ({self.pack.file('model')}) failed on a "
                f"batch of {len(batch)} texts of up to {width} tokens: {exc}. Check free "
                "memory (a smaller batch_size needs less) and the pack (ModelPacks.verify)."
            ) from exc
        weights = mask[:, :, None].astype(np.float32)
        pooled: np.ndarray = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled
