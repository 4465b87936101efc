"""Coarse-to-fine vector search: sign bits in memory, then exact cosine from SQLite.

Measured on this 2-core machine (sqlite-vec 0.1.9, 384 dims): at 100k vectors sqlite-vec's
exact ``float[384]`` scan took ~90 ms and its ``bit[384]`` scan ~30 ms, while popcount over
a column-major numpy copy of the same bits took ~2 ms (~16 ms at 1M). Fetching candidates'
float vectors by rowid from a vec0 table cost ~0.4 ms each against ~5 µs from a plain table,
so the bits and float vectors used here live in the plain ``embeddings`` table, and the bits
are held in memory between queries.

Three stages: Hamming distance between sign bits picks a shortlist; the float query against
the shortlist's ±1 codes (an asymmetric distance, much closer to the true cosine than
Hamming) keeps the best few hundred; those are rescored exactly with their float vectors.
On SciFact-like vectors (100k) a 2,000 shortlist kept to 200 found the exact top 10 with
recall 0.989, against 0.973 for Hamming alone with 400 rescored.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CoarseIndex", "pack_bits"]

# _BYTE_BITS[v] is byte value v as eight 0/1 floats, most significant bit first (packbits order).
_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.float32)


def pack_bits(vectors: np.ndarray) -> np.ndarray:
    """Sign bits of each row, packed into bytes (``[n, ceil(d / 8)]`` uint8)."""
    return np.packbits(np.asarray(vectors) > 0, axis=1)


class CoarseIndex:
    """Sign-bit codes of every stored vector, row-major and column-major."""

    def __init__(self, ids: np.ndarray, codes: np.ndarray) -> None:
        self.ids = ids.astype(np.int64)
        width = codes.shape[1] if codes.ndim == 2 else 0
        self.codes = np.zeros((len(ids), -(-width // 8) * 8), dtype=np.uint8)
        self.codes[:, :width] = codes
        # One contiguous row of 64-bit words per word position: each XOR/popcount pass then
        # streams through memory once instead of striding across rows.
        self.words = np.ascontiguousarray(self.codes.view(np.uint64).T)

    def __len__(self) -> int:
        return len(self.ids)

    def search(
        self, query: np.ndarray, shortlist: int, keep: int, *, allowed: np.ndarray | None = None
    ) -> np.ndarray:
        """Ids of about ``keep`` vectors likely nearest to ``query`` (among ``allowed`` ids)."""
        if len(self.ids) == 0:
            return self.ids
        padded = np.zeros(self.codes.shape[1] * 8, dtype=np.float32)
        padded[: len(query)] = query
        code = pack_bits(padded[None, :])[0].view(np.uint64)
        distance = np.bitwise_count(self.words[0] ^ code[0]).astype(np.uint16)
        for row in range(1, len(code)):
            distance += np.bitwise_count(self.words[row] ^ code[row])
        if allowed is not None:
            # Rows outside the filter get a distance no code can have, so they are never kept.
            distance[~np.isin(self.ids, allowed, assume_unique=True)] = np.iinfo(np.uint16).max
        # Distances are small integers: the cut-off comes from their histogram, which is
        # several times faster than argpartition over every row.
        histogram = np.bincount(distance, minlength=len(code) * 64 + 1)[: len(code) * 64 + 1]
        cutoff = np.searchsorted(np.cumsum(histogram), min(shortlist, int(histogram.sum())))
        rows = np.flatnonzero(distance <= cutoff)
        if len(rows) > keep:
            # q . (2b - 1) = 2 * (sum of q over set bits) - sum(q); a lookup table per byte
            # position gives the first term without unpacking the bits.
            table = _BYTE_BITS @ padded.reshape(-1, 8).T
            score = table[self.codes[rows], np.arange(self.codes.shape[1])].sum(axis=1)
            rows = rows[np.argpartition(-score, keep)[:keep]]
        return self.ids[rows]
