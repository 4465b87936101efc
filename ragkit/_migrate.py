"""Copying an index between storage backends (a SQLite file and PostgreSQL), vectors and all,
so moving an office's index to a shared server costs no re-embedding."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ragkit._errors import StoreError
from ragkit.store import open_store

__all__ = ["migrate"]


def migrate(
    source: str | Path,
    target: str | Path,
    *,
    key: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> int:
    """Copy every document of the index at ``source`` into ``target`` (a path or a
    ``postgresql://`` URL), with its chunks, labels and vectors as they are: nothing is
    parsed or embedded again. Returns the number of documents copied.

    ``target`` takes the source's encoder and chunking records, so an index that holds
    another encoder's vectors or other chunking is refused
    (:class:`~ragkit.EncoderMismatchError`, :class:`~ragkit.ChunkingMismatchError`) rather
    than mixed. A document already in ``target`` is replaced, each in one transaction, so an
    interrupted copy can be run again. The audit log comes along as it is (its hash chain
    verifies in ``target`` as in ``source``), and so does its switch. ``key`` opens an
    encrypted SQLite ``source``; ``progress(done, total, path)`` is called after each
    document.
    """
    with open_store(source, create=False, key=key) as src:
        meta = src.meta()
        if "encoder_fingerprint" not in meta:
            raise StoreError(
                f"{source} holds no vectors (no encoder was ever bound to it): there is "
                "nothing to copy."
            )
        dims = int(meta["dims"])
        with open_store(
            target,
            fingerprint=meta["encoder_fingerprint"],
            dims=dims,
            recipe=meta.get("encoder_recipe"),
            encoder_pack=meta.get("encoder_pack"),
        ) as dst:
            if "chunking" in meta:
                dst.bind_chunking(json.loads(meta["chunking"]))
            ids_by_path: dict[str, list[int]] = defaultdict(list)
            for chunk_id, path in src.chunk_paths().items():
                ids_by_path[path].append(chunk_id)
            documents = src.documents()
            for done, document in enumerate(documents, 1):
                ids = ids_by_path.get(document.path, [])
                stored = src.chunks(ids)
                chunks = sorted(stored.values(), key=lambda c: c.ordinal)
                vectors = src.vectors([c.id for c in chunks])
                matrix = (
                    np.stack([vectors[c.id] for c in chunks])
                    if chunks
                    else np.zeros((0, dims), np.float32)
                )
                dst.put_document(
                    path=document.path,
                    title=document.title,
                    sha256=document.sha256,
                    size=document.size,
                    mtime=document.mtime,
                    chunks=chunks,
                    vectors=matrix,
                    collection=document.collection,
                    metadata=document.metadata,
                )
                if progress is not None:
                    progress(done, len(documents), document.path)
            entries = src.audit_entries()
            if entries or src.audit_enabled():
                dst.copy_audit(entries, src.audit_enabled())
    return len(documents)
