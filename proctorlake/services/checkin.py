"""Check-in outcomes, the consent among them: one ``checkin_events`` row per step attempt.

The exam client reports each step (the API checks the caller); a step failed
``MAX_ATTEMPTS`` times is recorded as ``human_review``, so the session is reviewed by a person
rather than blocked. Rows are per session, so erasure removes them with the session.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pyarrow as pa
import pyarrow.compute as pc

from proctorlake.core import schemas
from proctorlake.core.checkin import MAX_ATTEMPTS, NOTICE_VERSION, CheckinOutcome, CheckinStep
from proctorlake.core.settings import Settings
from proctorlake.governance import erased_sessions
from proctorlake.storage import lake

MAX_DETAIL_CHARS = 200

_WRITE_LOCK = threading.Lock()


def outcome_after(step: CheckinStep, outcome: CheckinOutcome, attempt: int) -> CheckinOutcome:
    """A failure on the last allowed attempt becomes human review (pure)."""
    if outcome == CheckinOutcome.FAILED and attempt >= MAX_ATTEMPTS:
        return CheckinOutcome.HUMAN_REVIEW
    if step == CheckinStep.CONSENT and outcome not in (
        CheckinOutcome.ACCEPTED,
        CheckinOutcome.DECLINED,
    ):
        raise ValueError("consent is accepted or declined")
    if step != CheckinStep.CONSENT and outcome in (
        CheckinOutcome.ACCEPTED,
        CheckinOutcome.DECLINED,
    ):
        raise ValueError(f"{step} passes or fails")
    return outcome


def record_step(
    settings: Settings,
    session_id: str,
    institution_id: str,
    step: CheckinStep,
    outcome: CheckinOutcome,
    attempt: int,
    detail: str | None = None,
    tier: str | None = None,
    at: dt.datetime | None = None,
) -> dict:
    """Write one step's outcome; returns the row (its ``outcome`` after the attempts rule)."""
    at = at or dt.datetime.now(dt.UTC)
    row = {
        "session_id": session_id,
        "institution_id": institution_id,
        "event_id": uuid.uuid4().hex,
        "step": CheckinStep(step).value,
        "outcome": outcome_after(CheckinStep(step), CheckinOutcome(outcome), attempt).value,
        "attempt": int(attempt),
        "detail": (detail or "")[:MAX_DETAIL_CHARS] or None,
        "tier": tier if step == CheckinStep.CONSENT else None,
        "notice_version": NOTICE_VERSION if step == CheckinStep.CONSENT else None,
        "at": at,
        "session_date": at.date().isoformat(),
    }
    with _WRITE_LOCK, erased_sessions.admitted_session(settings, session_id):
        lake.append_rows(settings, schemas.CHECKIN_EVENTS, [row])
    return row


def checkin_events(settings: Settings, session_id: str) -> list[dict]:
    table = lake.read_table(settings, schemas.CHECKIN_EVENTS.name)
    rows = table.filter(pc.field("session_id").cast(pa.string()) == session_id).to_pylist()
    return sorted(rows, key=lambda r: r["at"])
