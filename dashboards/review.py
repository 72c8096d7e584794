"""Writing a reviewer's decision back to the lake, audited.

A decision updates the incident's ``resolution``, ``reviewed_by`` and ``reviewed_at`` (a Delta
MERGE by ``incident_id``) and appends a ``proctor_actions`` row of type ``review``. The false-flag
figures and detector precision read those columns, and threshold tuning reads them later.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pyarrow.compute as pc

from proctorlake.core.schemas import INCIDENTS, PROCTOR_ACTIONS
from proctorlake.core.settings import Settings
from proctorlake.core.vocabulary import ProctorActionType
from proctorlake.governance import erased_sessions
from proctorlake.storage import lake

RESOLUTIONS = ("confirmed", "dismissed")


class ReviewError(ValueError):
    """The decision cannot be recorded: unknown incident, other institution, bad resolution."""


def _incident_row(settings: Settings, institution_id: str, incident_id: str) -> dict:
    rows = lake.read_table(settings, INCIDENTS.name).filter(
        (pc.field("incident_id") == incident_id) & (pc.field("institution_id") == institution_id)
    )
    if rows.num_rows == 0:
        # The same answer for "no such incident" and "another institution's": nothing leaks.
        raise ReviewError(f"no incident {incident_id!r} in institution {institution_id!r}")
    return rows.to_pylist()[0]


def record_review(
    settings: Settings,
    institution_id: str,
    incident_id: str,
    resolution: str,
    reviewer: str,
    reviewed_at: datetime | None = None,
) -> dict:
    """Record ``reviewer``'s ``resolution`` of one incident; returns the updated incident row."""
    if resolution not in RESOLUTIONS:
        raise ReviewError(f"resolution must be one of {RESOLUTIONS}, not {resolution!r}")
    if not reviewer.strip():
        raise ReviewError("a review needs the reviewer's name")
    reviewed_at = reviewed_at or datetime.now(UTC)
    incident = _incident_row(settings, institution_id, incident_id)
    incident.update(resolution=resolution, reviewed_by=reviewer, reviewed_at=reviewed_at)
    with erased_sessions.admitted(settings, [incident["session_id"]]) as allowed:
        if incident["session_id"] not in allowed:
            raise ReviewError(f"no incident {incident_id!r} in institution {institution_id!r}")
        lake.merge_rows(settings, INCIDENTS, [incident], ["incident_id"])
        lake.append_rows(settings, PROCTOR_ACTIONS, [_review_action(incident)])
    return incident


def _review_action(incident: dict) -> dict:
    message = json.dumps(
        {"incident_id": incident["incident_id"], "resolution": incident["resolution"]},
        sort_keys=True,
    )
    reviewed_at: datetime = incident["reviewed_at"]
    action_id = hashlib.sha256(
        f"{incident['incident_id']}|{reviewed_at.isoformat()}".encode()
    ).hexdigest()[:32]
    return {
        "action_id": action_id,
        "session_id": incident["session_id"],
        "institution_id": incident["institution_id"],
        "proctor_id": incident["reviewed_by"],
        "action_type": ProctorActionType.REVIEW,
        "message": message,
        "created_at": reviewed_at,
        "session_date": incident["session_date"],
    }
