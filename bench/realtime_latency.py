"""Event-to-alert latency of the realtime path, measured at the proctor's SSE client.

``python bench/realtime_latency.py --sessions N --seconds S`` starts a private broker
(``--kafka-nodes 3``: a three-node cluster, three replicas, ``min.insync.replicas=2``), the
API and the detector workers in a temp PROCTORLAKE_HOME, creates N sessions and sends each
one real-face webcam frame per second for S seconds: one person, and from second 5 a second
person for 8 s in every 15 s, so each session raises a ``multiple_faces`` alert per cycle
(seconds 8, 23, 38, ...) and a backlog that builds over a long run shows in the later ones
(``p99_ms_last_appearance``). Frames start once the API answers and every worker has joined
its consumer group. Latency of an alert = time the ``multiple_faces`` "opened" event reaches the SSE
client minus the capture time of the frame that opened it. The last line printed is JSON:
p50_ms, p95_ms, p99_ms, alerts_expected, alerts_received, plus the run's parameters, the
load average before and after (the machine may be shared), and the CPU each part of the
pipeline spent per frame (API, webcam detectors, lander, broker; read from /proc), from
which ``sessions_per_core`` and ``cores_for_200k_sessions`` follow: CPU time, unlike
latency, does not depend on what else the machine is running.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from proctorlake.core.settings import load_settings  # noqa: E402
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames  # noqa: E402
from proctorlake.storage.kafka_readiness import wait_for_group  # noqa: E402
from realtime.workers.detector_worker import GROUP_ID as DETECTOR_GROUP  # noqa: E402
from realtime.workers.topic_lander import GROUP_ID as LANDER_GROUP  # noqa: E402

SECOND_PERSON_FROM_S = 5.0
CYCLE_S = 15.0
SECOND_PERSON_FOR_S = 8.0
OPENS_AFTER_S = 3.0
"""multiple_faces opens after 3 s of two faces (models.temporal_rules); 7 s with one face
between appearances closes it, so the next appearance is a new incident."""
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process and its reaped children (0 when gone)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / TICKS


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def _process_tree_cpu_s(pid: int) -> float:
    return _cpu_s(pid) + sum(_process_tree_cpu_s(child) for child in _children(pid))


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _jpegs(seconds: int) -> list[bytes]:
    script = WebcamScript(
        (
            Segment("present", SECOND_PERSON_FROM_S),
            *[
                segment
                for _ in range(int(seconds // CYCLE_S) + 1)
                for segment in (
                    Segment("second_person", SECOND_PERSON_FOR_S),
                    Segment("present", CYCLE_S - SECOND_PERSON_FOR_S),
                )
            ],
        )
    )
    frames = []
    for rgb in render_webcam_frames(script, seed=11, fps=1):
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, "JPEG", quality=80)
        frames.append(buffer.getvalue())
    return frames[:seconds]


def _alerts_per_session(seconds: int) -> int:
    """Appearances whose alert-opening frame (3 s in) is among the frames sent."""
    count = 0
    while SECOND_PERSON_FROM_S + count * CYCLE_S + OPENS_AFTER_S <= seconds:
        count += 1
    return count


def _wait_http(url: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer")


def _stream_ticket(base: str, headers: dict) -> str:
    """A single-use ticket for the live stream (no token travels in a stream URL)."""
    answer = httpx.post(
        f"{base}/auth/stream-tickets", json={"path": "/proctoring/live"}, headers=headers
    )
    answer.raise_for_status()
    return answer.json()["ticket"]


def _listen(url: str, params: dict, alerts: dict, ready: threading.Event, stop: threading.Event):
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=None)) as client,
        client.stream("GET", url, params=params) as response,
    ):
        kind = None
        for line in response.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event:"):
                kind = line[6:].strip()
                if kind == "ready":
                    ready.set()
            elif line.startswith("data:") and kind == "incident":
                event = json.loads(line[5:])
                received = time.time() * 1000
                if event["incident_type"] == "multiple_faces" and event["state"] == "opened":
                    alerts.setdefault(
                        (event["session_id"], event["incident_id"]),
                        (
                            received - event["trigger_captured_at_ms"],
                            event["trigger_captured_at_ms"],
                        ),
                    )


def _free_port_block(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (a cluster's nodes)."""
    for _ in range(50):
        base = _free_port()
        probes = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
        try:
            for offset, probe in enumerate(probes):
                probe.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError(f"no {count} consecutive free ports")


def run(
    sessions: int,
    seconds: int,
    detectors: int,
    kafka_nodes: int = 1,
) -> dict:
    home = Path(tempfile.mkdtemp(prefix="proctorlake-bench-"))
    env = dict(os.environ)
    kafka_port = _free_port_block(2 * kafka_nodes)
    env.update(
        PROCTORLAKE_HOME=str(home),
        PROCTORLAKE_KAFKA_NODES=str(kafka_nodes),
        PROCTORLAKE_KAFKA_PORT=str(kafka_port),
        PROCTORLAKE_KAFKA_CONTROLLER_PORT=str(kafka_port + kafka_nodes),
        PROCTORLAKE_KAFKA_BOOTSTRAP=",".join(
            f"127.0.0.1:{kafka_port + i}" for i in range(kafka_nodes)
        ),
        PROCTORLAKE_API_PORT=str(_free_port()),
    )
    os.environ.update(env)
    settings = load_settings()
    from proctorlake.storage.broker import broker_status, start_broker, stop_broker
    from realtime.api.auth import issue_token

    frames = _jpegs(seconds)
    try:
        start_broker(settings)
    except BaseException:
        stop_broker(settings)  # the nodes it did start
        raise
    logs = open(home / "services.log", "ab")  # noqa: SIM115
    api = subprocess.Popen(
        [sys.executable, "-m", "realtime.api.serve"], cwd=REPO, env=env, stdout=logs, stderr=logs
    )
    detectors_process = subprocess.Popen(
        [sys.executable, "-m", "realtime.workers.launcher", "--only", "detectors"]
        + ["--detectors", str(detectors)],
        cwd=REPO,
        env=env,
        stdout=logs,
        stderr=logs,
    )
    lander = subprocess.Popen(
        [sys.executable, "-m", "realtime.workers.launcher", "--only", "lander"],
        cwd=REPO,
        env=env,
        stdout=logs,
        stderr=logs,
    )
    workers = (detectors_process, lander)
    broker_pids = [node.pid for node in broker_status(settings).nodes]
    base = f"http://127.0.0.1:{settings.api_port}"
    stop = threading.Event()
    try:
        _wait_http(f"{base}/healthz")
        # As before an exam starts: every worker has loaded its models and joined its group.
        wait_for_group(settings, DETECTOR_GROUP, detectors, timeout_s=300)
        wait_for_group(settings, LANDER_GROUP, 1, timeout_s=300)
        admin = {"Authorization": f"Bearer {issue_token(settings, 'bench', 'admin', 'inst-b')}"}
        with httpx.Client(base_url=base, timeout=60) as client:
            created = [
                client.post(
                    "/sessions",
                    json={"exam_id": "bench", "student_id": f"stu-{i}", "institution_id": "inst-b"},
                    headers=admin,
                ).json()
                for i in range(sessions)
            ]
        alerts: dict[tuple[str, str], tuple[float, int]] = {}
        expected = sessions * _alerts_per_session(seconds)
        ready = threading.Event()
        listener = threading.Thread(
            target=_listen,
            args=(
                f"{base}/proctoring/live",
                {"ticket": _stream_ticket(base, admin), "severity": "medium"},
                alerts,
                ready,
                stop,
            ),
            daemon=True,
        )
        listener.start()
        ready.wait(30)
        clients = [httpx.Client(base_url=base, timeout=60) for _ in range(8)]

        def send(index: int, session: dict, second: int) -> int:
            try:
                response = clients[index % len(clients)].post(
                    session["endpoints"]["webcam_frames"],
                    content=frames[second],
                    headers={
                        "Authorization": f"Bearer {session['token']}",
                        "Content-Type": "image/jpeg",
                        "X-Captured-At-Ms": str(int(time.time() * 1000)),
                    },
                )
            except httpx.HTTPError:
                return 0  # counted as a rejected frame
            return response.status_code

        parts = {
            "api": lambda: _process_tree_cpu_s(api.pid),
            "detectors": lambda: _process_tree_cpu_s(detectors_process.pid),
            "lander": lambda: _process_tree_cpu_s(lander.pid),
            "broker": lambda: sum(_cpu_s(pid) for pid in broker_pids),
            "bench_clients": lambda: time.process_time(),
        }
        cpu_before = {name: read() for name, read in parts.items()}
        load_before = _load()
        started = time.monotonic()
        failures = 0
        with ThreadPoolExecutor(max_workers=8) as pool:
            for second in range(seconds):
                tick = started + second
                time.sleep(max(0.0, tick - time.monotonic()))
                # Spread each second's frames over the second, as real clients would be.
                futures = []
                for i, session in enumerate(created):
                    time.sleep(max(0.0, tick + i / sessions - time.monotonic()))
                    futures.append(pool.submit(send, i, session, second))
                failures += sum(f.result() != 202 for f in futures)
        deadline = time.monotonic() + 20
        while len(alerts) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        # Frames after the alert may still be queued: wait until the detectors go idle
        # (under 0.05 CPU-seconds a second) so every frame's CPU counts, then let the
        # lander's last micro-batch land.
        idle_deadline = time.monotonic() + 120
        previous = parts["detectors"]()
        while time.monotonic() < idle_deadline:
            time.sleep(1.0)
            current = parts["detectors"]()
            if current - previous < 0.05:
                break
            previous = current
        time.sleep(2.5)
        frames_sent = sessions * seconds
        cpu_ms = {
            name: round(1000 * (read() - cpu_before[name]) / frames_sent, 2)
            for name, read in parts.items()
        }
        pipeline_ms = sum(v for k, v in cpu_ms.items() if k != "bench_clients")
        latencies = (
            np.array(sorted(v[0] for v in alerts.values())) if alerts else np.array([np.nan])
        )
        last_trigger_ms = max((v[1] for v in alerts.values()), default=0)
        half_cycle_ms = CYCLE_S * 1000 / 2
        last_cycle = [v[0] for v in alerts.values() if v[1] > last_trigger_ms - half_cycle_ms]
        last_p99 = float(np.percentile(last_cycle, 99)) if last_cycle else float("nan")
        for client in clients:
            client.close()
        return {
            "sessions": sessions,
            "seconds": seconds,
            "detector_processes": detectors,
            "kafka_nodes": kafka_nodes,
            "second_person_from_s": SECOND_PERSON_FROM_S,
            "cycle_s": CYCLE_S,
            "cpu_count": os.cpu_count(),
            "load_avg_1m_before": load_before,
            "load_avg_1m_after": _load(),
            "cpu_ms_per_frame": cpu_ms,
            "pipeline_cpu_ms_per_frame": round(pipeline_ms, 2),
            "sessions_per_core": round(1000 / pipeline_ms, 1),
            "cores_for_200k_sessions": round(200_000 * pipeline_ms / 1000),
            "frames_rejected": failures,
            "p50_ms": round(float(np.percentile(latencies, 50)), 1),
            "p95_ms": round(float(np.percentile(latencies, 95)), 1),
            "p99_ms": round(float(np.percentile(latencies, 99)), 1),
            "max_ms": round(float(latencies.max()), 1),
            "p99_ms_last_appearance": round(last_p99, 1),
            "alerts_expected": expected,
            "alerts_received": len(alerts),
        }
    finally:
        stop.set()
        for process in (*workers, api):
            process.terminate()
        for process in (*workers, api):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        stop_broker(settings)
        logs.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--detectors", type=int, default=2, help="detector worker processes")
    parser.add_argument(
        "--kafka-nodes", type=int, default=1, help="local KRaft nodes (3: replicated topics)"
    )
    args = parser.parse_args()
    if _alerts_per_session(args.seconds) < 1:
        parser.error(f"--seconds must be at least {SECOND_PERSON_FROM_S + OPENS_AFTER_S:.0f}")
    result = run(args.sessions, args.seconds, args.detectors, args.kafka_nodes)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
