"""Accommodations and breaks: one implementation for the API, the dashboard and the batch.

An admin's change is appended to ``accommodations`` (who, when, what; the latest row for a
student and exam applies), so the table is its own audit trail: an accommodation is per
student and exam, not per session, and ``proctor_actions`` rows belong to a session. The
student is stored as erasure's keyed hash, never as the id: an erasure of the student deletes
the rows by that hash (``proctorlake.governance.erasure``). A break the student takes from the
exam page is a ``session_breaks`` row, refused beyond the accommodation's allowance.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from proctorlake.core import schemas
from proctorlake.core.accommodations import Accommodation, BreakWindow, break_windows
from proctorlake.core.ids import check_id
from proctorlake.core.settings import Settings
from proctorlake.governance import erased_sessions
from proctorlake.governance.erasure.ids import student_hash
from proctorlake.storage import lake

MAX_ADMIN_CHARS = 256

_WRITE_LOCK = threading.Lock()
"""delta-rs writes from threads of one process would conflict on the same table version."""


class BreakRefused(RuntimeError):
    """No break is left in the allowance, or the request does not fit the break's state."""


@dataclass(frozen=True)
class AccommodationChange:
    change_id: str
    institution_id: str
    exam_id: str
    accommodation: Accommodation
    set_by: str
    set_at: dt.datetime

    def to_json(self) -> dict:
        return {
            "change_id": self.change_id,
            "institution_id": self.institution_id,
            "exam_id": self.exam_id,
            "accommodation": self.accommodation.to_dict(),
            "set_by": self.set_by,
            "set_at": self.set_at.isoformat(),
        }


def _rows(settings: Settings, institution_id: str, exam_id: str, hashed: str) -> list[dict]:
    # Read whole, then filter: a dataset filter fails once delta-rs has merged into a table.
    table = lake.read_table(settings, schemas.ACCOMMODATIONS.name)
    condition = (
        (pc.field("institution_id").cast(pa.string()) == institution_id)
        & (pc.field("exam_id").cast(pa.string()) == exam_id)
        & (pc.field("student_id_hash").cast(pa.string()) == hashed)
    )
    rows = table.filter(condition).to_pylist()
    return sorted(rows, key=lambda r: (r["set_at"], r["change_id"]))


def _change(row: Mapping) -> AccommodationChange:
    return AccommodationChange(
        row["change_id"],
        row["institution_id"],
        row["exam_id"],
        Accommodation.from_json(row["accommodation_json"]),
        row["set_by"],
        row["set_at"],
    )


def set_accommodation(
    settings: Settings,
    institution_id: str,
    exam_id: str,
    student_id: str,
    accommodation: Accommodation,
    set_by: str,
    at: dt.datetime | None = None,
) -> AccommodationChange:
    """Record an admin's change (it applies from now on, to open sessions too)."""
    check_id("institution_id", institution_id)
    check_id("exam_id", exam_id)
    if not set_by.strip() or len(set_by) > MAX_ADMIN_CHARS:
        raise ValueError(f"an accommodation needs the admin's name (1 to {MAX_ADMIN_CHARS} chars)")
    change = AccommodationChange(
        uuid.uuid4().hex,
        institution_id,
        exam_id,
        accommodation,
        set_by,
        at or dt.datetime.now(dt.UTC),
    )
    row = {
        "change_id": change.change_id,
        "institution_id": institution_id,
        "exam_id": exam_id,
        "student_id_hash": student_hash(settings, check_id("student_id", student_id)),
        "accommodation_json": accommodation.to_json(),
        "set_by": set_by,
        "set_at": change.set_at,
    }
    with _WRITE_LOCK:
        lake.append_rows(settings, schemas.ACCOMMODATIONS, [row])
    return change


def accommodation_history(
    settings: Settings, institution_id: str, exam_id: str, student_id: str
) -> list[AccommodationChange]:
    """Every change for this student and exam, oldest first (the audit trail)."""
    hashed = student_hash(settings, check_id("student_id", student_id), create=False)
    if hashed is None:
        return []
    return [_change(r) for r in _rows(settings, institution_id, exam_id, hashed)]


def current_accommodation(
    settings: Settings, institution_id: str, exam_id: str, student_id: str
) -> Accommodation:
    """The latest change's accommodation (none set: no accommodation)."""
    history = accommodation_history(settings, institution_id, exam_id, student_id)
    return history[-1].accommodation if history else Accommodation()


def session_accommodations(settings: Settings, sessions: Sequence[Mapping]) -> dict:
    """session_id -> Accommodation for ``exam_sessions`` rows (the batch's lookup)."""
    return {
        s["session_id"]: current_accommodation(
            settings, s["institution_id"], s["exam_id"], s["student_id"]
        )
        for s in sessions
    }


def breaks_of(settings: Settings, session_id: str) -> list[dict]:
    """The session's break rows, in order."""
    table = lake.read_table(settings, schemas.SESSION_BREAKS.name)
    rows = table.filter(pc.field("session_id").cast(pa.string()) == session_id).to_pylist()
    return sorted(rows, key=lambda r: r["break_no"])


def break_timeline(
    rows: Sequence[Mapping], origin: dt.datetime | None, accommodation: Accommodation
) -> list[BreakWindow]:
    """Break rows on a path's timeline (nothing without an origin to measure from)."""
    if origin is None:
        return []
    spans = [(r["started_at"], r["ended_at"]) for r in rows]
    return break_windows(spans, origin, accommodation.break_max_s)


def start_break(
    settings: Settings,
    session_id: str,
    institution_id: str,
    accommodation: Accommodation,
    at: dt.datetime | None = None,
) -> dict:
    """Open a break if the allowance has one left and none is open; returns its row."""
    at = at or dt.datetime.now(dt.UTC)
    with _WRITE_LOCK:
        rows = breaks_of(settings, session_id)
        if any(r["ended_at"] is None for r in rows):
            raise BreakRefused("a break is already open; end it first")
        if len(rows) >= accommodation.breaks_allowed:
            raise BreakRefused(
                f"no break left: {accommodation.breaks_allowed} allowed, {len(rows)} taken"
            )
        row = {
            "session_id": session_id,
            "institution_id": institution_id,
            "break_no": len(rows) + 1,
            "started_at": at,
            "ended_at": None,
            "session_date": at.date().isoformat(),
        }
        with erased_sessions.admitted_session(settings, session_id):
            lake.merge_rows(settings, schemas.SESSION_BREAKS, [row], ["session_id", "break_no"])
    return row


def end_break(settings: Settings, session_id: str, at: dt.datetime | None = None) -> dict:
    """Close the open break; returns its row."""
    at = at or dt.datetime.now(dt.UTC)
    with _WRITE_LOCK:
        open_rows = [r for r in breaks_of(settings, session_id) if r["ended_at"] is None]
        if not open_rows:
            raise BreakRefused("no break is open")
        row = {**open_rows[0], "ended_at": at}
        with erased_sessions.admitted_session(settings, session_id):
            lake.merge_rows(settings, schemas.SESSION_BREAKS, [row], ["session_id", "break_no"])
    return row
