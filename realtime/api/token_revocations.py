"""Revoked API tokens, shared by every API process through one SQLite file.

A token is revoked by its ``jti`` (kept until the token would have expired anyway), or all at
once for a session (every token naming the session issued up to that moment): when the
session ends or is erased its student's link stops working everywhere. Single-use stream
tickets are "revoked" on first use the same way, so a second use fails in any process.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from proctorlake.core.settings import Settings

_SCHEMA = (
    "create table if not exists revoked_jti (jti text primary key, expires_at integer not null)",
    "create table if not exists revoked_session (session_id text primary key,"
    " revoked_at integer not null, reason text not null)",
)
_local = threading.local()


def revocations_path(settings: Settings) -> Path:
    return settings.home / "auth" / "revoked_tokens.sqlite3"


def _connect(settings: Settings) -> sqlite3.Connection:
    path = revocations_path(settings)
    connections: dict[Path, sqlite3.Connection] = getattr(_local, "connections", None) or {}
    _local.connections = connections
    connection = connections.get(path)
    if connection is None or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        connection = sqlite3.connect(path, timeout=10, isolation_level=None)
        connection.execute("pragma journal_mode=wal")
        for statement in _SCHEMA:
            connection.execute(statement)
        connections[path] = connection
    return connection


def revoke_jti(settings: Settings, jti: str, expires_at: int) -> bool:
    """Revoke one token; True if this call revoked it (False: it already was)."""
    connection = _connect(settings)
    connection.execute("delete from revoked_jti where expires_at < ?", (int(time.time()),))
    cursor = connection.execute(
        "insert or ignore into revoked_jti (jti, expires_at) values (?, ?)", (jti, expires_at)
    )
    return cursor.rowcount == 1


def revoke_session(settings: Settings, session_id: str, reason: str) -> None:
    """Revoke every token of the session issued until now; ``reason`` is what the session
    became (``ended``, ``terminated``, ``erased``), told to a client that still tries."""
    _connect(settings).execute(
        "insert into revoked_session (session_id, revoked_at, reason) values (?, ?, ?)"
        " on conflict(session_id) do update set revoked_at = excluded.revoked_at,"
        " reason = excluded.reason",
        (session_id, int(time.time()), reason),
    )


def jti_revoked(settings: Settings, jti: str) -> bool:
    connection = _connect(settings)
    return (
        connection.execute("select 1 from revoked_jti where jti = ?", (jti,)).fetchone() is not None
    )


def session_revocation(settings: Settings, session_id: str, issued_at: int) -> str | None:
    """Why a token of the session issued at ``issued_at`` is revoked (None: it is not)."""
    row = (
        _connect(settings)
        .execute(
            "select revoked_at, reason from revoked_session where session_id = ?", (session_id,)
        )
        .fetchone()
    )
    return row[1] if row is not None and issued_at <= row[0] else None
