"""Coarse-to-fine vector search: Hamming distance on sign bits, then exact cosine rescoring.

Measured on this 2-core machine (sqlite-vec 0.1.9): at 100k vectors sqlite-vec's exact
``float[384]`` scan took ~90 ms and its ``bit[384]`` scan ~30 ms, while popcount over a
column-major numpy copy of the same bits took ~2 ms (16 ms at 1M). Fetching candidates'
float vectors by rowid from a vec0 table cost ~0.4 ms each against ~1 µs from a plain table,
so the bits and float vectors used here live in the plain ``embeddings`` table, and the
bits are held in memory between queries.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CoarseIndex", "pack_bits"]


def pack_bits(vectors: np.ndarray) -> np.ndarray:
    """Sign bits of each row, packed into bytes (``[n, ceil(d / 8)]`` uint8)."""
    return np.packbits(np.asarray(vectors) > 0, axis=1)


class CoarseIndex:
    """Sign-bit codes of every stored vector, laid out column-major for fast popcount."""

    def __init__(self, ids: np.ndarray, codes: np.ndarray) -> None:
        self.ids = ids.astype(np.int64)
        width = codes.shape[1] if codes.ndim == 2 else 0
        padded = np.zeros((len(ids), -(-width // 8) * 8), dtype=np.uint8)
        padded[:, :width] = codes
        # One contiguous row of 64-bit words per word position: each XOR/popcount pass then
        # streams through memory once instead of striding across rows.
        self.words = np.ascontiguousarray(padded.view(np.uint64).T) if len(ids) else padded.T

    def __len__(self) -> int:
        return len(self.ids)

    def candidates(
        self, query: np.ndarray, depth: int, *, allowed: np.ndarray | None = None
    ) -> np.ndarray:
        """Ids of the ``depth`` codes nearest to the query's code in Hamming distance,
        among the sorted ids in ``allowed`` when it is given."""
        if len(self.ids) == 0:
            return self.ids
        code = pack_bits(query[None, :])[0]
        padded = np.zeros(self.words.shape[0] * 8, dtype=np.uint8)
        padded[: len(code)] = code
        q = padded.view(np.uint64)
        distance = np.bitwise_count(self.words[0] ^ q[0]).astype(np.uint16)
        for row in range(1, len(q)):
            distance += np.bitwise_count(self.words[row] ^ q[row])
        ids = self.ids
        if allowed is not None:
            keep = np.isin(ids, allowed, assume_unique=True)
            ids, distance = ids[keep], distance[keep]
        if depth >= len(distance):
            return ids
        return ids[np.argpartition(distance, depth)[:depth]]
