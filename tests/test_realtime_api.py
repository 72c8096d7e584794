"""The realtime API over real HTTP (uvicorn subprocess) against the real Kafka broker."""

from __future__ import annotations

import io
import json
import time

import av  # noqa: F401  (imported before anything that may import decord)
import numpy as np
from kafka import KafkaConsumer, TopicPartition
from PIL import Image

from proctorlake.core.messages import FrameMessage, IncidentMessage
from proctorlake.core.topics import FRAMES_WEBCAM
from proctorlake.governance import keystore, sealed_topics
from proctorlake.storage import kafka_io, lake
from proctorlake.storage.object_store import manifest_key, open_object_store
from proctorlake.storage.video import write_video
from realtime.api.auth import issue_token
from tests.fixtures.realtime import SseReader, bearer, jpeg_bytes
from tests.fixtures.waiting import wait_until

PROBLEM = "application/problem+json"


def _frame(client, session, jpeg, token=None, captured_at_ms=None):
    headers = bearer(token or session["token"]) | {"Content-Type": "image/jpeg"}
    if captured_at_ms is not None:
        headers["X-Captured-At-Ms"] = str(captured_at_ms)
    return client.post(session["endpoints"]["webcam_frames"], content=jpeg, headers=headers)


def _assert_problem(response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert words in body["detail"], body["detail"]


def _read_record(settings, topic: str, partition: int, offset: int):
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.seek(tp, offset)
    try:  # the record was acknowledged before the API answered: poll until it comes
        batch = wait_until(
            lambda: consumer.poll(timeout_ms=200, max_records=1).get(tp),
            30,
            f"the record at {topic}:{partition}:{offset}",
            interval_s=0,
        )
    finally:
        consumer.close()
    return batch[0]


def test_session_creation_needs_staff_of_the_institution(realtime_api):
    api = realtime_api
    body = {"exam_id": "exam-1", "student_id": "stu-1", "institution_id": "inst-a"}
    with api.client() as client:
        _assert_problem(client.post("/sessions", json=body), 401, "no token")
        forged = api.staff_token("inst-a")[:-4] + "AAAA"
        _assert_problem(client.post("/sessions", json=body, headers=bearer(forged)), 401, "")
        expired = issue_token(api.settings, "p-1", "proctor", "inst-a", ttl_s=-5)
        _assert_problem(
            client.post("/sessions", json=body, headers=bearer(expired)), 401, "expired"
        )
        other = api.staff_token("inst-b")
        _assert_problem(
            client.post("/sessions", json=body, headers=bearer(other)), 403, "own institution"
        )
        bad = body | {"student_id": "no spaces allowed"}
        _assert_problem(
            client.post("/sessions", json=bad, headers=bearer(api.staff_token("inst-a"))),
            422,
            "student_id",
        )
        created = client.post("/sessions", json=body, headers=bearer(api.staff_token("inst-a")))
    assert created.status_code == 201
    session = created.json()
    rows = lake.read_table(api.settings, "exam_sessions").to_pylist()
    row = next(r for r in rows if r["session_id"] == session["session_id"])
    assert (row["student_id"], row["institution_id"], row["status"]) == (
        "stu-1",
        "inst-a",
        "created",
    )
    student = session["token"]
    with api.client() as client:
        _assert_problem(client.post("/sessions", json=body, headers=bearer(student)), 403, "")
        mine = client.get(f"/sessions/{session['session_id']}", headers=bearer(student))
        assert mine.status_code == 200 and mine.json()["status"] == "created"


def test_frames_are_validated_sealed_and_published(realtime_api):
    api = realtime_api
    session = api.create_session()
    other = api.create_session(student_id="stu-2")
    jpeg = jpeg_bytes()
    captured_ms = int(time.time() * 1000)
    with api.client() as client:
        accepted = _frame(client, session, jpeg, captured_at_ms=captured_ms)
        assert accepted.status_code == 202, accepted.text
        receipt = accepted.json()
        assert receipt["published"] is True
        huge = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(huge).save(buffer, "JPEG", quality=100)
        _assert_problem(_frame(client, session, buffer.getvalue()), 413, "limit")
        png = io.BytesIO()
        Image.new("RGB", (64, 64)).save(png, "PNG")
        _assert_problem(_frame(client, session, png.getvalue()), 415, "not a JPEG")
        _assert_problem(_frame(client, session, jpeg[:3] + b"garbage" * 20), 422, "damaged")
        _assert_problem(_frame(client, session, b""), 400, "empty")
        _assert_problem(_frame(client, session, jpeg, token=other["token"]), 403, "another")
        unknown = client.post(
            "/sessions/s-doesnotexist/frames/webcam",
            content=jpeg,
            headers=bearer(issue_token(api.settings, "x", "student", "inst-a", "s-doesnotexist")),
        )
        _assert_problem(unknown, 404, "no session")
    record = _read_record(api.settings, FRAMES_WEBCAM.name, receipt["partition"], receipt["offset"])
    assert record.key.decode() == session["session_id"]
    assert jpeg not in record.value  # sealed, not plain
    assert keystore.unseal(api.settings, session["session_id"], record.value) == jpeg
    frame = FrameMessage.from_headers(record.key.decode(), record.headers)
    assert frame.captured_at_ms == captured_ms
    assert frame.institution_id == "inst-a"
    assert frame.track == "webcam" and not frame.end_of_session
    assert b"student" not in b"".join(v for _, v in record.headers)  # routing data only


def test_recording_segments_land_in_the_batch_layout(realtime_api, tmp_path):
    api = realtime_api
    session = api.create_session()
    frames = (np.full((120, 160, 3), v, np.uint8) for v in range(0, 250, 10))
    webm = write_video(tmp_path / "seg.webm", frames, 5, codec="libvpx").read_bytes()
    url = session["endpoints"]["webcam_chunks"]
    auth = bearer(session["token"]) | {"Content-Type": "video/webm"}
    with api.client() as client:
        first = client.post(
            url, content=webm, headers=auth, params={"chunk_start_ms": 0, "chunk_end_ms": 5000}
        )
        assert first.status_code == 201, first.text
        assert first.json()["new"] is True
        again = client.post(
            url, content=webm, headers=auth, params={"chunk_start_ms": 0, "chunk_end_ms": 5000}
        )
        assert again.status_code == 201 and again.json()["new"] is False
        _assert_problem(
            client.post(
                url,
                content=webm + b"x",
                headers=auth,
                params={"chunk_start_ms": 0, "chunk_end_ms": 5000},
            ),
            409,
            "already stored",
        )
        _assert_problem(
            client.post(
                url,
                content=b"not a webm" * 10,
                headers=auth,
                params={"chunk_start_ms": 5000, "chunk_end_ms": 10000},
            ),
            415,
            "WebM",
        )
        second = client.post(
            url, content=webm, headers=auth, params={"chunk_start_ms": 9000, "chunk_end_ms": 14000}
        )
        assert second.status_code == 201
    store = open_object_store(api.settings)
    sid = session["session_id"]
    assert store.get_bytes(f"sessions/{sid}/webcam/{0:012d}.webm") == webm
    manifest = json.loads(store.get_bytes(manifest_key(sid)))
    chunks = manifest["chunks"]
    assert [(c["chunk_index"], c["chunk_start_ms"], c["gap_before_ms"]) for c in chunks] == [
        (0, 0, 0),
        (1, 9000, 4000),
    ]


def test_proctor_message_reaches_the_exam_client_and_end_is_audited(realtime_api):
    api = realtime_api
    session = api.create_session()
    sid = session["session_id"]
    proctor = api.staff_token("inst-a", subject="proctor-7")
    events = SseReader(f"{api.base_url}/sessions/{sid}/events", {"token": session["token"]})
    assert events.next_event(lambda k, e: k == "status")[1]["status"] == "created"
    actions_url = f"/proctoring/sessions/{sid}/actions"
    with api.client() as client:
        outsider = api.staff_token("inst-b")
        _assert_problem(
            client.post(
                actions_url, json={"type": "message", "message": "hi"}, headers=bearer(outsider)
            ),
            403,
            "another institution",
        )
        _assert_problem(
            client.post(
                actions_url,
                json={"type": "message", "message": "hi"},
                headers=bearer(session["token"]),
            ),
            403,
            "proctor or admin",
        )
        sent = client.post(
            actions_url,
            json={"type": "message", "message": "Please face the camera"},
            headers=bearer(proctor),
        )
        assert sent.status_code == 201, sent.text
        _, message, _ = events.next_event(lambda k, e: k == "action")
        assert message["message"] == "Please face the camera"
        ended = client.post(actions_url, json={"type": "end_session"}, headers=bearer(proctor))
        assert ended.status_code == 201
        _, end, _ = events.next_event(lambda k, e: k == "action")
        assert end["action_type"] == "end_session"
        _assert_problem(_frame(client, session, jpeg_bytes()), 409, "terminated")
        _assert_problem(
            client.post(actions_url, json={"type": "end_session"}, headers=bearer(proctor)),
            409,
            "terminated",
        )
    events.close()
    rows = [r for r in lake.read_table(api.settings, "proctor_actions").to_pylist()]
    assert sorted((r["action_type"], r["proctor_id"]) for r in rows if r["session_id"] == sid) == [
        ("end_session", "proctor-7"),
        ("message", "proctor-7"),
    ]


def test_session_state_survives_an_api_restart(realtime_api):
    api = realtime_api
    open_session = api.create_session()
    ended_session = api.create_session(student_id="stu-2")
    proctor = api.staff_token("inst-a")
    with api.client() as client:
        assert _frame(client, open_session, jpeg_bytes()).status_code == 202
        client.post(
            f"/proctoring/sessions/{ended_session['session_id']}/actions",
            json={"type": "end_session"},
            headers=bearer(proctor),
        )
    api.restart()
    with api.client() as client:
        assert _frame(client, open_session, jpeg_bytes()).status_code == 202
        _assert_problem(_frame(client, ended_session, jpeg_bytes()), 409, "terminated")
        listed = client.get("/proctoring/sessions", headers=bearer(proctor)).json()
        assert [s["session_id"] for s in listed] == [open_session["session_id"]]
        assert listed[0]["status"] == "active"
        thumb = client.get(
            f"/proctoring/sessions/{open_session['session_id']}/thumbnail",
            headers=bearer(proctor),
        )
        assert thumb.status_code == 200 and thumb.content.startswith(b"\xff\xd8")


def test_live_stream_is_filtered_by_institution_and_severity(realtime_api):
    """Workers publish facts only; the API decides from each session's tier and policy
    which incident alerts which proctor stream."""
    api = realtime_api
    session_a = api.create_session("inst-a")["session_id"]
    session_ai = api.create_session("inst-a", tier="ai")["session_id"]
    session_b = api.create_session("inst-b")["session_id"]
    producer = kafka_io.make_producer(api.settings)
    live = SseReader(
        f"{api.base_url}/proctoring/live",
        {"token": api.staff_token("inst-a"), "severity": "high"},
    )
    live.next_event(lambda k, e: k == "ready")
    now_ms = int(time.time() * 1000)

    def incident(incident_id: str, session_id: str, institution: str, severity: str):
        return IncidentMessage(
            incident_id=incident_id,
            session_id=session_id,
            institution_id=institution,
            incident_type="multiple_faces",
            severity=severity,
            confidence=0.9,
            start_s=3.0,
            end_s=6.0,
            state="opened",
            trigger_captured_at_ms=now_ms,
            event_at_ms=now_ms,
        )

    for message in (
        incident("i-b", session_b, "inst-b", "high"),
        incident("i-low", session_a, "inst-a", "low"),
        incident("i-ai", session_ai, "inst-a", "high"),
        incident("i-a", session_a, "inst-a", "high"),
    ):
        sealed_topics.publish(api.settings, producer, message)
    producer.flush()
    producer.close()
    _, first, _ = live.next_event(lambda k, e: k == "incident")
    assert first["incident_id"] == "i-a"
    assert first["alert"] is True and first["tier"] == "ai_human"
    assert first["auto_action"] is None  # the default policy acts on nothing by itself

    # Nothing else alerts: once the API holds all four incidents (its follower handled
    # them, whatever their partitions), a marker published now reaches the stream behind
    # anything the stream was given, so the incidents before the marker are all there are.
    def remembered() -> set[str]:
        held = set()
        with api.client() as client:
            owners = [(session_a, "inst-a"), (session_ai, "inst-a"), (session_b, "inst-b")]
            for sid, institution in owners:
                response = client.get(
                    f"/proctoring/sessions/{sid}/incidents",
                    headers=bearer(api.staff_token(institution)),
                )
                assert response.status_code == 200, response.text
                held |= {item["incident_id"] for item in response.json()}
        return held

    wait_until(
        lambda: remembered() >= {"i-b", "i-low", "i-ai", "i-a"},
        30,
        lambda: f"the API's incidents: {remembered()}",
    )
    producer = kafka_io.make_producer(api.settings)
    sealed_topics.publish(api.settings, producer, incident("i-marker", session_a, "inst-a", "high"))
    producer.flush()
    producer.close()
    seen = live.events_until(lambda k, e: k == "incident" and e["incident_id"] == "i-marker")
    assert [e["incident_id"] for kind, e in seen if kind == "incident"] == ["i-marker"]
    live.close()
    student = api.create_session()
    denied = SseReader(f"{api.base_url}/proctoring/live", {"token": student["token"]})
    assert denied.status_code == 403
