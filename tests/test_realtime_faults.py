"""Faults on the realtime path, with real processes on a broker of the test's own.

- a detector worker killed (SIGKILL) mid-run and started again,
- the broker stopped mid-run (frames refused with 503 meanwhile) and started again,
- an exam client that drops off the network and reconnects,

must lose no incident and duplicate none: the incidents that land are exactly those the
shared rules give on the frames the API accepted, one row per deterministic id, and the live
page still gets its alerts. Frames carry explicit capture times, so the expected incidents
are computed offline from the very same JPEGs.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest
from kafka import KafkaConsumer, TopicPartition

from models.webcam import analyze_webcam_frames
from proctorlake.core.topics import DETECTIONS, INCIDENTS
from proctorlake.core.vocabulary import IncidentType
from proctorlake.governance import sealed_topics
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames
from proctorlake.storage import lake
from realtime.workers.detector_worker import decode_jpeg
from realtime.workers.incident_aggregator import IncidentAggregator, SessionMeta
from tests.fixtures.realtime import SseReader, bearer, encode_jpeg
from tests.fixtures.waiting import wait_until

SCRIPT = WebcamScript(
    (Segment("present", 12.0), Segment("second_person", 8.0), Segment("present", 4.0))
)
PHASE_2 = 12  # the second person appears with the first frame after the fault


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    return [encode_jpeg(f) for f in render_webcam_frames(SCRIPT, seed=21, fps=1)]


def expected_incidents(session_id: str, frames: list[bytes], seconds: list[int]) -> dict:
    """incident id -> final event, by the workers' own aggregator on the same JPEGs."""
    rgb = [decode_jpeg(frames[i]) for i in seconds]
    observations = analyze_webcam_frames(rgb, [float(i) for i in seconds])
    meta = SessionMeta(session_id, "inst-a")
    aggregator = IncidentAggregator()
    final: dict[str, dict] = {}
    for observation in observations:
        for event in aggregator.observe(meta, observation, 0, 0):
            final[event.incident_id] = event.model_dump(mode="json")
    for event in aggregator.finish(meta, 0, 0):
        final[event.incident_id] = event.model_dump(mode="json")
    return final


def post_frames(
    api, session: dict, frames: list[bytes], seconds, t0_ms: int, retry_s: float = 0
) -> int:
    """Post the frames; a frame refused with 503 is sent again for up to ``retry_s``, as a
    client does while the broker comes back. Returns how many 503s it met."""
    headers = bearer(session["token"]) | {"Content-Type": "image/jpeg"}
    refused = 0
    with api.client() as client:
        for i in seconds:
            deadline = time.monotonic() + retry_s
            while True:
                response = client.post(
                    session["endpoints"]["webcam_frames"],
                    content=frames[i],
                    headers=headers | {"X-Captured-At-Ms": str(t0_ms + i * 1000)},
                )
                if response.status_code != 503 or time.monotonic() > deadline:
                    break
                refused += 1
                time.sleep(1)
            assert response.status_code == 202, response.text
    return refused


def end_session(api, session: dict) -> None:
    with api.client() as client:
        response = client.post(
            f"/sessions/{session['session_id']}/end", headers=bearer(session["token"])
        )
    assert response.status_code == 200, response.text


class TopicTail:
    """Every record of a topic from the beginning, keyed by session, read in a thread."""

    def __init__(self, settings, topic) -> None:
        self.settings = settings
        self.records: list[tuple[str, dict]] = []
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
        )
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        self._consumer.assign(partitions)
        self._consumer.seek_to_beginning(*partitions)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batches = self._consumer.poll(timeout_ms=200)
            except Exception:  # the broker is restarting: keep trying
                time.sleep(0.5)
                continue
            for records in batches.values():
                for record in records:
                    message = sealed_topics.decode(self.settings, record)
                    self.records.append((record.key.decode(), message.model_dump(mode="json")))

    def of(self, session_id: str) -> list[dict]:
        return [event for key, event in list(self.records) if key == session_id]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()


def landed_incidents(settings, session_id: str) -> list[dict]:
    try:
        rows = lake.read_table(settings, "stream_incidents").to_pylist()
    except Exception:  # not created yet
        return []
    return [r for r in rows if r["session_id"] == session_id]


def assert_exactly(settings, incidents_tail: TopicTail, sid: str, expected: dict) -> None:
    """Delta holds one closed row per expected id, as the rules closed it; the topic names
    no other incident id for the session."""

    def all_closed():
        rows = landed_incidents(settings, sid)
        done = len(rows) == len(expected) and all(r["state"] == "closed" for r in rows)
        return rows if done else None

    rows = wait_until(
        all_closed, 120, lambda: f"closed incidents of {sid}: {landed_incidents(settings, sid)}"
    )
    got = sorted((r["incident_id"], r["incident_type"], r["start_s"], r["end_s"]) for r in rows)
    want = sorted((i, e["incident_type"], e["start_s"], e["end_s"]) for i, e in expected.items())
    assert got == want
    # The test's own tail consumer may still be reconnecting after a broker restart.
    wait_until(
        lambda: {e["incident_id"] for e in incidents_tail.of(sid)} >= set(expected),
        60,
        lambda: f"incidents topic records of {sid}: {incidents_tail.of(sid)}",
    )
    # A snapshot, not a wait on silence: it can miss an id published later, never flake.
    assert {e["incident_id"] for e in incidents_tail.of(sid)} == set(expected)


def landed_frame_seconds(settings, session_id: str) -> list[float]:
    rows = lake.read_table(settings, "stream_detections").to_pylist()
    return sorted(r["frame_ts"] for r in rows if r["session_id"] == session_id)


def assert_landed_frames(settings, session_id: str, seconds: list[int]) -> None:
    """Every frame's detection lands once. Waits: detections and incidents are separate
    topics, so the lander may land a session's closed incident one micro-batch before the
    detection of its last frame."""
    want = [float(i) for i in seconds]
    wait_until(
        lambda: len(landed_frame_seconds(settings, session_id)) >= len(want),
        60,
        lambda: f"landed detections of {session_id}: {landed_frame_seconds(settings, session_id)}",
    )
    assert landed_frame_seconds(settings, session_id) == want


@pytest.mark.slow
def test_detector_worker_killed_mid_run_loses_and_duplicates_nothing(private_realtime, frames):
    rt = private_realtime
    api = rt.api
    lander = rt.worker("lander")
    detector = rt.worker("detectors")
    detections = TopicTail(rt.settings, DETECTIONS)
    incidents = TopicTail(rt.settings, INCIDENTS)
    live = SseReader(
        f"{api.base_url}/proctoring/live", {"token": api.staff_token("inst-a"), "severity": "low"}
    )
    live.next_event(lambda k, e: k == "ready")
    sessions = [api.create_session(student_id=f"stu-{i}") for i in range(3)]
    t0 = int(time.time() * 1000)
    for session in sessions:
        post_frames(api, session, frames, range(PHASE_2), t0)
    wait_until(lambda: len(detections.records) >= 3, 90, "the detector never started")

    # The last frames wait for the kill, so the worker cannot finish before it dies however
    # fast it runs (the test kills it on a count of detections, not after a guessed time).
    killed = threading.Event()
    held_back = len(frames) - 2

    def phase_2() -> None:  # the second person arrives while the worker is busy...
        for i in range(PHASE_2, len(frames)):
            if i == held_back:
                assert killed.wait(120), "the detector was never killed"
            for session in sessions:
                post_frames(api, session, frames, [i], t0)

    sender = threading.Thread(target=phase_2, daemon=True)
    sender.start()
    wait_until(lambda: len(detections.records) >= 3 * PHASE_2 + 6, 90, "no phase-2 detections")
    detector.stop(signal.SIGKILL)  # ...and dies without committing what it had in hand
    done_before_kill = len(detections.records)
    killed.set()
    sender.join()
    assert done_before_kill < 3 * len(frames), "the worker finished before it could be killed"
    rt.worker("detectors")
    for session in sessions:
        end_session(api, session)

    opened: dict[str, str] = {}  # the live page saw each session's second person
    while len(opened) < len(sessions):
        _, event, _ = live.next_event(
            lambda k, e: k == "incident" and e["state"] == "opened", timeout_s=60
        )
        opened[event["session_id"]] = event["incident_id"]
    for session in sessions:
        sid = session["session_id"]
        expected = expected_incidents(sid, frames, list(range(len(frames))))
        assert opened[sid] in expected
        assert "multiple_faces" in {e["incident_type"] for e in expected.values()}
        assert_exactly(rt.settings, incidents, sid, expected)
        assert_landed_frames(rt.settings, sid, list(range(len(frames))))
    assert lander.process.poll() is None
    detections.close()
    incidents.close()
    live.close()


@pytest.mark.slow
def test_broker_restart_mid_run_loses_and_duplicates_nothing(private_realtime, frames):
    rt = private_realtime
    api = rt.api
    rt.worker("lander")
    rt.worker("detectors")
    incidents = TopicTail(rt.settings, INCIDENTS)
    session = api.create_session(student_id="stu-b")
    sid = session["session_id"]
    t0 = int(time.time() * 1000)
    post_frames(api, session, frames, range(PHASE_2 - 1), t0)

    rt.stop_broker()
    with api.client() as client:  # the client's frame is refused, clearly, not lost silently
        refused = client.post(
            session["endpoints"]["webcam_frames"],
            content=frames[PHASE_2 - 1],
            headers=bearer(session["token"])
            | {"Content-Type": "image/jpeg", "X-Captured-At-Ms": str(t0 + (PHASE_2 - 1) * 1000)},
        )
    assert refused.status_code == 503, refused.text
    assert "broker" in refused.json()["detail"]
    rt.start_broker()

    live = SseReader(
        f"{api.base_url}/proctoring/live",
        {"token": api.staff_token("inst-a"), "severity": "medium"},
    )
    live.next_event(lambda k, e: k == "ready")
    # The client sends the refused frame again until the API's producer is back, then
    # carries on.
    post_frames(api, session, frames, range(PHASE_2 - 1, len(frames)), t0, retry_s=60)
    expected = expected_incidents(sid, frames, list(range(len(frames))))
    _, opened, _ = live.next_event(
        lambda k, e: k == "incident" and e["session_id"] == sid, timeout_s=120
    )
    assert (opened["incident_id"], opened["state"]) in {(i, "opened") for i in expected}
    end_session(api, session)
    assert_exactly(rt.settings, incidents, sid, expected)
    assert_landed_frames(rt.settings, sid, list(range(len(frames))))
    incidents.close()
    live.close()


@pytest.mark.slow
def test_reconnecting_client_continues_its_session_and_the_gap_is_flagged(private_realtime, frames):
    rt = private_realtime
    api = rt.api
    rt.worker("lander")
    rt.worker("detectors")
    incidents = TopicTail(rt.settings, INCIDENTS)
    session = api.create_session(student_id="stu-r")
    sid = session["session_id"]
    t0 = int(time.time() * 1000)
    proctor_live = SseReader(
        f"{api.base_url}/proctoring/live", {"token": api.staff_token("inst-a"), "severity": "low"}
    )
    proctor_live.next_event(lambda k, e: k == "ready")

    with api.client() as client:  # first connection: starts the session at t0
        started = client.post(
            f"/sessions/{sid}/start", json={"started_at_ms": t0}, headers=bearer(session["token"])
        ).json()
    events = SseReader(f"{api.base_url}/sessions/{sid}/events", {"token": session["token"]})
    assert events.next_event(lambda k, e: k == "status")[1]["status"] == "active"
    before, after = list(range(8)), list(range(16, len(frames)))
    post_frames(api, session, frames, before, t0)
    events.close()  # the network drops: no frames for 8 s

    with api.client() as client:  # the page reloads and starts again
        again = client.post(
            f"/sessions/{sid}/start",
            json={"started_at_ms": t0 + 16_000},
            headers=bearer(session["token"]),
        ).json()
    assert again["started_at"] == started["started_at"]  # the same session, the same origin
    events = SseReader(f"{api.base_url}/sessions/{sid}/events", {"token": session["token"]})
    assert events.next_event(lambda k, e: k == "status")[1]["status"] == "active"
    headers = bearer(session["token"]) | {"Content-Type": "image/jpeg"}
    with api.client() as client:
        first = client.post(
            session["endpoints"]["webcam_frames"],
            content=frames[after[0]],
            headers=headers | {"X-Captured-At-Ms": str(t0 + after[0] * 1000)},
        ).json()
    assert first["gap_before_ms"] == (after[0] - before[-1]) * 1000
    _, gap_event, _ = proctor_live.next_event(
        lambda k, e: k == "session" and e["event"] == "gap", timeout_s=30
    )
    assert (gap_event["session_id"], gap_event["gap_from_ms"]) == (sid, t0 + before[-1] * 1000)
    post_frames(api, session, frames, after[1:], t0)
    with api.client() as client:
        message = client.post(
            f"/proctoring/sessions/{sid}/actions",
            json={"type": "message", "message": "welcome back"},
            headers=bearer(api.staff_token("inst-a")),
        )
    assert message.status_code == 201
    assert events.next_event(lambda k, e: k == "action")[1]["message"] == "welcome back"
    end_session(api, session)

    expected = expected_incidents(sid, frames, before + after)
    gaps = [e for e in expected.values() if e["incident_type"] == IncidentType.STREAM_GAP]
    assert [(g["start_s"], g["end_s"]) for g in gaps] == [(float(before[-1]), float(after[0]))]
    assert_exactly(rt.settings, incidents, sid, expected)
    (gap_row,) = [
        r
        for r in landed_incidents(rt.settings, sid)
        if r["incident_type"] == IncidentType.STREAM_GAP
    ]
    assert gap_row["review_status"] == "pending"  # in Delta, for auditors
    assert_landed_frames(rt.settings, sid, before + after)
    incidents.close()
    events.close()
    proctor_live.close()
