"""The stream path on a three-node Kafka cluster, served by two API processes and two detector
processes that share one PROCTORLAKE_HOME (store, keys, Delta) and the cluster.

One cluster and one set of processes serve the module (a cluster starts in about a minute on
the 2-core machine). The first test shows that the API processes are interchangeable; the
second kills, with SIGKILL, the broker that leads the exam's incidents partition while the
exam streams, and checks that every alert still reaches both live pages and that Delta holds
every frame and every incident exactly once.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from kafka.admin import KafkaAdminClient
from kafka.partitioner.default import murmur2

from proctorlake.core.settings import Settings, load_settings
from proctorlake.core.topics import FRAMES_WEBCAM, INCIDENTS
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames
from proctorlake.storage import kafka_readiness
from proctorlake.storage.broker import broker_status, start_broker, stop_broker
from realtime.workers.detector_worker import GROUP_ID as DETECTOR_GROUP
from tests.fixtures.broker import cluster_env, free_port
from tests.fixtures.realtime import RealtimeApi, ServiceProcess, SseReader, bearer, encode_jpeg
from tests.fixtures.waiting import wait_until
from tests.test_realtime_pipeline import session_rows

NODES = 3
# One person, a second person twice (two incidents), one person again at the end.
SCRIPT = WebcamScript(
    (
        Segment("present", 10.0),
        Segment("second_person", 8.0),
        Segment("present", 10.0),
        Segment("second_person", 8.0),
        Segment("present", 6.0),
    )
)
FIRST_INCIDENT_SEEN_BY = 17  # frames sent before the first alert is awaited


@dataclass
class ClusterExam:
    """The cluster's settings, the two API processes and the worker processes."""

    settings: Settings
    api_a: RealtimeApi
    api_b: RealtimeApi
    workers: list[ServiceProcess]


@pytest.fixture(scope="module")
def exam_frames() -> list[bytes]:
    return [encode_jpeg(f) for f in render_webcam_frames(SCRIPT, seed=5, fps=1)]


@pytest.fixture(scope="module")
def cluster_exam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterExam]:
    home = tmp_path_factory.mktemp("cluster-home")
    environ = dict(os.environ) | cluster_env(home, NODES)
    settings = load_settings(environ | {"PROCTORLAKE_API_PORT": str(free_port())})
    start_broker(settings)
    apis = [
        RealtimeApi(
            api_settings,
            ServiceProcess(["-m", "realtime.api.serve"], api_settings, home / f"api-{name}.log"),
        )
        for name, api_settings in (
            ("a", settings),
            ("b", replace(settings, api_port=free_port())),
        )
    ]
    workers = [
        ServiceProcess(
            ["-m", "realtime.workers.launcher", "--only", kind], settings, home / f"{name}.log"
        )
        for kind, name in (("detectors", "detector-1"), ("detectors", "detector-2"))
    ]
    workers.append(
        ServiceProcess(
            ["-m", "realtime.workers.launcher", "--only", "lander"], settings, home / "lander.log"
        )
    )
    processes = [api.service for api in apis] + workers
    try:
        for process in processes:
            process.start()
        for api in apis:
            api.wait_ready(timeout_s=300)
        kafka_readiness.wait_for_group(settings, DETECTOR_GROUP, members=2, timeout_s=300)
        yield ClusterExam(settings, apis[0], apis[1], workers)
    finally:
        for process in processes:
            process.stop()
        stop_broker(settings)
        for process in processes:  # shown by pytest only when a test failed
            print(f"--- {process.log_path.name}\n{process.log_tail()}")


def send_frames(api: RealtimeApi, session: dict, frames: list[bytes], t0_ms: int, first: int):
    """POST frames ``first..`` of the exam through ``api``; every one must be accepted."""
    headers = bearer(session["token"]) | {"Content-Type": "image/jpeg"}
    with api.client() as client:
        for i, jpeg in enumerate(frames[first:], start=first):
            response = client.post(
                session["endpoints"]["webcam_frames"],
                content=jpeg,
                headers=headers | {"X-Captured-At-Ms": str(t0_ms + i * 1000)},
            )
            assert response.status_code == 202, (i, response.text)


def live_stream(api: RealtimeApi) -> SseReader:
    reader = SseReader(
        f"{api.base_url}/proctoring/live",
        {"token": api.staff_token("inst-a"), "severity": "medium"},
    )
    reader.next_event(lambda kind, event: kind == "ready")
    return reader


def opened_alerts(
    reader: SseReader, session_id: str, count: int, already: list[str] | None = None
) -> list[str]:
    """The ids of the next ``count`` distinct incidents the stream announces as opened (not
    counting those ``already`` read from it)."""
    seen: list[str] = list(already or [])
    count += len(seen)
    while len(seen) < count:
        _, event, _ = reader.next_event(
            lambda kind, e: (
                kind == "incident"
                and e["session_id"] == session_id
                and e["state"] == "opened"
                and e["incident_id"] not in seen
            ),
            timeout_s=120,
        )
        assert event["incident_type"] == "multiple_faces" and event["alert"]
        seen.append(event["incident_id"])
    return seen


def listed_by(api: RealtimeApi, session_id: str) -> bool:
    with api.client() as client:
        response = client.get("/proctoring/sessions", headers=bearer(api.staff_token("inst-a")))
    return any(s["session_id"] == session_id for s in response.json())


def session_status(api: RealtimeApi, session_id: str) -> str:
    with api.client() as client:
        response = client.get(
            f"/sessions/{session_id}", headers=bearer(api.staff_token("inst-a", "admin", "adm"))
        )
    return response.json()["status"]


def webcam_partitions_by_member(settings: Settings) -> list[set[int]]:
    """The ``frames.webcam`` partitions each member of the detector group holds."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        group = admin.describe_groups([DETECTOR_GROUP])[DETECTOR_GROUP]
    finally:
        admin.close()
    held = []
    for member in group["members"]:
        assignment = member["member_assignment"]["assigned_partitions"]
        held.append(
            {p for tp in assignment if tp["topic"] == FRAMES_WEBCAM.name for p in tp["partitions"]}
        )
    return held


def partition_of(session_id: str, partitions: int) -> int:
    """The partition the producers' default partitioner gives a session's records."""
    return (murmur2(session_id.encode()) & 0x7FFFFFFF) % partitions


@pytest.mark.slow
def test_two_api_processes_and_two_detectors_serve_the_same_exams(
    cluster_exam: ClusterExam, exam_frames: list[bytes]
) -> None:
    a, b = cluster_exam.api_a, cluster_exam.api_b
    held = webcam_partitions_by_member(cluster_exam.settings)
    assert len(held) == 2 and all(held), held
    # One exam on each detector's partitions: both detector processes do work.
    sessions: dict[int, dict] = {}
    while len(sessions) < 2:
        session = a.create_session()
        owner = next(
            i for i, parts in enumerate(held) if partition_of(session["session_id"], 6) in parts
        )
        sessions.setdefault(owner, session)
    first, second = sessions[0], sessions[1]
    # Created through A: B lists them too (it follows the sessions topic).
    for session in (first, second):
        wait_until(lambda s=session: listed_by(b, s["session_id"]), 30, "B lists the session")
    live_a, live_b = live_stream(a), live_stream(b)
    t0 = int(time.time() * 1000)
    frames = exam_frames[:26]  # the first second-person segment, then one person again
    send_frames(b, first, frames, t0, first=0)  # created through A, streamed through B
    send_frames(a, second, frames, t0, first=0)
    for session in (first, second):
        sid = session["session_id"]
        assert opened_alerts(live_a, sid, 1) == opened_alerts(live_b, sid, 1)
    # The thumbnail of a session streamed through B is served by A.
    with a.client() as client:
        thumbnail = client.get(
            f"/proctoring/sessions/{first['session_id']}/thumbnail",
            headers=bearer(a.staff_token("inst-a")),
        )
    assert thumbnail.status_code == 200 and thumbnail.content in frames
    # Ended through B: A sees it ended and lists it no more.
    with b.client() as client:
        ended = client.post(f"/sessions/{first['session_id']}/end", headers=bearer(first["token"]))
    assert ended.status_code == 200, ended.text
    wait_until(lambda: session_status(a, first["session_id"]) == "ended", 30, "A sees the end")
    assert not listed_by(a, first["session_id"])
    live_a.close()
    live_b.close()


@pytest.mark.slow
def test_killing_a_broker_mid_exam_loses_and_duplicates_nothing(
    cluster_exam: ClusterExam, exam_frames: list[bytes]
) -> None:
    settings = cluster_exam.settings
    a, b = cluster_exam.api_a, cluster_exam.api_b
    session = a.create_session()
    sid = session["session_id"]
    live_a, live_b = live_stream(a), live_stream(b)
    t0 = int(time.time() * 1000)
    send_frames(b, session, exam_frames[:FIRST_INCIDENT_SEEN_BY], t0, first=0)
    first_alert = opened_alerts(live_a, sid, 1)

    # The broker leading this exam's incidents partition dies without a goodbye.
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        described = admin.describe_topics([INCIDENTS.name])[0]["partitions"]
    finally:
        admin.close()
    partition = partition_of(sid, INCIDENTS.partitions)
    leader = next(p["leader_id"] for p in described if p["partition_index"] == partition)
    victim = next(n for n in broker_status(settings).nodes if n.node_id == leader)
    os.kill(victim.pid, signal.SIGKILL)
    wait_until(
        lambda: not next(n for n in broker_status(settings).nodes if n.node_id == leader).running,
        30,
        f"node {leader} is gone",
    )

    # The exam goes on, its frames alternating between the two API processes.
    for i in range(FIRST_INCIDENT_SEEN_BY, len(exam_frames)):
        send_frames((a, b)[i % 2], session, exam_frames[: i + 1], t0, first=i)
    with a.client() as client:
        assert (
            client.post(f"/sessions/{sid}/end", headers=bearer(session["token"])).status_code == 200
        )

    alerts_a = opened_alerts(live_a, sid, 1, already=first_alert)
    alerts_b = opened_alerts(live_b, sid, 2)
    assert sorted(alerts_a) == sorted(alerts_b)

    def all_closed() -> list[dict] | None:
        rows = session_rows(settings, "stream_incidents", sid)
        return rows if len(rows) >= 2 and all(r["state"] == "closed" for r in rows) else None

    incidents = wait_until(
        all_closed, 120, lambda: f"{session_rows(settings, 'stream_incidents', sid)}"
    )
    ids = [r["incident_id"] for r in incidents]
    assert sorted(ids) == sorted(alerts_a)  # every incident once, none missing, none extra
    assert [r["incident_type"] for r in incidents] == ["multiple_faces"] * 2

    def every_frame() -> list[dict] | None:
        rows = session_rows(settings, "stream_detections", sid)
        return rows if len(rows) >= len(exam_frames) else None

    detections = wait_until(every_frame, 120, "a detection row for every frame")
    frame_times = [r["frame_ts"] for r in detections]
    assert sorted(frame_times) == [float(i) for i in range(len(exam_frames))]
    live_a.close()
    live_b.close()
