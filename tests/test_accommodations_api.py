"""Accommodations over real HTTP: an admin sets them (audited), the student takes the breaks
they allow, and the proctor page lists only the incidents they do not suppress.

Realtime incidents are read back from Delta (``stream_incidents``, as the topic lander
writes them), so the test needs no detector: the API's policy is what is under test.
"""

from __future__ import annotations

import datetime as dt

import pyarrow.compute as pc
import pytest

from proctorlake.core import schemas
from proctorlake.storage import lake
from tests.fixtures.realtime import bearer

ACCOMMODATION = {
    "exempt_incident_types": ["gaze_away"],
    "breaks_allowed": 1,
    "break_max_s": 300,
    "min_duration_s": {"multiple_faces": 15},
}


def _stream_incident(session: dict, kind: str, start_s: float, end_s: float) -> dict:
    return {
        "incident_id": f"{session['session_id']}-{kind}-{start_s:.0f}",
        "session_id": session["session_id"],
        "institution_id": "inst-a",
        "incident_type": kind,
        "severity": "high",
        "confidence": 0.9,
        "start_s": start_s,
        "end_s": end_s,
        "state": "closed",
        "review_status": "pending",
        "event_at": dt.datetime.now(dt.UTC),
        "session_date": dt.datetime.now(dt.UTC).date().isoformat(),
    }


@pytest.mark.slow
def test_accommodations_are_set_audited_and_suppress_the_students_incidents(realtime_api):
    api = realtime_api
    admin = api.staff_token("inst-a", "admin", "admin-ada")
    proctor = api.staff_token("inst-a", "proctor", "proctor-pat")
    helped = api.create_session("inst-a", student_id="stu-helped")
    plain = api.create_session("inst-a", student_id="stu-plain")
    path = "/accommodations/exam-1/students/stu-helped"

    with api.client() as client:
        refused = client.put(path, json=ACCOMMODATION, headers=bearer(proctor))
        assert refused.status_code == 403, refused.text
        bad = client.put(
            path, json={"exempt_incident_types": ["stream_gap"]}, headers=bearer(admin)
        )
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"] == "application/problem+json"
        assert "stream_gap" in bad.json()["detail"]
        saved = client.put(path, json=ACCOMMODATION, headers=bearer(admin))
        assert saved.status_code == 200, saved.text
        status = client.get(path, headers=bearer(admin)).json()
    assert status["current"] == {**ACCOMMODATION, "break_max_s": 300.0}
    (change,) = status["history"]
    assert change["set_by"] == "admin-ada"
    stored = lake.read_table(api.settings, schemas.ACCOMMODATIONS.name).to_pylist()
    assert [r["set_by"] for r in stored] == ["admin-ada"]
    assert "stu-helped" not in str(stored)  # the student is stored as erasure's keyed hash

    student = bearer(helped["token"])
    sid = helped["session_id"]
    with api.client() as client:
        started = client.post(f"/sessions/{sid}/start", json={}, headers=student).json()
        client.post(
            f"/sessions/{plain['session_id']}/start", json={}, headers=bearer(plain["token"])
        )
        assert client.get(f"/sessions/{sid}/breaks", headers=student).json()["breaks_allowed"] == 1
        assert client.post(f"/sessions/{sid}/breaks", headers=bearer(proctor)).status_code == 403
        none_left = client.post(
            f"/sessions/{plain['session_id']}/breaks", headers=bearer(plain["token"])
        )
        assert none_left.status_code == 422, none_left.text
        on_break = client.post(f"/sessions/{sid}/breaks", headers=student)
        assert on_break.status_code == 201, on_break.text
        assert on_break.json()["on_break"] is True
        assert client.post(f"/sessions/{sid}/breaks", headers=student).status_code == 422
        back = client.post(f"/sessions/{sid}/breaks/end", headers=student).json()
        assert (back["on_break"], back["breaks_taken"]) == (False, 1)
        again = client.post(f"/sessions/{sid}/breaks", headers=student)
        assert again.status_code == 422 and "no break left" in again.json()["detail"]

    (row,) = (
        lake.read_table(api.settings, schemas.SESSION_BREAKS.name)
        .filter(pc.field("session_id") == sid)
        .to_pylist()
    )
    origin = dt.datetime.fromisoformat(started["started_at"])
    on_break_s = (row["started_at"] - origin).total_seconds()
    for session in (helped, plain):
        lake.append_rows(
            api.settings,
            schemas.STREAM_INCIDENTS,
            [
                _stream_incident(session, "gaze_away", 100, 130),  # exempt
                _stream_incident(session, "multiple_faces", 200, 210),  # under 15 s
                _stream_incident(session, "multiple_faces", 300, 330),  # raised
                _stream_incident(session, "face_not_visible", on_break_s + 1, on_break_s + 6),
            ],
        )

    def listed(session: dict) -> list[tuple[str, float]]:
        with api.client() as client:
            response = client.get(
                f"/proctoring/sessions/{session['session_id']}/incidents", headers=bearer(proctor)
            )
        assert response.status_code == 200, response.text
        return sorted((i["incident_type"], i["start_s"]) for i in response.json())

    assert listed(helped) == [("multiple_faces", 300)]
    assert [kind for kind, _ in listed(plain)] == [
        "face_not_visible",
        "gaze_away",
        "multiple_faces",
        "multiple_faces",
    ]
