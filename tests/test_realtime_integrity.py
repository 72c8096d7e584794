"""Integrity events end to end in headless Chromium: the student switches tabs for a while and
pastes once on the exam page; the proctor (another browser) sees ``left_exam_window`` while the
student is still away and ``paste_detected`` right after; both land in Delta, and after the
batch they are in the session's report. The recording carries the microphone track, and the
batch hears the speech on it (``talking``)."""

from __future__ import annotations

import pytest

from proctorlake.samples import Segment, WebcamScript, render_webcam_frames
from proctorlake.samples.audio import room_track, speech, with_speech, write_wav
from proctorlake.services.ingest import ingest_uploaded_segments
from proctorlake.services.reports import build_report
from proctorlake.storage import lake
from proctorlake.storage.object_store import open_object_store
from proctorlake.storage.video import read_audio
from spark_jobs.analyze_sessions import analyze_sessions
from tests.fixtures.realtime import Chromium, write_y4m
from tests.fixtures.waiting import wait_until

CAMERA = WebcamScript((Segment("present", 20.0),))


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


@pytest.mark.slow
def test_tab_switch_and_paste_reach_the_proctor_live_and_the_report(
    realtime_api, realtime_workers, spark, tmp_path
):
    api = realtime_api
    video = write_y4m(tmp_path / "camera.y4m", render_webcam_frames(CAMERA, seed=7, fps=5), 5)
    microphone = write_wav(tmp_path / "mic.wav", with_speech(room_track(12.0), speech(), 1.0))
    # The page's own recording (the fallback): this test has no media gateway running, and the
    # uploaded segments are where the microphone track is checked.
    session = api.create_session(student_id="stu-integrity", policy={"recording": "client"})
    sid = session["session_id"]
    proctor_token = api.staff_token("inst-a", subject="proctor-integrity")
    # Two browsers: the proctor's page is on another machine, so it never takes the exam
    # window's focus.
    student = Chromium(tmp_path / "student", video, tmp_path / "student.log", audio=microphone)
    proctor_browser = Chromium(tmp_path / "proctor", video, tmp_path / "proctor.log")
    try:
        exam = student.open(f"{api.base_url}/exam#session={sid}&token={session['token']}")
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
