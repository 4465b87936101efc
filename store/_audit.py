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
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = ["AUDIT_KEY", "AuditEntry", "append", "create", "current_user", "entries", "first_broken"]

# In meta: "on" while every question asked of the index is logged.
AUDIT_KEY = "audit"

_SCHEMA = [
    """create table if not exists audit_log (
        id integer primary key,
        at text not null,
        user text not null,
        action text not null,
        detail text not null,
        hash text not null
    )""",
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


def create(conn: Any) -> None:
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


def append(conn: Any, action: str, detail: dict[str, Any]) -> None:
    """Add an entry by this process's user, now; the caller holds a write transaction, so
    the chain has no fork."""
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    user = current_user()
    row = conn.execute("select hash from audit_log order by id desc limit 1").fetchone()
    text = json.dumps(detail, ensure_ascii=False, sort_keys=True)
    conn.execute(
        "insert into audit_log(at, user, action, detail, hash) values (?, ?, ?, ?, ?)",
        (at, user, action, text, _hash(row[0] if row else "", at, user, action, text)),
    )


def entries(conn: Any, *, since: str | None = None) -> list[AuditEntry]:
    if not _exists(conn):
        return []
    rows = conn.execute(
        "select id, at, user, action, detail from audit_log where at >= ? order by id",
        (since or "",),
    ).fetchall()
    return [
        AuditEntry(id=i, at=at, user=user, action=action, detail=json.loads(detail))
        for i, at, user, action, detail in rows
    ]


def first_broken(conn: Any) -> int | None:
    """The id of the first entry whose hash does not follow from the entries before it (an
    entry changed, or one before it removed); ``None`` when the whole chain holds."""
    if not _exists(conn):
        return None
    previous = ""
    for i, at, user, action, detail, stored in conn.execute(
        "select id, at, user, action, detail, hash from audit_log order by id"
    ):
        if _hash(previous, at, user, action, detail) != stored:
            return int(i)
        previous = stored
    return None


def _exists(conn: Any) -> bool:
    return (
        conn.execute("select 1 from sqlite_master where name = 'audit_log'").fetchone() is not None
    )
