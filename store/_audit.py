"""The audit log: who asked what and which sources were shown, kept inside the index.

Inside the index rather than in a file beside it, it is private (0600) and, for an encrypted
index, encrypted like the rest. Triggers refuse to change or delete an entry, and each
entry's hash covers the one before, so an entry edited or removed outside ragkit (the
triggers dropped) breaks the chain where it was.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ragkit._errors import StoreError

__all__ = [
    "AUDIT_KEY",
    "COLUMNS",
    "AuditEntry",
    "Rows",
    "append",
    "copy",
    "create",
    "current_user",
    "entries",
    "first_broken",
]

Rows = Callable[[str, Sequence[Any]], list[Any]]
"""Runs a statement written with ``?`` marks on the index's connection; returns its rows.
Both backends read and append entries through one; each creates the table its own way."""

# In meta: "on" while every question asked of the index is logged.
AUDIT_KEY = "audit"

# The columns after the id, the same in both backends.
COLUMNS = (
    'at text not null, "user" text not null, action text not null, detail text not null, '
    "hash text not null"
)

_SCHEMA = [
    f"create table if not exists audit_log (id integer primary key, {COLUMNS})",
    """create trigger if not exists audit_log_no_update before update on audit_log
    begin select raise(abort, 'the audit log is append-only'); end""",
    """create trigger if not exists audit_log_no_delete before delete on audit_log
    begin select raise(abort, 'the audit log is append-only'); end""",
]


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """One entry of an index's audit log."""

    id: int
    at: str
    """When, in UTC (ISO 8601, seconds)."""
    user: str
    """The operating-system user of the process that wrote it."""
    action: str
    """``ask``, ``search``, ``audit on`` or ``audit off``."""
    detail: dict[str, Any]
    """``question`` and the ``sources`` shown (``path``, ``page``, ``heading``); for a
    chat's follow-up also the ``query`` it was searched with, and the answer ``mode``."""
    hash: str = ""
    """sha256 over this entry and the previous entry's hash: the chain that
    ``verify_audit_log`` checks."""


def create(conn: Any) -> None:
    """The table and its append-only triggers, in a SQLite index."""
    for statement in _SCHEMA:
        conn.execute(statement)


def _hash(previous: str, at: str, user: str, action: str, detail: str) -> str:
    text = json.dumps([previous, at, user, action, detail], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's arbitrary uid)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def append(rows: Rows, action: str, detail: dict[str, Any]) -> None:
    """Add an entry by this process's user, now; the caller holds the audit log's write
    lock, so the chain has no fork."""
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    user = current_user()
    last = rows("select hash from audit_log order by id desc limit 1", ())
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True)
    rows(
        'insert into audit_log(at, "user", action, detail, hash) values (?, ?, ?, ?, ?)',
        (at, user, action, text, _hash(last[0][0] if last else "", at, user, action, text)),
    )


def entries(rows: Rows, *, since: str | None = None) -> list[AuditEntry]:
    """The entries at or after ``since`` (an ISO time), oldest first."""
    found = rows(
        'select id, at, "user", action, detail, hash from audit_log where at >= ? order by id',
        (since or "",),
    )
    return [
        AuditEntry(
            id=int(i), at=at, user=user, action=action, detail=json.loads(detail), hash=digest
        )
        for i, at, user, action, detail, digest in found
    ]


def copy(rows: Rows, entries: Sequence[AuditEntry], where: str) -> int:
    """Append ``entries`` (another index's log, oldest first) as they are, hashes and all, so
    the chain verifies as it did there; the caller holds the log's write lock. Entries
    already copied (a copy run again) are skipped; a log that is not the start of
    ``entries`` is refused. Returns how many were added."""
    have = [str(r[0]) for r in rows("select hash from audit_log order by id", ())]
    if [e.hash for e in entries[: len(have)]] != have:
        raise StoreError(
            f"{where} already holds an audit log of its own; copying another's after it would "
            "break both chains. Copy into an index without one."
        )
    for entry in entries[len(have) :]:
        # Serialised as append() wrote it, so the text is the one the hash covers.
        text = json.dumps(entry.detail, ensure_ascii=False, sort_keys=True)
        rows(
            'insert into audit_log(at, "user", action, detail, hash) values (?, ?, ?, ?, ?)',
            (entry.at, entry.user, entry.action, text, entry.hash),
        )
    return len(entries) - len(have)


def first_broken(rows: Rows) -> int | None:
    """The id of the first entry whose hash does not follow from the entries before it (an
    entry changed, or one before it removed); ``None`` when the whole chain holds."""
    previous = ""
    for i, at, user, action, detail, stored in rows(
        'select id, at, "user", action, detail, hash from audit_log order by id', ()
    ):
        if _hash(previous, at, user, action, detail) != stored:
            return int(i)
        previous = stored
    return None
