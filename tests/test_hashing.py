"""The one streamed file hash shared by document ingestion and model packs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ragkit._hashing import sha256_file


@given(st.binary(max_size=4096))
def test_sha256_file_is_the_sha256_of_the_bytes(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("hash") / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_sha256_file_reports_each_block_read(tmp_path: Path) -> None:
    data = bytes(range(256)) * (3 * 4096 + 1)  # three 1 MiB blocks and a bit
    path = tmp_path / "blob"
    path.write_bytes(data)
    seen: list[tuple[str, int, int]] = []
    digest = sha256_file(
        path, lambda task, done, total: seen.append((task, done, total)), "hashing"
    )
    assert digest == hashlib.sha256(data).hexdigest()
    assert [done for _, done, _ in seen] == [1 << 20, 2 << 20, 3 << 20, len(data)]
    assert {(task, total) for task, _, total in seen} == {("hashing", len(data))}
