"""The erased-sessions marker and the gate every writer of session data passes.

Erasure leaves a marker file per session (``keys/sessions/{id}.erased``, beside the record
keys it destroys). Every process that writes a session's data (API, workers, Dagster, the
dashboard) checks it, so an erased session can never be written again, whichever process
took the request and whatever its memory still holds.

A check followed by a write is a race: the marker can appear between the two, and the write
would then land after erasure removed everything. So writers check and write while holding
the gate's shared lock, and erasure sets markers under its exclusive lock. When
:func:`seal_off` returns, every write that passed the check before it has finished (erasure
then deletes it) and every later one sees the marker. The gate is a ``flock``: it holds
across the processes of one machine sharing ``PROCTORLAKE_HOME``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from proctorlake.core.ids import is_valid_id
from proctorlake.core.schemas import Table
from proctorlake.core.settings import Settings
from proctorlake.storage import lake
from proctorlake.storage.file_lock import exclusive_lock, shared_lock


class SessionErased(PermissionError):
    """The session's data was erased: nothing may be written for it again."""


def marker_path(settings: Settings, session_id: str) -> Path:
    if not is_valid_id(session_id):
        raise ValueError(f"malformed session id {session_id!r}")
    return settings.home / "keys" / "sessions" / f"{session_id}.erased"


def _gate(settings: Settings) -> Path:
    return settings.home / "erasure" / "writers.gate"


def is_erased(settings: Settings, session_id: str) -> bool:
    """True once an erasure of the session has started (the marker is never removed)."""
    return marker_path(settings, session_id).exists()


def seal_off(settings: Settings, session_ids: Iterable[str]) -> None:
    """Mark the sessions erased; returns when no write that missed the marker is in flight."""
    markers = [marker_path(settings, s) for s in session_ids]
    with exclusive_lock(_gate(settings)):
        for marker in markers:
            marker.parent.mkdir(parents=True, exist_ok=True)
            with open(marker, "ab") as handle:
                os.fsync(handle.fileno())
        if markers:
            folder = os.open(markers[0].parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)


@contextmanager
def admitted(settings: Settings, session_ids: Iterable[str]) -> Iterator[set[str]]:
    """Yield which of ``session_ids`` may be written; write only those, inside the block."""
    wanted = set(session_ids)
    with shared_lock(_gate(settings)):
        yield {s for s in wanted if not is_erased(settings, s)}


@contextmanager
def admitted_session(settings: Settings, session_id: str) -> Iterator[None]:
    """Write one session's data inside the block; raises SessionErased once it is erased."""
    with admitted(settings, [session_id]) as allowed:
        if session_id not in allowed:
            raise SessionErased(f"session {session_id} was erased")
        yield


def merge_unerased_rows(
    settings: Settings,
    table: Table,
    rows: Sequence[dict],
    keys: Sequence[str],
    session_column: str = "session_id",
    keep_on_update: Sequence[str] = (),
) -> int:
    """Merge the rows whose session is not erased (checked right before the commit).

    Returns how many rows were merged; rows of erased sessions are dropped, so a writer that
    raced an erasure cannot bring its rows back after the erasure's DELETE.
    """
    with admitted(settings, {row[session_column] for row in rows}) as allowed:
        kept = [row for row in rows if row[session_column] in allowed]
        if kept:
            lake.merge_rows(settings, table, kept, list(keys), keep_on_update=keep_on_update)
    return len(kept)
