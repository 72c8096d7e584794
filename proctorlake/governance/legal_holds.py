"""Legal holds: an admin keeps a session out of retention (e.g. a disputed incident).

Holds are an append-only audit trail in ``legal_holds``: every placement and release is a
row with who, why and when; a session is held while its latest event is ``placed``. Hold
changes and the retention purge of a session take the same lock, so a hold placed while
retention runs either lands before the purge looks (and the session is kept) or after the
session is gone (and the placement fails: nothing left to hold).

On S3 the session's objects are also re-tagged (``storage_policy``), so the bucket's
lifecycle expiry rule, which matches by tag, never reaches a held session's recordings.
"""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.compute as pc

from proctorlake.core import schemas
from proctorlake.core.ids import InvalidId, check_id
from proctorlake.core.settings import Settings
from proctorlake.storage import lake
from proctorlake.storage.file_lock import exclusive_lock

PLACED = "placed"
RELEASED = "released"
MAX_REASON_CHARS = 500


class HoldError(ValueError):
    """A hold request was rejected (unknown session, already held, not held, no reason)."""


class HoldSessionUnknown(HoldError):
    """The session has no stored data (never existed, or already purged or erased)."""


class HoldStateConflict(HoldError):
    """Placing a hold on a held session, or releasing one that is not held."""


@dataclass(frozen=True)
class HoldEvent:
    event_id: str
    session_id: str
    institution_id: str
    action: str
    actor: str
    reason: str
    event_at: dt.datetime

    def to_json(self) -> dict:
        return asdict(self) | {"event_at": self.event_at.isoformat()}


def hold_lock(settings: Settings) -> AbstractContextManager[None]:
    """Serialises hold changes with retention purges on this installation."""
    return exclusive_lock(settings.home / "retention" / "holds.lock")


def _checked(session_id: str) -> str:
    try:
        return check_id("session id", session_id)
    except InvalidId as exc:
        raise HoldError(str(exc)) from exc


def session_institution(settings: Settings, session_id: str) -> str:
    """The institution of a stored session; HoldError when the session has no data."""
    _checked(session_id)
    table = lake.open_table(settings, schemas.EXAM_SESSIONS.name)
    rows = (
        table.to_pyarrow_dataset().to_table(
            columns=["institution_id"],
            filter=pc.field("session_id").cast(pa.string()) == session_id,
        )
        if table is not None
        else None
    )
    if rows is None or rows.num_rows == 0:
        raise HoldSessionUnknown(f"session {session_id} has no stored data to hold")
    return rows["institution_id"][0].as_py()


def _event(row: dict) -> HoldEvent:
    return HoldEvent(**{k: row[k] for k in HoldEvent.__dataclass_fields__})


def hold_history(settings: Settings, session_id: str | None = None) -> list[HoldEvent]:
    """Every hold event (of one session, or all), oldest first."""
    rows = lake.read_table(settings, schemas.LEGAL_HOLDS.name).to_pylist()
    events = [_event(r) for r in rows if session_id is None or r["session_id"] == session_id]
    return sorted(events, key=lambda e: (e.event_at, e.action == RELEASED))


def current_holds(settings: Settings) -> dict[str, HoldEvent]:
    """session_id -> the placement event, for every session under hold now."""
    latest: dict[str, HoldEvent] = {}
    for event in hold_history(settings):
        latest[event.session_id] = event
    return {s: e for s, e in latest.items() if e.action == PLACED}


def is_held(settings: Settings, session_id: str) -> bool:
    return session_id in current_holds(settings)


def _check_words(reason: str, actor: str) -> tuple[str, str]:
    reason, actor = (reason or "").strip(), (actor or "").strip()
    if not reason:
        raise HoldError("a reason is required (a case or incident reference)")
    if len(reason) > MAX_REASON_CHARS:
        raise HoldError(f"the reason is longer than {MAX_REASON_CHARS} characters")
    if not actor:
        raise HoldError("the acting admin must be named")
    return reason, actor


def _record(
    settings: Settings, session_id: str, institution_id: str, action: str, actor: str, reason: str
) -> HoldEvent:
    now = dt.datetime.now(dt.UTC)
    event = HoldEvent(uuid.uuid4().hex, session_id, institution_id, action, actor, reason, now)
    lake.append_rows(
        settings, schemas.LEGAL_HOLDS, [asdict(event) | {"month": now.strftime("%Y-%m")}]
    )
    return event


def place_hold(settings: Settings, session_id: str, reason: str, actor: str) -> HoldEvent:
    """Hold a session until released; raises HoldError if unknown or already held."""
    from proctorlake.governance.storage_policy import tag_session_objects

    reason, actor = _check_words(reason, actor)
    with hold_lock(settings):
        institution_id = session_institution(settings, session_id)
        if is_held(settings, session_id):
            raise HoldStateConflict(f"session {session_id} is already under legal hold")
        event = _record(settings, session_id, institution_id, PLACED, actor, reason)
        tag_session_objects(settings, session_id, institution_id, held=True)
    return event


def release_hold(settings: Settings, session_id: str, reason: str, actor: str) -> HoldEvent:
    """Lift a session's hold; retention may purge it again. Raises HoldError if not held."""
    from proctorlake.governance.storage_policy import tag_session_objects

    _checked(session_id)
    reason, actor = _check_words(reason, actor)
    with hold_lock(settings):
        placed = current_holds(settings).get(session_id)
        if placed is None:
            raise HoldStateConflict(f"session {session_id} is not under legal hold")
        event = _record(settings, session_id, placed.institution_id, RELEASED, actor, reason)
        tag_session_objects(settings, session_id, placed.institution_id, held=False)
    return event
