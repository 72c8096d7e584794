"""A session's incident report, shared by ``GET /sessions/{id}/report`` and ``proctorlake report``.

Every incident comes with its video timestamps and a link that opens the recording at that
second: the object store's link to the chunk holding it (an S3 pre-signed URL that expires,
or a file URL locally) plus a ``#t=SECONDS`` media fragment. The identity verification
record, the proctor actions and each incident's review outcome are included. Access control
is the caller's (the API checks the token's institution; the CLI runs on the data host).
"""

from __future__ import annotations

import datetime as dt
import html
import json

from proctorlake.core.settings import Settings
from proctorlake.storage import lake
from proctorlake.storage.object_store import open_object_store

LINK_EXPIRES_S = 3600
"""Pre-signed links last an hour: long enough to review, short enough not to spread."""
FORMATS = ("json", "html", "text")


class ReportSessionUnknown(LookupError):
    """No exam session with this id."""


def _rows(db, sql: str, params: list) -> list[dict]:
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _chunk_at(chunks: list[dict], track: str, second: float) -> dict | None:
    """The chunk of ``track`` that holds this second of the session (the last one at the end)."""
    ms = second * 1000.0
    candidates = [c for c in chunks if c["track"] == track and c["chunk_start_ms"] <= ms]
    inside = [c for c in candidates if ms < c["chunk_end_ms"]]
    pick = inside or candidates
    return max(pick, key=lambda c: c["chunk_start_ms"]) if pick else None


def video_link(store, chunks: list[dict], track: str, second: float, expires_s: int | None) -> dict:
    """Where to watch this second: chunk key, offset in the chunk, and a link opening there."""
    chunk = _chunk_at(chunks, track, second)
    if chunk is None:
        return {"track": track, "second": second, "key": None, "offset_s": None, "url": None}
    offset = max(0.0, second - chunk["chunk_start_ms"] / 1000.0)
    url = store.link(chunk["analysis_key"], expires_s or LINK_EXPIRES_S)
    return {
        "track": track,
        "second": round(second, 1),
        "key": chunk["analysis_key"],
        "offset_s": round(offset, 1),
        "url": f"{url}#t={offset:.1f}",
        "expires_s": expires_s,  # None: a local file link does not expire
    }


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _plain(row: dict) -> dict:
    return {k: _iso(v) for k, v in row.items()}


INCIDENT_TRACK = {"unauthorized_app": "screen"}
"""Screen incidents open the screen recording; every other type opens the webcam."""


def build_report(settings: Settings, session_id: str, link_expires_s: int = LINK_EXPIRES_S) -> dict:
    """The report as plain JSON-ready data; raises ``ReportSessionUnknown`` for an unknown id."""
    db = lake.duckdb_connection(settings)
    sessions = _rows(
        db,
        "select session_id, institution_id, student_id, exam_id, tier, status, created_at, "
        "started_at, ended_at from exam_sessions where session_id = ?",
        [session_id],
    )
    if not sessions:
        raise ReportSessionUnknown(f"no exam session {session_id!r}")
    chunks = _rows(db, "select * from media_chunks where session_id = ?", [session_id])
    store = open_object_store(settings)
    expires_s = link_expires_s if settings.storage_backend == "s3" else None
    incidents = []
    for row in _rows(
        db,
        "select incident_id, incident_type, severity, confidence, start_s, end_s, started_at, "
        "ended_at, source, reviewed_by, resolution, reviewed_at from incidents "
        "where session_id = ? order by start_s, incident_type",
        [session_id],
    ):
        track = INCIDENT_TRACK.get(row["incident_type"], "webcam")
        incident = _plain(row)
        incident["review"] = {
            "outcome": row["resolution"] or "pending",
            "reviewed_by": row["reviewed_by"],
            "reviewed_at": _iso(row["reviewed_at"]),
        }
        incident["video"] = video_link(store, chunks, track, row["start_s"], expires_s)
        incidents.append(incident)
    summary = _rows(db, "select * from session_reports where session_id = ?", [session_id])
    identity = _rows(
        db,
        "select record_id, verified, similarity_score, liveness, verified_at, "
        "signature is not null as signed from identity_verifications where session_id = ? "
        "order by verified_at",
        [session_id],
    )
    actions = _rows(
        db,
        "select action_id, proctor_id, action_type, message, created_at from proctor_actions "
        "where session_id = ? order by created_at",
        [session_id],
    )
    return {
        "session": _plain(sessions[0]),
        "summary": _plain(summary[0]) if summary else None,
        "incidents": incidents,
        "identity_verifications": [_plain(r) for r in identity],
        "proctor_actions": [_plain(r) for r in actions],
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
    }


def _html(report: dict) -> str:
    e = html.escape
    s = report["session"]
    rows = "".join(
        f"<tr><td>{e(i['incident_type'])}</td><td>{e(i['severity'])}</td>"
        f"<td>{i['start_s']:.1f}-{i['end_s']:.1f} s</td><td>{i['confidence']:.2f}</td>"
        f"<td>{e(i['review']['outcome'])}</td><td>"
        + (
            f'<a href="{e(i["video"]["url"])}">watch at {i["start_s"]:.0f} s</a>'
            if i["video"]["url"]
            else "no recording"
        )
        + "</td></tr>"
        for i in report["incidents"]
    )
    identity = (
        "".join(
            f"<li>{'verified' if v['verified'] else 'failed'} (similarity "
            f"{v['similarity_score'] if v['similarity_score'] is not None else 'n/a'}, liveness "
            f"{e(str(v['liveness']))}) at {e(str(v['verified_at']))}</li>"
            for v in report["identity_verifications"]
        )
        or "<li>no identity verification on record</li>"
    )
    actions = (
        "".join(
            f"<li>{e(str(a['created_at']))} {e(a['action_type'])} by {e(a['proctor_id'])}"
            f"{': ' + e(a['message']) if a['message'] else ''}</li>"
            for a in report["proctor_actions"]
        )
        or "<li>none</li>"
    )
    summary = report["summary"]
    risk = f"<p>Risk score {summary['risk_score']:.0f}/100</p>" if summary else ""
    return (
        "<!doctype html><meta charset='utf-8'>"
        f"<title>Report {e(s['session_id'])}</title>"
        f"<h1>Session {e(s['session_id'])}</h1>"
        f"<p>Exam {e(str(s['exam_id']))}, institution {e(s['institution_id'])}, "
        f"status {e(str(s['status']))}</p>{risk}"
        "<h2>Incidents</h2><table><tr><th>type</th><th>severity</th><th>video</th>"
        f"<th>confidence</th><th>review</th><th>recording</th></tr>{rows}</table>"
        f"<h2>Identity</h2><ul>{identity}</ul><h2>Proctor actions</h2><ul>{actions}</ul>"
    )


def _text(report: dict) -> str:
    s = report["session"]
    lines = [f"Session {s['session_id']} (exam {s['exam_id']}, {s['institution_id']})"]
    if report["summary"]:
        lines.append(f"Risk score {report['summary']['risk_score']:.0f}/100")
    for i in report["incidents"]:
        lines.append(
            f"  {i['start_s']:7.1f}-{i['end_s']:7.1f} s  {i['incident_type']:<18} "
            f"{i['severity']:<6} {i['review']['outcome']:<9} {i['video']['url'] or '-'}"
        )
    for v in report["identity_verifications"]:
        lines.append(f"Identity: {'verified' if v['verified'] else 'failed'} at {v['verified_at']}")
    for a in report["proctor_actions"]:
        lines.append(f"Action: {a['created_at']} {a['action_type']} by {a['proctor_id']}")
    return "\n".join(lines)


def render_report(settings: Settings, session_id: str, fmt: str = "text") -> str:
    """The report as ``json``, ``html`` or ``text`` (what ``proctorlake report`` prints)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; one of {FORMATS}")
    report = build_report(settings, session_id)
    if fmt == "json":
        return json.dumps(report, indent=2, default=str)
    return _html(report) if fmt == "html" else _text(report)
