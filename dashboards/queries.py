"""The figures each page shows, as DuckDB SQL over the institution-scoped tables.

Functions take a connection from :func:`dashboards.lakehouse.institution_connection` and
return pandas DataFrames or plain values; no Streamlit here, so every figure is testable on
its own. A "reviewed" incident has a resolution of ``confirmed`` or ``dismissed``; a pending
one has none. The false-flag share is dismissed / reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd


@dataclass(frozen=True)
class ExamWindow:
    """Which sessions a page looks at: session dates (inclusive) and optionally one exam."""

    date_from: date
    date_to: date
    exam_id: str | None = None

    def params(self) -> dict[str, str | None]:
        return {
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "exam_id": self.exam_id,
        }


_WINDOW_SESSIONS = """
window_sessions as (
    select session_id, exam_id, started_at
    from exam_sessions
    where session_date between $date_from and $date_to
      and ($exam_id::varchar is null or exam_id = $exam_id::varchar)
),
window_incidents as (
    select i.*, w.exam_id,
           coalesce(i.started_at, w.started_at + to_microseconds(cast(i.start_s * 1e6 as bigint)))
               as flagged_at
    from incidents i join window_sessions w using (session_id)
)
"""


def _df(
    connection: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None
) -> pd.DataFrame:
    return connection.execute(sql, params or {}).df()


def exam_ids(connection: duckdb.DuckDBPyConnection) -> list[str]:
    rows = connection.execute("select distinct exam_id from exam_sessions order by 1").fetchall()
    return [r[0] for r in rows]


def session_date_bounds(connection: duckdb.DuckDBPyConnection) -> tuple[date, date] | None:
    """First and last session date on record (None when there are no sessions)."""
    low, high = connection.execute(
        "select min(session_date), max(session_date) from exam_sessions"
    ).fetchone()
    if low is None:
        return None
    return date.fromisoformat(low), date.fromisoformat(high)


def overview_figures(connection: duckdb.DuckDBPyConnection, window: ExamWindow) -> dict:
    """Headline numbers: sessions, flags, failed identity checks, backlog, false-flag share."""
    sql = f"""
    with {_WINDOW_SESSIONS}
    select
        (select count(*) from window_sessions) as sessions,
        (select count(*) from window_incidents) as flags,
        (select count(*) from identity_verifications v join window_sessions using (session_id)
          where not v.verified) as verification_failures,
        (select count(*) from window_incidents where resolution is null) as review_backlog,
        (select count(*) from window_incidents where resolution in ('confirmed', 'dismissed'))
            as reviewed,
        (select count(*) from window_incidents where resolution = 'dismissed') as dismissed
    """
    row = _df(connection, sql, window.params()).iloc[0].to_dict()
    figures = {k: int(v) for k, v in row.items()}
    figures["false_flag_share"] = (
        figures["dismissed"] / figures["reviewed"] if figures["reviewed"] else None
    )
    return figures


def flags_per_hour(connection: duckdb.DuckDBPyConnection, window: ExamWindow) -> pd.DataFrame:
    """Incidents per wall-clock hour (UTC) and type, by when they were flagged."""
    sql = f"""
    with {_WINDOW_SESSIONS}
    select date_trunc('hour', flagged_at) as hour, incident_type, count(*) as flags
    from window_incidents
    group by all
    order by hour, incident_type
    """
    return _df(connection, sql, window.params())


def review_backlog(connection: duckdb.DuckDBPyConnection, window: ExamWindow) -> pd.DataFrame:
    """Pending incidents per session date and type: the work still waiting for a reviewer."""
    sql = f"""
    with {_WINDOW_SESSIONS}
    select session_date, incident_type, count(*) as pending
    from window_incidents
    where resolution is null
    group by all
    order by session_date, incident_type
    """
    return _df(connection, sql, window.params())


def per_exam(connection: duckdb.DuckDBPyConnection, window: ExamWindow) -> pd.DataFrame:
    sql = f"""
    with {_WINDOW_SESSIONS},
    session_counts as (select exam_id, count(*) as sessions from window_sessions group by 1)
    select s.exam_id, s.sessions,
           count(i.incident_id) as flags,
           count(i.incident_id) filter (where i.resolution is null) as pending,
           count(i.incident_id) filter (where i.resolution = 'dismissed')::double
             / nullif(count(i.incident_id)
                 filter (where i.resolution in ('confirmed', 'dismissed')), 0)
             as false_flag_share
    from session_counts s left join window_incidents i using (exam_id)
    group by s.exam_id, s.sessions
    order by s.exam_id
    """
    return _df(connection, sql, window.params())


REVIEW_PAGE_ROWS = 500
"""Sessions the review page lists at once: the most pending first, so the page stays bounded
however many sessions an institution has."""


def sessions_for_review(
    connection: duckdb.DuckDBPyConnection, limit: int = REVIEW_PAGE_ROWS, offset: int = 0
) -> pd.DataFrame:
    """One page of sessions with their incident counts, those with pending incidents first."""
    sql = """
    select s.session_id, s.student_id, s.student_name, s.exam_id, s.session_date, s.status,
           count(i.incident_id) as incidents,
           count(i.incident_id) filter (where i.resolution is null) as pending
    from exam_sessions s left join incidents i using (session_id)
    group by all
    order by pending desc, s.session_date desc, s.session_id
    limit $limit offset $offset
    """
    return _df(connection, sql, {"limit": int(limit), "offset": int(offset)})


QUEUE_MAX_INCIDENTS = 20_000
"""Unreviewed incidents the review queue reads at most (the backlog reviewers keep small); the
page says when there are more."""


def pending_incidents(
    connection: duckdb.DuckDBPyConnection, limit: int = QUEUE_MAX_INCIDENTS
) -> pd.DataFrame:
    """Unreviewed incidents with their session's student and exam: the review queue's input,
    the most recent sessions first when there are more than ``limit``."""
    sql = """
    select i.session_id, i.incident_type, i.severity, i.confidence, i.start_s, i.end_s,
           i.resolution, s.student_id, s.student_name, s.exam_id, s.session_date
    from incidents i join exam_sessions s using (session_id)
    where i.resolution is null
    order by s.session_date desc, i.session_id, i.start_s
    limit $limit
    """
    return _df(connection, sql, {"limit": int(limit)})


def session_detail(connection: duckdb.DuckDBPyConnection, session_id: str) -> dict | None:
    rows = _df(
        connection, "select * from exam_sessions where session_id = $s", {"s": session_id}
    ).to_dict("records")
    return rows[0] if rows else None


def session_incidents(connection: duckdb.DuckDBPyConnection, session_id: str) -> pd.DataFrame:
    sql = "select * from incidents where session_id = $s order by start_s, incident_type"
    return _df(connection, sql, {"s": session_id})


def session_suppressed(connection: duckdb.DuckDBPyConnection, session_id: str) -> pd.DataFrame:
    """Flags the student's accommodations suppressed, by type and reason: counted, not raised."""
    sql = """
    select incident_type, reason, count(*) as flags, sum(end_s - start_s) as seconds
    from suppressed_incidents where session_id = $s
    group by all order by incident_type, reason
    """
    return _df(connection, sql, {"s": session_id})


def session_actions(connection: duckdb.DuckDBPyConnection, session_id: str) -> pd.DataFrame:
    sql = """
    select created_at, proctor_id, action_type, message from proctor_actions
    where session_id = $s order by created_at, action_id
    """
    return _df(connection, sql, {"s": session_id})


def session_identity(connection: duckdb.DuckDBPyConnection, session_id: str) -> pd.DataFrame:
    sql = """
    select verified_at, verified, similarity_score, liveness, ocr_name, ocr_id_number, record_id
    from identity_verifications where session_id = $s order by verified_at
    """
    return _df(connection, sql, {"s": session_id})


def session_chunks(
    connection: duckdb.DuckDBPyConnection, session_id: str, track: str = "webcam"
) -> pd.DataFrame:
    sql = """
    select chunk_index, chunk_start_ms, chunk_end_ms, analysis_key, gap_before_ms
    from media_chunks where session_id = $s and track = $t order by chunk_start_ms
    """
    return _df(connection, sql, {"s": session_id, "t": track})


def detector_summary(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per detector (incident type): incidents, reviews and precision over all time."""
    sql = """
    select incident_type as detector,
           count(*) as incidents,
           count(*) filter (where resolution = 'confirmed') as confirmed,
           count(*) filter (where resolution = 'dismissed') as dismissed,
           count(*) filter (where resolution is null) as pending,
           count(*) filter (where resolution = 'confirmed')::double
             / nullif(count(*) filter (where resolution in ('confirmed', 'dismissed')), 0)
             as precision
    from incidents
    group by 1
    order by 1
    """
    return _df(connection, sql)


def detector_precision_over_time(
    connection: duckdb.DuckDBPyConnection, grain: str = "day"
) -> pd.DataFrame:
    """Precision per detector per day/week/month of the exam, from reviewed incidents only."""
    if grain not in ("day", "week", "month"):
        raise ValueError(f"grain must be day, week or month, not {grain!r}")
    sql = f"""
    select incident_type as detector,
           date_trunc('{grain}', cast(session_date as date))::date as period,
           count(*) filter (where resolution = 'confirmed') as confirmed,
           count(*) filter (where resolution = 'dismissed') as dismissed,
           count(*) filter (where resolution = 'confirmed')::double / count(*) as precision
    from incidents
    where resolution in ('confirmed', 'dismissed')
    group by all
    order by period, detector
    """
    return _df(connection, sql)


def erasure_requests(
    connection: duckdb.DuckDBPyConnection, limit: int = REVIEW_PAGE_ROWS
) -> pd.DataFrame:
    """The latest erasure requests, newest first (one bounded page)."""
    sql = """
    select request_id, session_id, student_id_hash, requested_at, completed_at,
           case when completed_at is null then 'pending' else 'completed' end as status,
           certificate_json, signature
    from erasure_log
    order by requested_at desc, request_id
    limit $limit
    """
    return _df(connection, sql, {"limit": int(limit)})
