"""Screen frames through the real API, broker and screen detector worker (real OCR).

An exam screen, then ChatGPT in front for two frames, then the exam again: one
``unauthorized_app`` incident (high) reaches the live page while it is open and lands closed
in Delta; the body-text mention of ChatGPT on the news page does not count. The repeated
exam frames are the unchanged-screen shortcut's case: they must give the same result.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from models.screen_changes import screen_thumbnail, unchanged
from models.temporal_rules import incident_id
from proctorlake.samples.screen import ScreenSegment, render_screen
from proctorlake.storage import lake
from tests.fixtures.realtime import SseReader, bearer, encode_jpeg
from tests.fixtures.waiting import wait_until

SCREENS = ["exam", "exam", "chatgpt", "chatgpt", "exam", "news", "exam"]


def test_unchanged_screen_gate_tells_a_new_window_from_noise():
    exam = render_screen(ScreenSegment(1, "exam"), (1280, 720), seed=4)
    noisy = np.clip(
        exam.astype(np.int16) + np.random.default_rng(0).integers(-3, 4, exam.shape), 0, 255
    ).astype(np.uint8)
    chatgpt = render_screen(ScreenSegment(1, "chatgpt", "exam"), (1280, 720), seed=4)
    assert unchanged(screen_thumbnail(exam), screen_thumbnail(noisy))
    assert not unchanged(screen_thumbnail(exam), screen_thumbnail(chatgpt))


@pytest.mark.slow
def test_banned_window_on_screen_is_an_unauthorized_app_incident(private_realtime):
    rt = private_realtime
    api = rt.api
    rt.worker("lander")
    rt.worker("screens")
    session = api.create_session(student_id="stu-screen")
    sid = session["session_id"]
    live = SseReader(
        f"{api.base_url}/proctoring/live", {"token": api.staff_token("inst-a"), "severity": "high"}
    )
    live.next_event(lambda k, e: k == "ready")
    jpegs = {
        kind: encode_jpeg(render_screen(ScreenSegment(1, kind, "exam"), (1280, 720), seed=4), 85)
        for kind in set(SCREENS)
    }
    t0 = int(time.time() * 1000)
    headers = bearer(session["token"]) | {"Content-Type": "image/jpeg"}
    with api.client() as client:
        for i, kind in enumerate(SCREENS):
            response = client.post(
                session["endpoints"]["screen_frames"],
                content=jpegs[kind],
                headers=headers | {"X-Captured-At-Ms": str(t0 + i * 10_000)},
            )
            assert response.status_code == 202, response.text
    _, opened, _ = live.next_event(lambda k, e: k == "incident", timeout_s=120)
    assert (opened["incident_type"], opened["severity"], opened["state"]) == (
        "unauthorized_app",
        "high",
        "opened",
    )
    assert opened["incident_id"] == incident_id(sid, "unauthorized_app", 20.0)
    live.close()

    def session_rows(table: str) -> list[dict]:
        try:
            rows = lake.read_table(api.settings, table).to_pylist()
        except Exception:  # the lander has not created the table yet
            return []
        return [r for r in rows if r["session_id"] == sid]

    def landed():
        rows = session_rows("stream_incidents")
        return rows if rows and all(r["state"] == "closed" for r in rows) else None

    rows = wait_until(
        landed, 120, lambda: f"the incident landed closed: {session_rows('stream_incidents')}"
    )
    assert [(r["incident_type"], r["start_s"], r["end_s"]) for r in rows] == [
        ("unauthorized_app", 20.0, 40.0)
    ]
    # Detections and incidents are separate topics: the closed incident may land a
    # micro-batch before the detections of the last frames.
    wait_until(
        lambda: len(session_rows("stream_detections")) >= len(SCREENS),
        60,
        lambda: f"{len(SCREENS)} detections landed: {session_rows('stream_detections')}",
    )
    detections = sorted((r["frame_ts"], r["detail"]) for r in session_rows("stream_detections"))
    assert [ts for ts, _ in detections] == [10.0 * i for i in range(len(SCREENS))]
    banned = [ts for ts, detail in detections if '"ChatGPT"' in detail]
    assert banned == [20.0, 30.0]
