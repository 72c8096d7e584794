"""What stays of an erased session: counts for institution statistics, tied to no one.

Each erased session leaves one row in ``anonymized_sessions`` with a random record id, the
institution, the month (not the day) and its incident and detection counts. No session id,
student, exam or timestamp finer than a month survives, so the row cannot be joined back to
anything: it only keeps institution totals (sessions, incidents per type) right after erasure.
The rows are computed when the request is planned, before anything is deleted, and written
by their record id, so a resumed request never doubles them.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter

from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.governance.erasure.delta_tables import rows_by_session
from proctorlake.storage import lake


def _by_session(table, key: str = "session_id") -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    if table is None:
        return grouped
    for row in table.to_pylist():
        grouped.setdefault(row[key], []).append(row)
    return grouped


def anonymous_rows(settings: Settings, session_ids: list[str]) -> list[dict]:
    """One anonymous row per session that has an ``exam_sessions`` row."""
    sessions = _by_session(
        rows_by_session(
            settings,
            "exam_sessions",
            session_ids,
            ["session_id", "institution_id", "tier", "session_date"],
        )
    )
    incidents = _by_session(
        rows_by_session(
            settings, "incidents", session_ids, ["session_id", "incident_type", "severity"]
        )
    )
    detections = _by_session(
        rows_by_session(settings, "detection_events", session_ids, ["session_id"])
    )
    erased_month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    rows = []
    for session_id in sorted(sessions):
        session = sessions[session_id][0]
        found = incidents.get(session_id, [])
        rows.append(
            {
                "record_id": uuid.uuid4().hex,
                "institution_id": session["institution_id"],
                "session_month": (session["session_date"] or "")[:7] or erased_month,
                "tier": session["tier"],
                "incident_count": len(found),
                "high_severity_incidents": sum(1 for i in found if i["severity"] == "high"),
                "incidents_by_type": json.dumps(
                    dict(sorted(Counter(i["incident_type"] for i in found).items()))
                ),
                "detection_count": len(detections.get(session_id, [])),
                "erased_month": erased_month,
            }
        )
    return rows


def store_anonymous_rows(settings: Settings, rows: list[dict]) -> dict:
    lake.merge_rows(settings, schemas.ANONYMIZED_SESSIONS, rows, ["record_id"])
    return {"anonymous_rows_kept": len(rows)}
