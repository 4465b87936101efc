"""Token-exact chunking: sections -> chunks that fit the encoder.

Each section (or, past 50,000 characters, each window of one) is encoded once; token counts
of any span come from the encoding's character offsets. A section is cut into paragraphs,
then sentences; a sentence that alone is too long falls back to lines, then words, and only
a word that alone is too long is cut between its tokens (or, for one token spanning a huge
run of characters, between characters). Units are packed greedily, and each chunk after the
first starts with the previous chunk's last whole sentences (about ``overlap`` tokens) so a
fact that straddles a boundary is still retrievable from one chunk.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, NamedTuple

from ragkit._text import sentence_spans

from ._types import Chunk, Document, Section

if TYPE_CHECKING:
    from tokenizers import Tokenizer

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")
_WORD = re.compile(r"\S+")
_LINE_BREAK = re.compile(r"\n")

# Split levels for a sentence that alone exceeds the budget, coarsest first.
_LINES, _WORDS, _TOKENS, _CHARS = 0, 1, 2, 3
# WordPiece reads any word over 100 characters (base64 data, say) as one [UNK] token, so a
# token limit alone would allow a chunk of megabytes; this caps characters per chunk far
# above what real text needs (English averages under 5 characters a token).
_MAX_CHARS_PER_TOKEN = 16
# A section longer than this is chunked in windows of at most this many characters, each
# cut at a paragraph, line, sentence or word boundary where there is one: the tokenizer
# needs about 1 KB per token, and more than linear time, for one huge text, but about
# 150 bytes per token, spread over all cores, for a batch of window-sized ones. No chunk
# crosses a window boundary, which costs at most one shorter chunk per window.
_WINDOW_CHARS = 50_000
_WINDOW_SEPARATORS = ("\n\n", "\n", ". ", " ")
# Windows are encoded and chunked in batches of about this many characters, which bounds
# the memory the encodings take (about 75 MB even when every character is a token).
_BATCH_CHARS = 500_000
# A section's last chunk adding fewer new tokens than this share of max_tokens is rebalanced
# with the chunk before it, so no chunk is a near-duplicate of its predecessor's tail.
_SMALL_TAIL_DIVISOR = 4


_Window = tuple[Section, tuple[int, int]]


class _Unit(NamedTuple):
    start: int
    end: int
    whole: bool  # a complete sentence (only these are repeated as overlap)


def chunk_document(
    doc: Document, tokenizer: Tokenizer, max_tokens: int = 200, overlap: int = 40
) -> list[Chunk]:
    """Cut a document's sections into chunks of at most ``max_tokens`` encoder tokens.

    ``tokenizer`` must have padding and truncation disabled (``no_padding()``,
    ``no_truncation()``); tokens are counted without special tokens, so leave room for
    them (the default 200 suits a 256-token encoder). Chunks never cross a section, so
    their page and heading are exact, and ``chunk.text == section.text[chunk.start:chunk.end]``.
    ``overlap`` is the approximate number of tokens of whole trailing sentences repeated at
    the start of the next chunk of the same section. A chunk also never exceeds
    16 x ``max_tokens`` characters, so text the tokenizer reads as one unknown token (such
    as inline base64 data) cannot make a huge chunk. A section over 50,000 characters is
    chunked in windows cut at a paragraph, line, sentence or word boundary, so memory stays
    bounded whatever its size; no chunk and no overlap crosses a window boundary.

    Raises ``ValueError`` for a tokenizer that pads or truncates, or for invalid limits.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if not 0 <= overlap < max_tokens:
        raise ValueError(
            f"overlap must be at least 0 and less than max_tokens ({max_tokens}), got {overlap}"
        )
    if tokenizer.padding is not None or tokenizer.truncation is not None:
        # Truncation would silently drop the end of every long section; padding would
        # inflate every count.
        raise ValueError(
            "the tokenizer pads or truncates; call no_padding() and no_truncation() on it first"
        )

    chunks: list[Chunk] = []
    windows = [(section, span) for section in doc.sections for span in _windows(section.text)]
    for batch in _batches(windows):
        texts = [section.text[lo:hi] for section, (lo, hi) in batch]
        spans_per_window = _chunk_texts(texts, tokenizer, max_tokens, overlap)
        for (section, (offset, _)), spans in zip(batch, spans_per_window, strict=True):
            for start, end, n_tokens in spans:
                chunks.append(
                    Chunk(
                        text=section.text[offset + start : offset + end],
                        ordinal=len(chunks),
                        page=section.page,
                        heading=section.heading,
                        start=offset + start,
                        end=offset + end,
                        n_tokens=n_tokens,
                        ocr=section.ocr,
                    )
                )
    return chunks


def _windows(text: str) -> list[tuple[int, int]]:
    """Cut a long text into spans of at most ``_WINDOW_CHARS``, ending at the last paragraph,
    line, sentence or word boundary in a span's second half when there is one."""
    windows: list[tuple[int, int]] = []
    start = 0
    while len(text) - start > _WINDOW_CHARS:
        limit = start + _WINDOW_CHARS
        cuts = (
            text.rfind(separator, limit - _WINDOW_CHARS // 2, limit)
            for separator in _WINDOW_SEPARATORS
        )
        # Cut after a separator's first character: the period of ". ", say.
        end = next((cut + 1 for cut in cuts if cut != -1), limit)
        windows.append((start, end))
        start = end
    windows.append((start, len(text)))
    return windows


def _batches(windows: list[_Window]) -> Iterator[list[_Window]]:
    """Group windows into runs of about ``_BATCH_CHARS`` characters."""
    batch: list[_Window] = []
    size = 0
    for window in windows:
        batch.append(window)
        size += window[1][1] - window[1][0]
        if size >= _BATCH_CHARS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _chunk_texts(
    texts: list[str], tokenizer: Tokenizer, max_tokens: int, overlap: int
) -> list[list[tuple[int, int, int]]]:
    """Chunk each text; return its (start, end, exact token count) spans.

    Texts are encoded in one batch, which the tokenizer spreads over all cores.
    """
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    packed = [
        _Packer(text, [start for start, _ in encoding.offsets], max_tokens, overlap).pack()
        for text, encoding in zip(texts, encodings, strict=True)
    ]
    flat = [(index, start, end) for index, spans in enumerate(packed) for start, end in spans]
    # Counts taken from offsets in context are exact for WordPiece cut at whitespace, but not
    # for a word cut between its sub-tokens, nor for every tokenizer; re-encode each chunk
    # once (batched) so n_tokens is what the encoder will see.
    checked = tokenizer.encode_batch(
        [texts[index][start:end] for index, start, end in flat], add_special_tokens=False
    )
    results: list[list[tuple[int, int, int]]] = [[] for _ in texts]
    for (index, start, end), encoding in zip(flat, checked, strict=True):
        n_tokens = len(encoding.ids)
        # The packer returns a text whole only when no cut helps: every character of it
        # alone encodes to more than max_tokens tokens. Nothing smaller can be emitted then.
        unsplittable = len(packed[index]) == 1 and end - start == len(texts[index].strip())
        if n_tokens <= max_tokens or unsplittable:
            results[index].append((start, end, n_tokens))
        else:
            # Re-chunk just this span with counts from its own encoding; every piece is
            # shorter than the span, so this ends.
            (sub_spans,) = _chunk_texts([texts[index][start:end]], tokenizer, max_tokens, overlap)
            results[index].extend((start + a, start + b, n) for a, b, n in sub_spans)
    return results


class _Packer:
    """Packs one text into chunk spans using token start offsets from a single encoding."""

    def __init__(
        self, text: str, token_starts: Sequence[int], max_tokens: int, overlap: int
    ) -> None:
        self.text = text
        self.starts = sorted(token_starts)
        self.max_tokens = max_tokens
        self.max_chars = max_tokens * _MAX_CHARS_PER_TOKEN
        self.overlap = overlap

    def count(self, start: int, end: int) -> int:
        """Tokens of the encoding that begin inside ``text[start:end]``."""
        return bisect_left(self.starts, end) - bisect_left(self.starts, start)

    def fits(self, start: int, end: int, budget: int | None = None) -> bool:
        """Whether ``text[start:end]`` is within the character cap and the token budget."""
        within_tokens = self.count(start, end) <= (self.max_tokens if budget is None else budget)
        return end - start <= self.max_chars and within_tokens

    def pack(self) -> list[tuple[int, int]]:
        """Return the chunk spans, in order."""
        units = self._units()
        if not units:
            return []
        first_token = [bisect_left(self.starts, unit.start) for unit in units]
        past_token = [bisect_left(self.starts, unit.end) for unit in units]

        def size(first: int, end: int) -> int:
            return past_token[end - 1] - first_token[first]

        def units_fit(first: int, end: int) -> bool:
            return (
                size(first, end) <= self.max_tokens
                and units[end - 1].end - units[first].start <= self.max_chars
            )

        def overlap_start(first: int, end: int) -> int:
            start = end
            while start > first and units[start - 1].whole and size(start - 1, end) <= self.overlap:
                start -= 1
            return start

        def fit_overlap(carry: int, new: int, end: int) -> int:
            # Drop overlap from the front until the new units up to ``end`` fit.
            while carry < new and not units_fit(carry, end):
                carry += 1
            return carry

        chunks: list[
            tuple[int, int, int]
        ] = []  # (first unit, end unit, first unit not in the previous chunk)
        new = carry = 0
        while new < len(units):
            first = fit_overlap(carry, new, new + 1)
            end = new + 1
            while end < len(units) and units_fit(first, end + 1):
                end += 1
            chunks.append((first, end, new))
            carry, new = overlap_start(first, end), end

        if (
            len(chunks) >= 2
            and size(chunks[-1][2], len(units)) < self.max_tokens // _SMALL_TAIL_DIVISOR
        ):
            first, _, prev_new = chunks[-2]
            split = chunks[-1][2]
            # Move units back while the tail stays no bigger than what remains before it.
            while (
                split - 1 > prev_new
                and size(split - 1, len(units)) <= size(prev_new, split - 1)
                and units_fit(split - 1, len(units))
            ):
                split -= 1
            chunks[-2] = (first, split, prev_new)
            chunks[-1] = (
                fit_overlap(overlap_start(first, split), split, len(units)),
                len(units),
                split,
            )

        return [(units[first].start, units[end - 1].end) for first, end, _ in chunks]

    def _units(self) -> list[_Unit]:
        units: list[_Unit] = []
        for para_start, para_end in _spans(self.text, _BLANK_LINE, 0, len(self.text)):
            for start, end in sentence_spans(self.text, para_start, para_end):
                if self.fits(start, end):
                    units.append(_Unit(start, end, True))
                else:
                    units.extend(_Unit(a, b, False) for a, b in self._fit(start, end, _LINES))
        return units

    def _fit(self, start: int, end: int, level: int) -> list[tuple[int, int]]:
        """Split a span that is over the limit into balanced pieces that are within it."""
        if level > _CHARS or self.fits(start, end):
            return [(start, end)]
        if level == _LINES:
            parts = list(_spans(self.text, _LINE_BREAK, start, end))
        elif level == _WORDS:
            parts = [match.span() for match in _WORD.finditer(self.text, start, end)]
        elif level == _TOKENS:
            # One token always fits the token budget, so only its length needs a check; a
            # run of a million one-character tokens makes this the hot loop.
            atoms = []
            for piece in self._token_pieces(start, end):
                if piece[1] - piece[0] <= self.max_chars:
                    atoms.append(piece)
                else:
                    atoms.extend(self._fit(piece[0], piece[1], _CHARS))
            return self._balanced(atoms)
        else:
            parts = [
                (cut, min(cut + self.max_chars, end)) for cut in range(start, end, self.max_chars)
            ]
        atoms = [piece for part in parts for piece in self._fit(part[0], part[1], level + 1)]
        return self._balanced(atoms)

    def _token_pieces(self, start: int, end: int) -> list[tuple[int, int]]:
        # Cut points are the token starts inside the word, so no token is ever split.
        cuts = sorted(
            set(self.starts[bisect_left(self.starts, start) : bisect_left(self.starts, end)])
            - {start}
        )
        bounds = [start, *cuts, end]
        return list(pairwise(bounds))

    def _balanced(self, atoms: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Group consecutive atoms into as few pieces as greedy packing needs, evened out."""
        ends = [end for _, end in atoms]
        past = [bisect_left(self.starts, end) for end in ends]  # token index after each atom
        fewest = len(self._greedy(atoms, ends, past, self.max_tokens))
        high = self.max_tokens
        low = min(high, -(-self.count(atoms[0][0], atoms[-1][1]) // fewest))
        # The smallest budget that still needs no more pieces gives the most even sizes.
        while low < high:
            middle = (low + high) // 2
            if len(self._greedy(atoms, ends, past, middle)) <= fewest:
                high = middle
            else:
                low = middle + 1
        groups = self._greedy(atoms, ends, past, low)
        return [
            (atoms[first][0], atoms[end - 1][1])
            for first, end in zip(groups, [*groups[1:], len(atoms)], strict=True)
        ]

    def _greedy(
        self, atoms: list[tuple[int, int]], ends: list[int], past: list[int], budget: int
    ) -> list[int]:
        """Indices of the atoms that open a new group when packing greedily up to ``budget``.

        Both the token count and the length of a group grow with its last atom, so each
        group's end is found by bisection: a word split into 100,000 tokens costs 500
        bisections, not 100,000 checks.
        """
        openers = [0]
        while True:
            first = openers[-1]
            start = atoms[first][0]
            by_tokens = bisect_right(past, bisect_left(self.starts, start) + budget) - 1
            by_chars = bisect_right(ends, start + self.max_chars) - 1
            # A group holds at least its first atom, even one over the budget.
            following = max(first, min(by_tokens, by_chars)) + 1
            if following >= len(atoms):
                return openers
            openers.append(following)


def _spans(text: str, separator: re.Pattern[str], lo: int, hi: int) -> list[tuple[int, int]]:
    """The non-blank pieces of ``text[lo:hi]`` between separators, trimmed of whitespace."""
    spans: list[tuple[int, int]] = []
    start = lo
    for match in [*separator.finditer(text, lo, hi), None]:
        end = match.start() if match else hi
        segment = text[start:end]
        stripped = segment.strip()
        if stripped:
            left = start + len(segment) - len(segment.lstrip())
            spans.append((left, left + len(stripped)))
        if match:
            start = match.end()
    return spans
