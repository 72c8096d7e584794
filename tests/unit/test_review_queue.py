"""The review queue's score and reasons on tiny inputs (pure functions)."""

from __future__ import annotations

from proctorlake.services.review_queue import QueueEntry, explain, rank_sessions, session_score


def _incident(session: str, kind: str, severity: str, start: float, end: float, **extra) -> dict:
    return {
        "session_id": session,
        "incident_type": kind,
        "severity": severity,
        "confidence": extra.pop("confidence", 1.0),
        "start_s": start,
        "end_s": end,
        "resolution": extra.pop("resolution", None),
    }


def test_reasons_list_unreviewed_incidents_by_severity_with_their_length() -> None:
    incidents = [
        _incident("a", "unauthorized_app", "high", 100, 140),
        _incident("a", "gaze_away", "medium", 50, 59),
        _incident("a", "multiple_faces", "high", 10, 24),
    ]
    assert explain(incidents) == (
        "2 high: multiple_faces 14 s, unauthorized_app 40 s; 1 medium: gaze_away 9 s"
    )


def test_the_score_weighs_severity_and_confidence_and_skips_decided_incidents() -> None:
    incidents = [
        _incident("a", "multiple_faces", "high", 0, 5, confidence=0.5),  # 15
        _incident("a", "gaze_away", "low", 0, 5),  # 5
        _incident("a", "face_not_visible", "high", 0, 5, resolution="dismissed"),  # decided
    ]
    assert session_score(incidents) == 20.0


def test_sessions_rank_by_score_and_decided_sessions_leave_the_queue() -> None:
    incidents = [
        _incident("low", "gaze_away", "medium", 0, 9),
        _incident("top", "multiple_faces", "high", 0, 14),
        _incident("top", "gaze_away", "low", 20, 30),
        _incident("done", "multiple_faces", "high", 0, 14, resolution="confirmed"),
        _incident("tie", "gaze_away", "medium", 5, 10),
    ]
    assert rank_sessions(incidents) == [
        QueueEntry("top", 35.0, 2, "1 high: multiple_faces 14 s; 1 low: gaze_away 10 s"),
        QueueEntry("low", 15.0, 1, "1 medium: gaze_away 9 s"),
        QueueEntry("tie", 15.0, 1, "1 medium: gaze_away 5 s"),
    ]
