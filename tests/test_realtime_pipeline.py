"""Frames from real faces through the real broker, detector worker, lander and live stream."""

from __future__ import annotations

import time

import pytest

from models.temporal_rules import incident_id
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames
from proctorlake.storage import lake
from tests.fixtures.realtime import SseReader, bearer, encode_jpeg
from tests.fixtures.waiting import wait_until

SCRIPT = WebcamScript(
    (Segment("present", 12.0), Segment("second_person", 8.0), Segment("present", 5.0))
)


@pytest.fixture(scope="module")
def exam_frames() -> list[bytes]:
    """25 one-per-second JPEGs: one person, a second person from 12 s to 20 s, one again."""
    return [encode_jpeg(f) for f in render_webcam_frames(SCRIPT, seed=3, fps=1)]


def send_frames(api, session: dict, frames: list[bytes], t0_ms: int, first: int = 0) -> None:
    headers = bearer(session["token"]) | {"Content-Type": "image/jpeg"}
    with api.client() as client:
        for i, jpeg in enumerate(frames[first:], start=first):
            response = client.post(
                session["endpoints"]["webcam_frames"],
                content=jpeg,
                headers=headers | {"X-Captured-At-Ms": str(t0_ms + i * 1000)},
            )
            assert response.status_code == 202, response.text


def session_rows(settings, table: str, session_id: str) -> list[dict]:
    try:
        rows = lake.read_table(settings, table).to_pylist()
    except Exception:  # the lander has not created the table yet
        return []
    return [r for r in rows if r["session_id"] == session_id]


def wait_for_rows(settings, table: str, session_id: str, count: int, timeout_s: float = 60):
    def enough() -> list[dict] | None:
        rows = session_rows(settings, table, session_id)
        return rows if len(rows) >= count else None

    def shown() -> str:
        return f"{count} {table} rows for {session_id}: {session_rows(settings, table, session_id)}"

    return wait_until(enough, timeout_s, shown)


@pytest.mark.slow
def test_second_person_reaches_the_live_page_and_lands_in_delta(
    realtime_api, realtime_workers, exam_frames
):
    api = realtime_api
    session = api.create_session()
    sid = session["session_id"]
    live = SseReader(
        f"{api.base_url}/proctoring/live",
        {"token": api.staff_token("inst-a"), "severity": "medium"},
    )
    live.next_event(lambda k, e: k == "ready")
    t0 = int(time.time() * 1000)
    send_frames(api, session, exam_frames, t0)
    _, opened, _ = live.next_event(
        lambda k, e: k == "incident" and e["session_id"] == sid, timeout_s=90
    )
    assert opened["incident_type"] == "multiple_faces"
    assert opened["state"] == "opened"
    assert 11.0 <= opened["start_s"] <= 14.0
    assert opened["incident_id"] == incident_id(sid, "multiple_faces", opened["start_s"])
    live.close()

    detections = wait_for_rows(api.settings, "stream_detections", sid, len(exam_frames))
    counts = [r["face_count"] for r in sorted(detections, key=lambda r: r["frame_ts"])]
    assert counts[:11] == [1] * 11 and counts[-3:] == [1, 1, 1]
    assert sum(c == 2 for c in counts) >= 6

    def all_closed() -> list[dict] | None:  # the closing event lands after the opening one
        rows = session_rows(api.settings, "stream_incidents", sid)
        return rows if rows and all(r["state"] == "closed" for r in rows) else None

    incidents = wait_until(
        all_closed,
        60,
        lambda: f"closed incidents of {sid}: {session_rows(api.settings, 'stream_incidents', sid)}",
    )
    assert [(r["incident_id"], r["incident_type"], r["state"]) for r in incidents] == [
        (opened["incident_id"], "multiple_faces", "closed")
    ]
    assert incidents[0]["review_status"] == "pending"
    assert 19.0 <= incidents[0]["end_s"] <= 21.0


@pytest.mark.slow
def test_policy_extreme_incident_ends_the_session_automatically(
    realtime_api, realtime_workers, exam_frames
):
    api = realtime_api
    session = api.create_session(policy={"extreme_incident_types": ["multiple_faces"]})
    sid = session["session_id"]
    events = SseReader(f"{api.base_url}/sessions/{sid}/events", {"token": session["token"]})
    events.next_event(lambda k, e: k == "status")
    send_frames(api, session, exam_frames[:17], int(time.time() * 1000))
    _, action, _ = events.next_event(lambda k, e: k == "action", timeout_s=90)
    assert (action["action_type"], action["proctor_id"]) == ("end_session", "policy:auto")
    with api.client() as client:
        # the student's token was revoked when the session ended; staff still see it
        state = client.get(f"/sessions/{sid}", headers=bearer(api.staff_token("inst-a"))).json()
    assert state["status"] == "terminated"
    rows = wait_for_rows(api.settings, "proctor_actions", sid, 1)
    assert [(r["action_type"], r["proctor_id"]) for r in rows] == [("end_session", "policy:auto")]
