"""Findings #2, #4, #5 and #6 over real HTTP: the API refuses each as a clear 4xx problem."""

from __future__ import annotations

import json
import time

import av  # noqa: F401  (imported before anything that may import decord)
import numpy as np
import pytest

from proctorlake.storage.object_store import manifest_key, open_object_store
from proctorlake.storage.video import write_video
from realtime.api.client_clock import MAX_CLOCK_SKEW_MS
from tests.fixtures.realtime import bearer, jpeg_bytes
from tests.test_image_bounds import jpeg_declaring
from tests.test_recording_bounds import webm_with_timestamps

pytestmark = pytest.mark.slow

PROBLEM = "application/problem+json"


def _assert_problem(response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert words in response.json()["detail"], response.json()


def _frame(client, session, jpeg: bytes, captured_at_ms: int | None = None):
    headers = bearer(session["token"]) | {"Content-Type": "image/jpeg"}
    if captured_at_ms is not None:
        headers["X-Captured-At-Ms"] = str(captured_at_ms)
    return client.post(session["endpoints"]["webcam_frames"], content=jpeg, headers=headers)


def test_issue2_api_refuses_dot_ids(realtime_api) -> None:
    api = realtime_api
    admin = bearer(api.staff_token("inst-a", "admin"))
    body = {"exam_id": "exam-1", "student_id": "stu-1", "institution_id": "inst-a"}
    with api.client() as client:
        for field in ("student_id", "exam_id"):
            for bad in ("..", ".", "a/b", ".hidden"):
                refused = client.post("/sessions", json=body | {field: bad}, headers=admin)
                _assert_problem(refused, 422, field)
        _assert_problem(client.delete("/sessions/%2E%2E/data", headers=admin), 400, "malformed")
    assert not open_object_store(api.settings).exists("manifest.json")


def test_issue4_api_refuses_a_million_second_segment_fast(realtime_api, tmp_path) -> None:
    api = realtime_api
    session = api.create_session()
    url = session["endpoints"]["webcam_chunks"]
    auth = bearer(session["token"]) | {"Content-Type": "video/webm"}
    frames = [np.full((32, 32, 3), 70, np.uint8)] * 5
    good = write_video(tmp_path / "seg.webm", frames, 5, codec="libvpx").read_bytes()
    with api.client() as client:
        kept = client.post(
            url, content=good, headers=auth, params={"chunk_start_ms": 0, "chunk_end_ms": 1000}
        )
        assert kept.status_code == 201, kept.text
        started = time.monotonic()
        bomb = webm_with_timestamps([0, 1_000_000_000])
        params = {"chunk_start_ms": 10_000, "chunk_end_ms": 20_000}
        _assert_problem(client.post(url, content=bomb, headers=auth, params=params), 422, "jump")
        assert time.monotonic() - started < 3.0
        too_long = {"chunk_start_ms": 10_000, "chunk_end_ms": 10_000 + 3600_000}
        _assert_problem(client.post(url, content=good, headers=auth, params=too_long), 422, "span")
        garbage = b"\x1a\x45\xdf\xa3" + b"\x00" * 64
        _assert_problem(
            client.post(url, content=garbage, headers=auth, params=params), 422, "not a readable"
        )
    manifest = json.loads(
        open_object_store(api.settings).get_bytes(manifest_key(session["session_id"]))
    )
    assert [c["chunk_start_ms"] for c in manifest["chunks"]] == [0]  # the stored one is kept


def test_issue5_api_refuses_a_frame_declaring_60000_squared(realtime_api) -> None:
    api = realtime_api
    session = api.create_session()
    with api.client() as client:
        _assert_problem(_frame(client, session, jpeg_declaring(60000, 60000)), 413, "pixels")
        assert _frame(client, session, jpeg_bytes()).status_code == 202


def test_issue6_capture_times_far_from_the_server_clock_are_refused(realtime_api) -> None:
    api = realtime_api
    session = api.create_session()
    jpeg = jpeg_bytes()
    now_ms = int(time.time() * 1000)
    ten_years_ms = 10 * 365 * 24 * 3600 * 1000
    with api.client() as client:
        _assert_problem(
            _frame(client, session, jpeg, now_ms + ten_years_ms), 422, "ahead of the server clock"
        )
        _assert_problem(
            _frame(client, session, jpeg, now_ms - ten_years_ms), 422, "before the session"
        )
        start = client.post(
            f"/sessions/{session['session_id']}/start",
            json={"started_at_ms": now_ms + ten_years_ms},
            headers=bearer(session["token"]),
        )
        _assert_problem(start, 422, "started_at_ms")
        assert _frame(client, session, jpeg, now_ms).status_code == 202
        within = now_ms + MAX_CLOCK_SKEW_MS // 2
        assert _frame(client, session, jpeg, within).status_code == 202
        # the session started at now_ms: a frame long before it is refused too
        _assert_problem(
            _frame(client, session, jpeg, now_ms - 2 * MAX_CLOCK_SKEW_MS), 422, "before"
        )
        info = client.get(f"/sessions/{session['session_id']}", headers=bearer(session["token"]))
    started_at = info.json()["started_at"]
    assert started_at.startswith(time.strftime("%Y-", time.gmtime(now_ms / 1000)))
