"""End to end in headless Chromium, with the client-side recording fallback (``recording:
client``): the exam page streams a real-face camera, the proctor page sees the second person,
messages the student and ends the session."""

from __future__ import annotations

import json

import pytest

from proctorlake.core.settings import REPO_ROOT
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames
from proctorlake.storage import lake
from tests.fixtures.realtime import Chromium, write_y4m

ARTIFACTS = REPO_ROOT / ".artifacts" / "realtime_browser"
CAMERA = WebcamScript((Segment("present", 12.0), Segment("second_person", 28.0)))


@pytest.mark.slow
def test_exam_and_proctor_pages_in_chromium(realtime_api, realtime_workers, tmp_path):
    api = realtime_api
    video = write_y4m(tmp_path / "camera.y4m", render_webcam_frames(CAMERA, seed=5, fps=5), 5)
    # The browser's own recording and frames (the fallback for networks that block WebRTC);
    # the gateway path is tests/test_media_gateway.py.
    session = api.create_session(student_id="stu-browser", policy={"recording": "client"})
    sid = session["session_id"]
    proctor_token = api.staff_token("inst-a", subject="proctor-browser")
    browser = Chromium(tmp_path / "profile", video, tmp_path / "chromium.log")
    try:
        exam = browser.open(f"{api.base_url}/exam#session={sid}&token={session['token']}")
        exam.wait_for("Number(document.getElementById('frames-sent').textContent) >= 3", 60)

        proctor = browser.open(f"{api.base_url}/proctor#token={proctor_token}")
        card = f"document.querySelector('.card[data-session-id=\"{sid}\"]')"
        proctor.wait_for(f"{card} !== null", 30)
        proctor.wait_for(f"['medium','high'].includes({card}.dataset.severity)", 120)
        proctor.evaluate(f"{card}.click()")
        proctor.wait_for("document.querySelector('#timeline .incident') !== null", 20)
        timeline = proctor.evaluate("document.getElementById('timeline').textContent")
        assert "multiple_faces" in timeline
        proctor.wait_for(f"{card}.querySelector('img').naturalWidth > 0", 20)

        proctor.evaluate(
            "document.getElementById('chat-text').value = 'Please stay alone in the room';"
            "document.querySelector('#chat button').click()"
        )
        exam.wait_for("!document.getElementById('overlay').hidden", 30)
        assert exam.evaluate("document.getElementById('overlay-text').textContent") == (
            "Please stay alone in the room"
        )
        exam.screenshot(ARTIFACTS / "exam_page_message.png")
        proctor.screenshot(ARTIFACTS / "proctor_page_incident.png")

        proctor.evaluate("document.getElementById('end-session').click()")
        exam.wait_for("!document.getElementById('ended').hidden", 30)
        exam.screenshot(ARTIFACTS / "exam_page_ended.png")
        stored = exam.evaluate("Number(document.getElementById('segments-stored').textContent)")
        exam.close()
        proctor.close()
    finally:
        browser.close()

    with api.client() as client:
        staff = {"Authorization": f"Bearer {proctor_token}"}
        info = client.get(f"/sessions/{sid}", headers=staff).json()
        # ending the session revoked the student's link
        revoked = client.get(
            f"/sessions/{sid}", headers={"Authorization": f"Bearer {session['token']}"}
        )
    assert info["status"] == "terminated"
    assert revoked.status_code == 409 and "revoked" in revoked.json()["detail"]
    actions = [
        (r["action_type"], r["proctor_id"])
        for r in lake.read_table(api.settings, "proctor_actions").to_pylist()
        if r["session_id"] == sid
    ]
    assert sorted(actions) == [("end_session", "proctor-browser"), ("message", "proctor-browser")]
    from proctorlake.storage.object_store import manifest_key, open_object_store

    if stored:
        manifest = json.loads(open_object_store(api.settings).get_bytes(manifest_key(sid)))
        assert manifest["chunks"][0]["original_key"].endswith(".webm")
