"""Full-text search from memory: FTS5's own postings, scored exactly as its bm25() scores.

FTS5 scores every row that matches any query term; on SciFact's 11.6k chunks that is a few
thousand rows and ~5 ms a query, half of a hybrid search. Held in numpy arrays the same
postings score in under a millisecond, and the scores are the same to the last bit (the
formula, its constants and the order of its additions are FTS5's, and the statistics are
read from FTS5's own records), so which path answered never changes a ranking.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Postings"]

# FTS5's bm25() constants (fts5_aux.c).
K1 = 1.2
B = 0.75
# FTS5 keeps the row count and token totals in this row of its %_data table.
_AVERAGES_ROWID = 1


def _varints(blob: bytes) -> list[int]:
    """The SQLite varints in ``blob`` (the format of FTS5's size records)."""
    values, value = [], 0
    for byte in blob:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            values.append(value)
            value = 0
    return values


class Postings:
    """Every term's occurrences (row and offset) in the FTS5 table ``table``, in memory."""

    def __init__(self, conn: Any, table: str) -> None:
        conn.execute(
            f"create virtual table if not exists temp.{table}_instance "
            f"using fts5vocab(main, '{table}', 'instance')"
        )
        # One row per term: SQLite walks the occurrences, Python parses a few long strings.
        rows = conn.execute(
            f"select term, group_concat(doc), group_concat(offset), count(*) "
            f"from temp.{table}_instance group by term"
        ).fetchall()
        self.terms = {row[0]: n for n, row in enumerate(rows)}
        self.starts = np.cumsum([0, *(row[3] for row in rows)])
        if rows:
            docs = np.array(",".join(r[1] for r in rows).split(","), dtype=np.int64)
            offsets = np.array(",".join(r[2] for r in rows).split(","), dtype=np.int64)
        else:
            docs = offsets = np.zeros(0, dtype=np.int64)
        # A phrase's later terms are looked up at shifted keys: same row, next offsets.
        self.keys = docs << 32 | offsets
        sizes = conn.execute(f"select id, sz from {table}_docsize").fetchall()
        self.lengths = np.zeros(max((r[0] for r in sizes), default=0) + 1)
        for rowid, size in sizes:
            self.lengths[rowid] = sum(_varints(size))
        averages = conn.execute(
            f"select block from {table}_data where id = ?", (_AVERAGES_ROWID,)
        ).fetchone()
        totals = _varints(averages[0]) if averages else [0, 0]
        self.rows = totals[0]
        self.average_length = sum(totals[1:]) / totals[0] if totals[0] else 0.0

    def scores(self, phrases: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """The rowids matching any of ``phrases`` (each a sequence of terms as the table
        holds them), ascending, and their BM25 scores: FTS5's ``bm25()`` of an OR of the
        phrases, sign flipped."""
        score = np.zeros(len(self.lengths))
        matched = np.zeros(len(self.lengths), dtype=bool)
        for phrase in phrases:
            if not phrase or any(t not in self.terms for t in phrase):
                continue
            found = [self.terms[t] for t in phrase]
            keys = self._occurrences(found[0])
            for shift, term in enumerate(found[1:], start=1):
                keys = keys[np.isin(keys + shift, self._occurrences(term))]
            rows, counts = np.unique(keys >> 32, return_counts=True)
            if not len(rows):
                continue
            idf = math.log((self.rows - len(rows) + 0.5) / (len(rows) + 0.5))
            idf = idf if idf > 0.0 else 1e-6
            freq = counts.astype(np.float64)
            norm = K1 * (1 - B + B * self.lengths[rows] / self.average_length)
            score[rows] += idf * ((freq * (K1 + 1.0)) / (freq + norm))
            matched[rows] = True
        ids = np.flatnonzero(matched)
        return ids, score[ids]

    def _occurrences(self, term: int) -> np.ndarray:
        keys: np.ndarray = self.keys[self.starts[term] : self.starts[term + 1]]
        return keys
