"""Gold summaries: one ``session_reports`` row per analysed session, ``institution_daily`` counts.

Small per-session aggregates over the lake, so they run through DuckDB and delta-rs rather
than Spark: extract (one query per source table) -> transform (pure: ``summarize_session``,
``risk_score``) -> load (merge by session_id; institution_daily rebuilt whole).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Sequence

from deltalake import write_deltalake

from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.core.vocabulary import SEVERITY_WEIGHT
from proctorlake.storage import lake

CONFIRMED_FACTOR = 2.0
"""Risk points per incident are ``SEVERITY_WEIGHT`` at confidence 1; a proctor-confirmed
incident counts double and a dismissed one not at all. Hand-set (no labelled outcomes yet):
three confident high-severity incidents reach the 0-100 cap."""
FLAG_THRESHOLD = 50.0
"""A session at or above this risk score counts as flagged in institution_daily."""


class SessionRowMissing(LookupError):
    """No exam_sessions row for this id."""


def risk_score(incidents: Sequence[dict]) -> float:
    """0-100 from the session's incidents (severity x confidence, review outcome applied)."""
    total = 0.0
    for incident in incidents:
        if incident.get("resolution") == "dismissed":
            continue
        points = SEVERITY_WEIGHT.get(incident["severity"], 0.0) * float(incident["confidence"])
        if incident.get("resolution") == "confirmed":
            points *= CONFIRMED_FACTOR
        total += points
    return round(min(100.0, total), 1)


def verification_outcome(verifications: Sequence[dict]) -> tuple[str, float | None]:
    """The latest identity check decides: verified | failed | not_verified (none on record)."""
    if not verifications:
        return "not_verified", None
    latest = max(verifications, key=lambda v: v["verified_at"])
    return ("verified" if latest["verified"] else "failed"), latest["similarity_score"]


def summarize_session(
    session: dict,
    chunks: Sequence[dict],
    detection_rows: int,
    incidents: Sequence[dict],
    verifications: Sequence[dict],
    actions: Sequence[dict],
    built_at: dt.datetime,
) -> dict:
    """The session_reports row (pure: rows in, row out)."""
    webcam = [c for c in chunks if c["track"] == "webcam"]
    outcome, similarity = verification_outcome(verifications)
    resolutions = Counter(i.get("resolution") for i in incidents)
    return {
        "session_id": session["session_id"],
        "institution_id": session["institution_id"],
        "exam_id": session.get("exam_id"),
        "status": session.get("status"),
        "started_at": session.get("started_at"),
        "ended_at": session.get("ended_at"),
        "recording_s": max((c["chunk_end_ms"] for c in webcam), default=0) / 1000.0,
        "chunks": len(chunks),
        "gaps": sum(1 for c in chunks if (c.get("gap_before_ms") or 0) > 0),
        "detection_rows": int(detection_rows),
        "incidents": len(incidents),
        "high_severity_incidents": sum(1 for i in incidents if i["severity"] == "high"),
        "incidents_by_type": json.dumps(
            dict(sorted(Counter(i["incident_type"] for i in incidents).items()))
        ),
        "confirmed": resolutions.get("confirmed", 0),
        "dismissed": resolutions.get("dismissed", 0),
        "pending_review": resolutions.get(None, 0),
        "risk_score": risk_score(incidents),
        "verification_outcome": outcome,
        "similarity_score": similarity,
        "proctor_actions": len(actions),
        "actions_by_type": json.dumps(
            dict(sorted(Counter(a["action_type"] for a in actions).items()))
        ),
        "built_at": built_at,
        "session_date": session["session_date"],
    }


def _rows(connection, sql: str, session_id: str) -> list[dict]:
    cursor = connection.execute(sql, [session_id])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def build_session_report(settings: Settings, session_id: str) -> dict:
    """Summarize one session from the lake and upsert its session_reports row."""
    db = lake.duckdb_connection(settings)
    sessions = _rows(db, "select * from exam_sessions where session_id = ?", session_id)
    if not sessions:
        raise SessionRowMissing(f"no exam session {session_id!r}")
    row = summarize_session(
        sessions[0],
        _rows(db, "select * from media_chunks where session_id = ?", session_id),
        db.execute(
            "select count(*) from detection_events where session_id = ?", [session_id]
        ).fetchone()[0],
        _rows(db, "select * from incidents where session_id = ?", session_id),
        _rows(db, "select * from identity_verifications where session_id = ?", session_id),
        _rows(db, "select * from proctor_actions where session_id = ?", session_id),
        dt.datetime.now(dt.UTC),
    )
    lake.merge_rows(settings, schemas.SESSION_REPORTS, [row], ["session_id"])
    return row


INSTITUTION_DAILY_SQL = f"""
select institution_id, session_date, count(*) as sessions, sum(recording_s) as recording_s,
       sum(incidents) as incidents, sum(high_severity_incidents) as high_severity_incidents,
       count(*) filter (where risk_score >= {FLAG_THRESHOLD}) as flagged_sessions,
       round(avg(risk_score), 1) as mean_risk_score,
       count(*) filter (where verification_outcome = 'verified') as verified_sessions,
       count(*) filter (where verification_outcome <> 'verified') as unverified_sessions,
       sum(proctor_actions) as proctor_actions, sum(confirmed) as confirmed,
       sum(dismissed) as dismissed, sum(pending_review) as pending_review
from session_reports group by 1, 2 order by 1, 2
"""


def build_institution_daily(settings: Settings) -> int:
    """Rebuild institution_daily from session_reports (a whole-table overwrite: idempotent)."""
    cursor = lake.duckdb_connection(settings).execute(INSTITUTION_DAILY_SQL)
    names = [d[0] for d in cursor.description]
    built_at = dt.datetime.now(dt.UTC)
    rows = [dict(zip(names, r, strict=True)) | {"built_at": built_at} for r in cursor.fetchall()]
    table = schemas.INSTITUTION_DAILY
    lake.ensure_table(settings, table)
    write_deltalake(
        lake.delta_uri(settings, table.name),
        lake.to_arrow(table, rows),
        mode="overwrite",
        storage_options=lake.storage_options(settings),
    )
    return len(rows)
