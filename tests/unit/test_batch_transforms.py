"""Batch transforms on tiny inputs: session report rows (pure), incidents_for_session
(pandas) and the review service's own checks."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from models.faces import FaceBox
from models.temporal_rules import incident_id
from models.webcam import THUMBNAIL_SIZE, WebcamObservation
from proctorlake.core import schemas
from proctorlake.core.accommodations import Accommodation
from proctorlake.services.reviews import ReviewError, review_action_id, validate_review
from spark_jobs.observation_rows import SUPPRESSED_BY, incidents_for_session
from spark_jobs.session_reports import risk_score, summarize_session, verification_outcome

UTC = dt.UTC
AT = dt.datetime(2026, 1, 12, 9, tzinfo=UTC)


def _incident(severity: str, confidence: float = 1.0, resolution: str | None = None, **extra):
    return {
        "severity": severity,
        "confidence": confidence,
        "resolution": resolution,
        "incident_type": "gaze_away",
        **extra,
    }


# --- session reports ---------------------------------------------------------------------


def test_risk_weighs_severity_by_confidence():
    assert risk_score([_incident("high", 0.5), _incident("medium"), _incident("low")]) == 35.0


def test_a_confirmed_incident_counts_double_and_a_dismissed_one_not_at_all():
    assert risk_score([_incident("medium", resolution="confirmed")]) == 30.0
    assert risk_score([_incident("high", resolution="dismissed")]) == 0.0


def test_risk_is_capped_at_one_hundred():
    assert risk_score([_incident("high")] * 4) == 100.0
    assert risk_score([]) == 0.0


def test_the_latest_identity_check_decides():
    checks = [
        {"verified": False, "verified_at": AT, "similarity_score": 0.4},
        {"verified": True, "verified_at": AT + dt.timedelta(minutes=2), "similarity_score": 0.9},
    ]
    assert verification_outcome(checks) == ("verified", 0.9)
    assert verification_outcome(checks[:1]) == ("failed", 0.4)
    assert verification_outcome([]) == ("not_verified", None)


def test_a_session_report_row_counts_what_the_session_holds():
    session = {
        "session_id": "s-1",
        "institution_id": "u",
        "exam_id": "e",
        "status": "ended",
        "started_at": AT,
        "ended_at": AT,
        "session_date": "2026-01-12",
    }
    chunks = [
        {"track": "webcam", "chunk_end_ms": 300_000, "gap_before_ms": 0},
        {"track": "webcam", "chunk_end_ms": 540_000, "gap_before_ms": 4_000},
        {"track": "screen", "chunk_end_ms": 600_000, "gap_before_ms": None},
    ]
    incidents = [
        _incident("high", resolution="confirmed", incident_type="multiple_faces"),
        _incident("low"),
        _incident("medium", resolution="dismissed"),
    ]
    actions = [{"action_type": "message"}, {"action_type": "review"}, {"action_type": "message"}]
    row = summarize_session(session, chunks, 42, incidents, [], actions, AT)
    assert set(row) == set(schemas.SESSION_REPORTS.column_names)
    assert (row["recording_s"], row["chunks"], row["gaps"]) == (540.0, 3, 1)
    assert (row["incidents"], row["high_severity_incidents"]) == (3, 1)
    assert json.loads(row["incidents_by_type"]) == {"gaze_away": 2, "multiple_faces": 1}
    assert (row["confirmed"], row["dismissed"], row["pending_review"]) == (1, 1, 1)
    assert row["risk_score"] == 65.0
    assert row["verification_outcome"] == "not_verified"
    assert json.loads(row["actions_by_type"]) == {"message": 2, "review": 1}


# --- incidents_for_session (the applyInPandas body) -----------------------------------------


def _detection_rows(session_id: str, observations, started_at=None) -> pd.DataFrame:
    rows = [
        {
            "session_id": session_id,
            "institution_id": "u",
            "session_date": "2026-01-12",
            "track": "webcam",
            "detail": json.dumps(o.to_dict()),
            "session_started_at": started_at,
        }
        for o in observations
    ]
    return pd.DataFrame(rows)


def _two_faces(ts: float) -> WebcamObservation:
    boxes = (FaceBox(260, 100, 120, 120, 1.5), FaceBox(40, 120, 80, 80, 0.5))
    w, h = THUMBNAIL_SIZE
    return WebcamObservation(ts, 2, boxes, 0.0, 0.0, 2.0, 640, 480, bytes(w * h * 3))


def test_a_sessions_detection_rows_become_its_incident_rows_in_the_gold_schema():
    out = incidents_for_session(_detection_rows("s-1", [_two_faces(t) for t in range(20, 25)], AT))
    assert list(out.columns) == [*schemas.INCIDENTS.column_names, SUPPRESSED_BY]
    (row,) = out.to_dict("records")
    assert row[SUPPRESSED_BY] is None
    assert row["incident_id"] == incident_id("s-1", "multiple_faces", 20.0)
    assert (row["start_s"], row["end_s"], row["source"]) == (20.0, 25.0, "batch")
    assert row["started_at"] == AT + dt.timedelta(seconds=20)
    assert row["resolution"] is None and row["reviewed_by"] is None


def test_a_session_without_a_start_time_or_rows_still_gives_well_formed_output():
    out = incidents_for_session(_detection_rows("s-1", [_two_faces(t) for t in range(3)]))
    assert out["started_at"].tolist() == [None]
    empty = incidents_for_session(pd.DataFrame())
    assert empty.empty and list(empty.columns) == [*schemas.INCIDENTS.column_names, SUPPRESSED_BY]


def test_a_flag_the_students_accommodation_suppresses_says_why():
    rows = _detection_rows("s-1", [_two_faces(t) for t in range(20, 25)], AT)
    exempt = {"s-1": (Accommodation(("multiple_faces",)), ())}
    (row,) = incidents_for_session(rows, exempt).to_dict("records")
    assert row[SUPPRESSED_BY] == "exempt"
    longer = {"s-1": (Accommodation(min_duration_s={"multiple_faces": 6}), ())}
    (row,) = incidents_for_session(rows, longer).to_dict("records")
    assert row[SUPPRESSED_BY] == "threshold"
    other_session = {"s-2": (Accommodation(("multiple_faces",)), ())}
    (row,) = incidents_for_session(rows, other_session).to_dict("records")
    assert row[SUPPRESSED_BY] is None


# --- the review service's own checks --------------------------------------------------------


@pytest.mark.parametrize(
    ("resolution", "reviewer", "message"),
    [
        ("maybe", "alice", "resolution must be one of"),
        ("confirmed", "  ", "reviewer's name"),
        ("dismissed", "x" * 300, "reviewer's name"),
    ],
)
def test_a_review_is_refused_before_anything_is_read(resolution, reviewer, message):
    with pytest.raises(ReviewError, match=message):
        validate_review(resolution, reviewer)


def test_review_action_ids_are_stable_per_incident_and_time():
    assert review_action_id("i-1", AT) == review_action_id("i-1", AT)
    assert review_action_id("i-1", AT) != review_action_id("i-1", AT + dt.timedelta(seconds=1))
    assert review_action_id("i-1", AT) != review_action_id("i-2", AT)
