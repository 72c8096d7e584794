"""A reviewer's decision on an incident: one implementation for the API and the dashboard.

``record_review`` validates the decision, then writes it everywhere the incident lives:
- the gold ``incidents`` row (``resolution``, ``reviewed_by``, ``reviewed_at``; a batch re-run
  keeps it, see ``spark_jobs.analyze_sessions.keep_reviews``). A realtime incident the batch
  has not analysed yet gets its gold row from ``stream_incidents`` (``source = stream``);
- ``stream_incidents.review_status`` (``pending`` until now) when the stream path saw it;
- a ``proctor_actions`` row of type ``review``, published on ``proctor.actions`` when a
  producer is given, exactly as a proctor's message is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.core.vocabulary import ProctorActionType
from proctorlake.governance import erased_sessions
from proctorlake.services.proctor_audit import audit_action
from proctorlake.storage import lake

RESOLUTIONS = ("confirmed", "dismissed")
MAX_REVIEWER_CHARS = 256

_WRITE_LOCK = threading.Lock()
"""Two reviews in one process must not race their delta-rs merges on the same table."""


class ReviewError(ValueError):
    """The decision cannot be recorded: bad resolution or reviewer (nothing is written)."""


class IncidentNotFound(ReviewError, LookupError):
    """No such incident in the reviewer's institution (the same answer for another
    institution's incident, so nothing leaks)."""


@dataclass(frozen=True)
class RecordedReview:
    incident_id: str
    session_id: str
    institution_id: str
    resolution: str
    reviewed_by: str
    reviewed_at: dt.datetime
    action_id: str
    in_batch: bool  # the batch analysis had found this incident (else its gold row is new)
    in_stream: bool  # the stream path had found it (its review_status was updated)


def validate_review(resolution: str, reviewer: str) -> None:
    """Refuse a decision before anything is read or written."""
    if resolution not in RESOLUTIONS:
        raise ReviewError(f"resolution must be one of {RESOLUTIONS}, not {resolution!r}")
    if not reviewer.strip() or len(reviewer) > MAX_REVIEWER_CHARS:
        raise ReviewError(f"a review needs the reviewer's name (1 to {MAX_REVIEWER_CHARS} chars)")


def review_action_id(incident_id: str, reviewed_at: dt.datetime) -> str:
    """Deterministic, so a retried call with the same time writes no second audit row."""
    return hashlib.sha256(f"{incident_id}|{reviewed_at.isoformat()}".encode()).hexdigest()[:32]


def _find(
    settings: Settings,
    table: schemas.Table,
    institution_id: str,
    incident_id: str,
    session_id: str | None,
) -> dict | None:
    condition = (pc.field("incident_id").cast(pa.string()) == incident_id) & (
        pc.field("institution_id").cast(pa.string()) == institution_id
    )
    if session_id is not None:
        condition &= pc.field("session_id").cast(pa.string()) == session_id
    # Read whole, then filter: a dataset filter fails once delta-rs has merged into the table
    # (its files hold string_view beside the older files' string).
    rows = lake.read_table(settings, table.name).filter(condition).to_pylist()
    return rows[0] if rows else None


def _gold_row_from_stream(stream_row: dict) -> dict:
    """A realtime incident's gold row, until the batch analysis replaces it."""
    row = {name: stream_row.get(name) for name in schemas.INCIDENTS.column_names}
    return {**row, "frame_timestamps": None, "source": "stream"}


def record_review(
    settings: Settings,
    institution_id: str,
    incident_id: str,
    resolution: str,
    reviewer: str,
    *,
    session_id: str | None = None,
    reviewed_at: dt.datetime | None = None,
    producer: object | None = None,
) -> RecordedReview:
    """Record ``reviewer``'s ``resolution`` of one incident of ``institution_id`` (and of
    ``session_id`` when given). Raises ``ReviewError`` / ``IncidentNotFound`` before writing."""
    validate_review(resolution, reviewer)
    reviewed_at = reviewed_at or dt.datetime.now(dt.UTC)
    with _WRITE_LOCK:
        gold = _find(settings, schemas.INCIDENTS, institution_id, incident_id, session_id)
        stream = _find(settings, schemas.STREAM_INCIDENTS, institution_id, incident_id, session_id)
        if gold is None and stream is None:
            raise IncidentNotFound(f"no incident {incident_id!r} in institution {institution_id!r}")
        incident = gold if gold is not None else _gold_row_from_stream(stream)
        incident.update(resolution=resolution, reviewed_by=reviewer, reviewed_at=reviewed_at)
        with erased_sessions.admitted_session(settings, incident["session_id"]):
            lake.merge_rows(settings, schemas.INCIDENTS, [incident], ["incident_id"])
            if stream is not None:
                stream["review_status"] = resolution
                lake.merge_rows(settings, schemas.STREAM_INCIDENTS, [stream], ["incident_id"])
    action_id = review_action_id(incident_id, reviewed_at)
    audit_action(
        settings,
        producer,
        action_id=action_id,
        session_id=incident["session_id"],
        institution_id=institution_id,
        proctor_id=reviewer,
        action_type=ProctorActionType.REVIEW,
        message=json.dumps({"incident_id": incident_id, "resolution": resolution}, sort_keys=True),
        created_at=reviewed_at,
        session_date=incident["session_date"],
    )
    return RecordedReview(
        incident_id=incident_id,
        session_id=incident["session_id"],
        institution_id=institution_id,
        resolution=resolution,
        reviewed_by=reviewer,
        reviewed_at=reviewed_at,
        action_id=action_id,
        in_batch=gold is not None and gold.get("source") != "stream",
        in_stream=stream is not None,
    )
