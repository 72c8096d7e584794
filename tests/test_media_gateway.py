"""The media gateway end to end: headless Chromium publishes the exam page's fake camera
through Debian's Janus (VideoRoom), the gateway records it, the recorder rotates and stores the
recording as chunks in the object layout the batch path ingests."""

from __future__ import annotations

import json

import av
import pytest

from proctorlake.samples import Segment, WebcamScript, render_webcam_frames
from proctorlake.services.ingest import ingest_uploaded_segments
from proctorlake.storage import gateway, lake
from proctorlake.storage.object_store import manifest_key, open_object_store
from tests.fixtures.gateway import CHROMIUM_WEBRTC_ARGS
from tests.fixtures.realtime import Chromium, RealtimeApi, ServiceProcess, write_y4m
from tests.fixtures.waiting import wait_until

CAMERA = WebcamScript((Segment("present", 60.0),))
CHAINS = "document.getElementById('gateway-chains')"


def _decoded_seconds(path) -> float:
    with av.open(str(path)) as container:
        times = [float(f.time) for f in container.decode(container.streams.video[0])]
    return max(times) - min(times)


def _manifest(settings, sid) -> dict | None:
    try:
        return json.loads(open_object_store(settings).get_bytes(manifest_key(sid)))
    except Exception:  # noqa: BLE001 (not written yet)
        return None


def _webcam_chunks(settings, sid) -> list[dict]:
    manifest = _manifest(settings, sid) or {"chunks": []}
    return [c for c in manifest["chunks"] if c["track"] == "webcam"]


def _raw_left(settings, sid) -> list:
    return sorted(gateway.raw_recording_dir(settings, sid).glob("*.mjr"))


@pytest.fixture
def gateway_stack(gateway_settings, media_gateway, tmp_path):
    settings = gateway_settings
    api = RealtimeApi(
        settings, ServiceProcess(["-m", "realtime.api.serve"], settings, tmp_path / "api.log")
    )
    recorder = ServiceProcess(
        ["-m", "realtime.workers.launcher", "--only", "recorder"], settings, tmp_path / "rec.log"
    )
    api.service.start()
    recorder.start()
    try:
        api.wait_ready(240)
        yield api, recorder, media_gateway
    finally:
        recorder.stop()
        api.service.stop()


@pytest.mark.slow
def test_exam_page_is_recorded_by_the_gateway_in_rotated_chunks(gateway_stack, tmp_path):
    api, recorder, media_gateway = gateway_stack
    settings = api.settings
    video = write_y4m(tmp_path / "camera.y4m", render_webcam_frames(CAMERA, seed=3, fps=5), 5)
    session = api.create_session(student_id="stu-gateway")
    sid = session["session_id"]
    browser = Chromium(tmp_path / "profile", video, tmp_path / "chromium.log", CHROMIUM_WEBRTC_ARGS)
    try:
        exam = browser.open(f"{api.base_url}/exam#session={sid}&token={session['token']}")
        exam.wait_for(f"{CHAINS}.dataset.connectedAt !== undefined", 60)
        # Publish past two rotations (chunks of 10 s), then hand in.
        wait_until(
            lambda: (
                len(_manifest(settings, sid)["chunks"]) >= 2 if _manifest(settings, sid) else None
            ),
            90,
            lambda: f"two rotated chunks; recorder log:\n{recorder.log_tail()}",
        )
        exam.evaluate("document.getElementById('hand-in').click()")
        exam.wait_for(f"{CHAINS}.dataset.closedAt !== undefined", 30)
        connected = int(exam.evaluate(f"{CHAINS}.dataset.connectedAt"))
        closed = int(exam.evaluate(f"{CHAINS}.dataset.closedAt"))
        assert exam.evaluate(f"{CHAINS}.textContent") == "1"
    finally:
        browser.close()
    published_s = (closed - connected) / 1000

    # The last recording closes when the publisher leaves; the recorder stores it.
    wait_until(
        lambda: not _raw_left(settings, sid), 60, lambda: f"raw files stored: {recorder.log_tail()}"
    )
    chunks = _webcam_chunks(settings, sid)
    assert len(chunks) >= 3 and {c["source"] for c in chunks} == {"gateway"}
    assert len({c["chain"] for c in chunks}) == 1

    # The batch path ingests them unchanged: one media_chunks row per chunk.
    assert ingest_uploaded_segments(settings, sid) == len(chunks)
    rows = [
        r for r in lake.read_table(settings, "media_chunks").to_pylist() if r["session_id"] == sid
    ]
    assert len(rows) == len(chunks)

    store = open_object_store(settings)
    durations = []
    for chunk in chunks:
        local = store.download(chunk["original_key"], tmp_path / "chunk.webm")
        durations.append(_decoded_seconds(local))
        assert durations[-1] <= settings.chunk_seconds + 1
    recorded_s = sum(durations)
    assert abs(recorded_s - published_s) <= 1.0, (durations, published_s)
