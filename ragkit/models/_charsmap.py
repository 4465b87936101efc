"""Build a SentencePiece ``precompiled_charsmap`` for tokenizers' ``Precompiled`` normalizer.

The charsmap is a darts-clone double-array trie over the UTF-8 bytes of each codepoint that
is replaced, whose leaves point into a blob of NUL-terminated replacements. The layout is
deterministic (breadth first, lowest free base), so a pack built from it has fixed bytes.
"""

from __future__ import annotations

import struct

__all__ = ["build_charsmap"]

_Node = dict[int, "_Node"]


def build_charsmap(table: dict[int, str]) -> bytes:
    """The charsmap replacing each codepoint of ``table`` by its text (empty: deleted)."""
    blob = bytearray()
    value: dict[int, int] = {}
    for cp in sorted(table):
        value[cp] = len(blob)
        blob += table[cp].encode("utf-8") + b"\0"
    # A trie over the keys' bytes; -1 marks a leaf (UTF-8 keys are prefix-free).
    root: _Node = {}
    leaf: dict[int, int] = {}  # id(node) -> value offset
    for cp in sorted(table):
        node = root
        for b in chr(cp).encode("utf-8"):
            node = node.setdefault(b, {})
        leaf[id(node)] = value[cp]
    units: dict[int, int] = {0: 0}
    used_bases: set[int] = set()
    queue: list[tuple[_Node, int]] = [(root, 0)]
    next_free = 1
    for node, slot in queue:  # breadth first: the list grows while it is walked
        is_leaf = id(node) in leaf
        labels = sorted(node) + ([0] if is_leaf else [])
        base = next_free
        while (
            base in used_bases
            or any((base ^ c) in units for c in labels)
            or (slot ^ base) >= 1 << 21
        ):
            base += 1
        used_bases.add(base)
        units[slot] = units.get(slot, 0) | ((slot ^ base) << 10) | (0x100 if is_leaf else 0)
        if is_leaf:
            units[base] = (1 << 31) | leaf[id(node)]
        for label in sorted(node):
            units[base ^ label] = label  # its offset and leaf flag are added when visited
            queue.append((node[label], base ^ label))
        while next_free in units:
            next_free += 1
    size = (max(max(units), max(used_bases)) | 0xFF) + 1
    array = [0] * size
    for slot, unit in units.items():
        array[slot] = unit
    trie = struct.pack(f"<{size}I", *array)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)
