"""Full-text search from memory: FTS5's own postings, scored exactly as its bm25() scores.

FTS5 scores every row that matches any query term; on SciFact's 11.6k chunks that is a few
thousand rows and ~5 ms a query, half of a hybrid search. Held in numpy arrays the same
postings score in under a millisecond, and the scores are the same to the last bit (the
formula, its constants and the order of its additions are FTS5's, and the statistics are
read from FTS5's own records), so which path answered never changes a ranking.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Postings", "fts5_tokens", "phrase_scores"]

# FTS5's bm25() constants (fts5_aux.c).
K1 = 1.2
B = 0.75
# FTS5 keeps the row count and token totals in this row of its %_data table.
_AVERAGES_ROWID = 1


def correct_totals(conn: Any, table: str) -> None:
    """Rewrite the FTS5 table's row count and token total from its per-row sizes.

    A contentless table with ``contentless_delete=1`` forgets a row's terms on DELETE but not
    its share of those totals, so every removal or replacement left BM25's document count
    and average length too high (400 rows counted after 200 of 400 were removed), and an
    index ranked differently from a fresh one holding the same chunks. The totals live in
    the table's "averages" record (varints: rows, then tokens per column), which FTS5
    re-reads at the start of each transaction, so this runs in a write transaction of its
    own, after the deletions' transactions have committed.
    """
    sizes = [_varints(r[0]) for r in conn.execute(f"select sz from {table}_docsize")]
    columns = max((len(s) for s in sizes), default=1)
    totals = [len(sizes)] + [sum(s[i] for s in sizes if i < len(s)) for i in range(columns)]
    conn.execute(
        f"update {table}_data set block = ? where id = ?",
        (b"".join(_varint(n) for n in totals), _AVERAGES_ROWID),
    )


def _varint(value: int) -> bytes:
    """``value`` as a SQLite varint (below 2**56, where it is seven bits a byte)."""
    groups = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        groups.append(value & 0x7F)
    return bytes([g | 0x80 for g in reversed(groups[1:])] + [groups[0]])


def _varints(blob: bytes) -> list[int]:
    """The SQLite varints in ``blob`` (the format of FTS5's size records)."""
    values, value = [], 0
    for byte in blob:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            values.append(value)
            value = 0
    return values


@functools.lru_cache(maxsize=1 << 16)
def _folded(char: str) -> str:
    lower = char.lower()
    char = lower if len(lower) == 1 else char
    parts = unicodedata.normalize("NFD", char)
    if len(parts) > 1 and parts[0].isascii() and all(unicodedata.combining(m) for m in parts[1:]):
        return parts[0]
    # A combining diacritic of its own (text not in NFC) goes, as FTS5 drops it.
    return "" if "\u0300" <= char <= "\u036f" else char


def fts5_tokens(terms: str) -> list[str]:
    """The tokens FTS5's tokenizer (see ragkit.store._schema.FTS_TOKENIZER) makes of a row of
    space-separated terms as ragkit._language writes them: split at spaces, case and Latin
    accents folded. A store without FTS5 indexes these, so its statistics are FTS5's."""
    tokens = (t if t.isascii() else "".join(_folded(c) for c in t) for t in terms.split())
    return [t for t in tokens if t]


def phrase_scores(
    n_rows: int, average_length: float, lengths: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """FTS5 ``bm25()``'s share of one phrase in each row it occurs in: ``counts`` its
    occurrences there, ``lengths`` those rows' token counts, over ``n_rows`` rows of
    ``average_length`` tokens (the expression and its order of operations are FTS5's)."""
    idf = math.log((n_rows - len(counts) + 0.5) / (len(counts) + 0.5))
    idf = idf if idf > 0.0 else 1e-6
    freq = counts.astype(np.float64)
    norm = K1 * (1 - B + B * lengths / average_length)
    scores: np.ndarray = idf * ((freq * (K1 + 1.0)) / (freq + norm))
    return scores


class Postings:
    """Every term's occurrences (row and offset) in a full-text index, in memory.

    ``keys`` holds every occurrence as ``row << 32 | offset``, grouped by term in the order
    of ``terms`` (``counts[i]`` of them for ``terms[i]``), each group ascending; ``lengths``
    each row's token count (indexed by row), ``rows`` and ``average_length`` the index's row
    count and mean row length. :meth:`read` takes them from an FTS5 table.
    """

    def __init__(
        self,
        terms: Sequence[str],
        counts: Sequence[int],
        keys: np.ndarray,
        lengths: np.ndarray,
        rows: int,
        average_length: float,
    ) -> None:
        self.terms = {term: n for n, term in enumerate(terms)}
        self.starts = np.cumsum([0, *counts])
        # A phrase's later terms are looked up at shifted keys: same row, next offsets.
        self.keys = keys
        self.lengths = lengths
        self.rows = rows
        self.average_length = average_length

    @classmethod
    def read(cls, conn: Any, table: str) -> Postings:
        """The postings of the FTS5 table ``table``, with FTS5's own statistics."""
        conn.execute(
            f"create virtual table if not exists temp.{table}_instance "
            f"using fts5vocab(main, '{table}', 'instance')"
        )
        # One row per term: SQLite walks the occurrences, Python parses a few long strings.
        rows = conn.execute(
            f"select term, group_concat(doc), group_concat(offset), count(*) "
            f"from temp.{table}_instance group by term"
        ).fetchall()
        if rows:
            docs = np.array(",".join(r[1] for r in rows).split(","), dtype=np.int64)
            offsets = np.array(",".join(r[2] for r in rows).split(","), dtype=np.int64)
        else:
            docs = offsets = np.zeros(0, dtype=np.int64)
        sizes = conn.execute(f"select id, sz from {table}_docsize").fetchall()
        lengths = np.zeros(max((r[0] for r in sizes), default=0) + 1)
        for rowid, size in sizes:
            lengths[rowid] = sum(_varints(size))
        averages = conn.execute(
            f"select block from {table}_data where id = ?", (_AVERAGES_ROWID,)
        ).fetchone()
        totals = _varints(averages[0]) if averages else [0, 0]
        average = sum(totals[1:]) / totals[0] if totals[0] else 0.0
        terms, counts = [r[0] for r in rows], [r[3] for r in rows]
        return cls(terms, counts, docs << 32 | offsets, lengths, totals[0], average)

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
            score[rows] += phrase_scores(self.rows, self.average_length, self.lengths[rows], counts)
            matched[rows] = True
        ids = np.flatnonzero(matched)
        return ids, score[ids]

    def _occurrences(self, term: int) -> np.ndarray:
        keys: np.ndarray = self.keys[self.starts[term] : self.starts[term + 1]]
        return keys
