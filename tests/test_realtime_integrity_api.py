"""``POST /sessions/{id}/integrity`` over real HTTP, broker and workers: bounds, the exam
policy's own thresholds, landing in Delta and erasure of the landed rows."""

from __future__ import annotations

import time

import pytest

from proctorlake.storage import lake
from realtime.api.client_clock import MAX_CLOCK_SKEW_MS
from tests.fixtures.realtime import bearer
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.slow


def _post(client, session, events):
    return client.post(
        session["endpoints"]["integrity"], json={"events": events}, headers=bearer(session["token"])
    )


def _start(client, session) -> int:
    started = client.post(
        session["endpoints"]["start"], json={}, headers=bearer(session["token"])
    ).json()
    return int(time.time() * 1000) if started["started_at"] is None else _ms(started["started_at"])


def _ms(iso: str) -> int:
    import datetime as dt

    return int(dt.datetime.fromisoformat(iso).timestamp() * 1000)


def test_only_the_sessions_exam_client_reports_bounded_plausible_events(realtime_api) -> None:
    api = realtime_api
    session = api.create_session(student_id="stu-bounds")
    now = int(time.time() * 1000)
    paste = {"kind": "paste", "occurred_at_ms": now}
    with api.client() as client:
        assert _post(client, session, [paste]).status_code == 409  # not started yet
        _start(client, session)
        staff = client.post(
            session["endpoints"]["integrity"],
            json={"events": [paste]},
            headers=bearer(api.staff_token("inst-a")),
        )
        assert staff.status_code == 403
        assert _post(client, session, [paste] * 51).status_code == 422
        assert _post(client, session, []).status_code == 422
        assert _post(client, session, [{**paste, "kind": "clipboard_text"}]).status_code == 422
        ahead = {**paste, "occurred_at_ms": now + MAX_CLOCK_SKEW_MS + 60_000}
        refused = _post(client, session, [ahead])
        assert refused.status_code == 422 and "ahead" in refused.json()["detail"]
        accepted = _post(client, session, [paste, {**paste, "kind": "copy"}])
        assert accepted.status_code == 202 and accepted.json()["published"] == 2
        client.post(session["endpoints"]["session"] + "/end", headers=bearer(session["token"]))
        assert _post(client, session, [paste]).status_code in (401, 409)


def test_each_exams_thresholds_decide_and_erasure_removes_the_landed_events(
    realtime_api, realtime_workers
) -> None:
    api = realtime_api
    strict = api.create_session(
        student_id="stu-strict", policy={"integrity": {"left_window_min_s": 2}}
    )
    lenient = api.create_session(student_id="stu-lenient")
    proctor = bearer(api.staff_token("inst-a"))
    with api.client() as client:
        for session in (strict, lenient):
            t0 = _start(client, session)
            away = [
                {"kind": "page_hidden", "phase": "start", "occurred_at_ms": t0 + 1000},
                {"kind": "page_hidden", "phase": "end", "occurred_at_ms": t0 + 4000},
                {"kind": "paste", "occurred_at_ms": t0 + 5000},
            ]
            assert _post(client, session, away).status_code == 202

        def incidents(session) -> dict[str, dict]:
            url = f"/proctoring/sessions/{session['session_id']}/incidents"
            return {i["incident_type"]: i for i in client.get(url, headers=proctor).json()}

        flagged = wait_until(
            lambda: found if len(found := incidents(strict)) == 2 else None, 60, "two incidents"
        )
        assert flagged["left_exam_window"]["start_s"] == pytest.approx(1.0, abs=0.01)
        assert flagged["left_exam_window"]["end_s"] == pytest.approx(4.0, abs=0.01)
        assert flagged["paste_detected"]["severity"] == "medium"
        wait_until(lambda: "paste_detected" in incidents(lenient), 60, "lenient paste")
        assert set(incidents(lenient)) == {"paste_detected"}  # 3 s away is under the default 5 s

        def landed(session_id: str) -> int:
            rows = lake.read_table(api.settings, "integrity_events").to_pylist()
            return sum(r["session_id"] == session_id for r in rows)

        wait_until(lambda: landed(strict["session_id"]) == 3, 60, "landed integrity events")
        admin = bearer(api.staff_token("inst-a", "admin"))
        erased = client.delete(f"/sessions/{strict['session_id']}/data", headers=admin)
        assert erased.status_code == 200, erased.text
    assert landed(strict["session_id"]) == 0
    assert landed(lenient["session_id"]) == 3
