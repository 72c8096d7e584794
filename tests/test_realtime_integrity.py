"""Issue 16 end to end in headless Chromium, one student from check-in to report.

The student checks in on a fake camera (an ID card held up, then a real face that blinks and
turns: ``tests/fixtures/checkin_camera.py``) and a fake microphone (espeak-ng reading a text):
system check, consent, and identity with liveness against the roster's name and ID number.
Then the exam: they switch tabs for a while and paste once; the proctor (another browser) sees
``left_exam_window`` while the student is still away and ``paste_detected`` right after; both
land in Delta, and after the batch they are in the session's report with video timestamps,
beside ``talking`` heard on the recording's microphone track.
"""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pytest

from proctorlake.samples.audio import room_track, speech, with_speech, write_wav
from proctorlake.services.ingest import ingest_uploaded_segments
from proctorlake.services.reports import build_report
from proctorlake.storage import lake
from proctorlake.storage.object_store import open_object_store
from proctorlake.storage.video import read_audio
from spark_jobs.analyze_sessions import analyze_sessions
from tests.fixtures.checkin_camera import (
    CARD_MARK,
    FACE_MARK,
    FPS,
    ID_NUMBER,
    NAME,
    checkin_camera_frames,
    marker_js,
)
from tests.fixtures.realtime import Chromium, write_y4m
from tests.fixtures.waiting import wait_until


def _timeline_has(incident_type: str, *states: str) -> str:
    """JS: the proctor's timeline lists an incident of this type (in one of these states)."""
    endings = " || ".join(f"li.textContent.endsWith('{state}')" for state in states or ("",))
    return (
        "[...document.querySelectorAll('#timeline .incident')].some((li) => "
        f"li.textContent.startsWith('{incident_type} ') && ({endings}))"
    )


def _press_ctrl_v(page) -> None:
    """A real key press through Chromium's input pipeline (the paste command fires ``paste``)."""
    key = {"key": "v", "code": "KeyV", "modifiers": 2, "windowsVirtualKeyCode": 86}
    page.send("Input.dispatchKeyEvent", type="keyDown", commands=["paste"], **key)
    page.send("Input.dispatchKeyEvent", type="keyUp", **key)


def _check_in(page) -> None:
    """System check, consent, then the ID card and the selfie with its liveness burst, each
    captured while the fake camera shows it."""
    page.wait_for("document.getElementById('notice').textContent.length > 0", 60)
    assert page.evaluate("document.getElementById('expected-name').textContent") == NAME
    page.evaluate("document.getElementById('system-run').click()")
    page.wait_for("!document.getElementById('system-continue').hidden", 90)
    page.evaluate("document.getElementById('system-continue').click()")
    page.wait_for("!document.getElementById('step-consent').hidden", 10)
    page.evaluate("document.getElementById('consent-read').click()")
    page.evaluate("document.getElementById('consent-accept').click()")
    page.wait_for("!document.getElementById('step-identity').hidden", 20)
    page.wait_for(marker_js("preview", CARD_MARK), 60)
    page.evaluate("document.getElementById('id-capture').click()")
    page.wait_for("!document.getElementById('selfie-capture').disabled", 10)
    page.wait_for(marker_js("preview", FACE_MARK), 60)
    page.evaluate("document.getElementById('selfie-capture').click()")
    page.wait_for(
        "!document.getElementById('step-done').hidden || "
        "document.getElementById('identity-error').textContent !== ''",
        240,
    )
    assert page.evaluate("document.getElementById('identity-error').textContent") == ""
    assert page.evaluate("document.getElementById('done-text').textContent") == (
        "Check-in complete."
    )


def _checkin_steps(settings, session_id: str) -> list[tuple[str, str]]:
    rows = lake.read_table(settings, "checkin_events").filter(pc.field("session_id") == session_id)
    return [(r["step"], r["outcome"]) for r in sorted(rows.to_pylist(), key=lambda r: r["at"])]


@pytest.mark.slow
def test_check_in_then_tab_switch_and_paste_reach_the_proctor_live_and_the_report(
    realtime_api, realtime_workers, spark, tmp_path
):
    api = realtime_api
    video = write_y4m(tmp_path / "camera.y4m", checkin_camera_frames(), FPS)
    microphone = write_wav(tmp_path / "mic.wav", with_speech(room_track(12.0), speech(), 1.0))
    # The page's own recording (the fallback): this test has no media gateway running, and the
    # uploaded segments are where the microphone track is checked.
    session = api.create_session(
        student_id="stu-integrity",
        student_name=NAME,
        student_id_number=ID_NUMBER,
        policy={"recording": "client"},
    )
    sid = session["session_id"]
    proctor_token = api.staff_token("inst-a", subject="proctor-integrity")
    # Two browsers: the proctor's page is on another machine, so it never takes the exam
    # window's focus.
    student = Chromium(tmp_path / "student", video, tmp_path / "student.log", audio=microphone)
    proctor_browser = Chromium(tmp_path / "proctor", video, tmp_path / "proctor.log")
    try:
        checkin = student.open(f"{api.base_url}/checkin#session={sid}&token={session['token']}")
        _check_in(checkin)
        exam_url = checkin.evaluate("document.getElementById('start-exam').href")
        checkin.close()
        assert _checkin_steps(api.settings, sid) == [
            ("camera", "passed"),
            ("microphone", "passed"),
            ("screen", "passed"),
            ("bandwidth", "passed"),
            ("consent", "accepted"),
            ("identity", "passed"),
        ]

        exam = student.open(exam_url)
        exam.wait_for(
            "Number(document.getElementById('frames-sent').textContent) >= 2 && "
            "Number(document.getElementById('integrity-sent').textContent) >= 1",
            60,
        )
        proctor = proctor_browser.open(f"{api.base_url}/proctor#token={proctor_token}")
        card = f"document.querySelector('.card[data-session-id=\"{sid}\"]')"
        proctor.wait_for(f"{card} !== null", 30)
        proctor.evaluate(f"{card}.click()")

        elsewhere = student.open("about:blank")  # the student switches to another tab
        exam.wait_for("document.visibilityState === 'hidden'", 10)
        # While the student is still away the incident is open: "opened", or already "updated"
        # when a busy worker handled the page's next "still" before the proctor's page looked.
        proctor.wait_for(_timeline_has("left_exam_window", "opened", "updated"), 60)
        exam.send("Page.bringToFront")
        exam.wait_for("document.visibilityState === 'visible'", 10)
        proctor.wait_for(_timeline_has("left_exam_window", "closed"), 30)

        _press_ctrl_v(exam)
        proctor.wait_for(_timeline_has("paste_detected"), 30)
        away = proctor.evaluate(
            "[...document.querySelectorAll('#timeline .incident')].map((li) => li.textContent)"
            ".find((t) => t.startsWith('left_exam_window'))"
        )
        start_s, end_s = (float(x) for x in away.split()[1].split("–"))
        assert end_s - start_s >= 5.0 and "medium" in away

        exam.evaluate("document.getElementById('hand-in').click()")
        exam.wait_for("!document.getElementById('ended').hidden", 60)
        elsewhere.close()
        exam.close()
        proctor.close()
    finally:
        student.close()
        proctor_browser.close()

    settings = api.settings
    landed = wait_until(
        lambda: (
            {
                r["kind"]
                for r in lake.read_table(settings, "integrity_events").to_pylist()
                if r["session_id"] == sid
            }
            >= {"page_hidden", "paste"}
        ),
        60,
        "the page's integrity events in Delta",
    )
    assert landed

    manifest_chunks = ingest_uploaded_segments(settings, sid)
    assert manifest_chunks >= 1
    original = next(
        r["original_key"]
        for r in lake.read_table(settings, "media_chunks").to_pylist()
        if r["session_id"] == sid and r["track"] == "webcam"
    )
    segment = tmp_path / "segment.webm"
    segment.write_bytes(open_object_store(settings).get_bytes(original))
    audio = read_audio(segment)
    assert audio is not None and len(audio) > 16000  # the microphone is in the recording

    analyze_sessions(spark, settings, [sid])
    report = build_report(settings, sid)
    found = {i["incident_type"]: i for i in report["incidents"]}
    assert {"left_exam_window", "paste_detected"} <= set(found)
    assert found["left_exam_window"]["end_s"] - found["left_exam_window"]["start_s"] >= 5.0
    assert found["talking"]["severity"] == "low"  # the fake microphone reads a text aloud
    for incident_type in ("left_exam_window", "paste_detected", "talking"):
        incident = found[incident_type]  # where to look in the recording, and a link to it
        assert 0 <= incident["start_s"] <= incident["end_s"], incident
        assert incident["video"], incident
    (verification,) = report["identity_verifications"]
    assert verification["verified"] is True and verification["signed"] is True
    assert json.loads(verification["liveness"])["passed"] is True
