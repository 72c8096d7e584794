"""The media plane under load: N exam sessions publishing through the gateway for S seconds.

``python bench/media_plane.py --sessions N --seconds S`` starts a private broker, the API, the
media gateway (Janus), the webcam detectors, the lander, the gateway recorder and sampler in a
temp PROCTORLAKE_HOME, then the N publishers: the first ``--chromium-pages`` (default 1) are
exam pages in one headless Chromium (a fake camera: one person, a second person from second 12
for 28 s, looped), the rest are ``bench/webrtc_publisher.py``'s cheap publishers (aiortc,
pre-encoded media: the same camera loop at 640x480 15 fps in three temporal layers, a
1280x720 screen, Opus), all recorded by the server. A Chromium tab encodes live, 0.2-0.35 of a
core per page here: eight of them starve the machine they measure. The publishers' CPU
is not counted in the gateway's (``publishers_cpu_s`` reports it). Printed last, one JSON
object:

- ``recorded_seconds_min`` / ``_median``: per session, the webcam decoded back (PyAV) from the
  chunks stored in the object layout;
- ``frames_sampled_per_session_s``: webcam frames the sampler published to ``frames.webcam``
  per session and second of publishing;
- ``gateway_cpu_s_per_session_s`` (Janus + recorder (its children too) + sampler, from
  /proc, over the S seconds and then the storing of every session's last chunks) and
  ``sessions_per_core`` = 1 / that: a short run weighs each session's last store as if exams
  lasted S seconds;
- ``steady_sessions_per_core``: the same over the S seconds alone (with the rotations and
  stores that fall in them, one per ``--chunk-seconds``), what a gateway carries in the
  middle of long exams;
- ``cpu_s_per_session_s_by_process``: the same CPU split into Janus, the recorder and the
  sampler;
- ``alert_p99_ms``: the proctors' SSE ``multiple_faces`` alert minus the capture time of the
  sampled frame that opened it (the WebRTC transit before the sampler is not in it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import av
import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.realtime_latency import (  # noqa: E402
    _cpu_s,
    _free_port,
    _load,
    _process_tree_cpu_s,
    _stream_ticket,
    _wait_http,
)
from proctorlake.core.settings import load_settings  # noqa: E402
from proctorlake.samples import Segment, WebcamScript, render_webcam_frames  # noqa: E402
from proctorlake.storage.video import probe  # noqa: E402
from tests.fixtures.gateway import CHROMIUM_WEBRTC_ARGS  # noqa: E402
from tests.fixtures.realtime import Chromium, write_y4m  # noqa: E402

CAMERA = WebcamScript((Segment("present", 12.0), Segment("second_person", 28.0)))
CHAINS = "document.getElementById('gateway-chains')"
PAGES_PER_BROWSER = 5
"""Each exam page holds one long poll open to Janus's HTTP API, and a browser opens at most
six HTTP/1.1 connections to one host: a seventh page in the same browser waits forever (a
student's own browser holds one exam page). Pages go five to a Chromium."""


def _listen(url: str, params: dict, alerts: dict, ready: threading.Event, stop: threading.Event):
    """The proctors' live feed: each ``multiple_faces`` opening's latency from the capture
    time of the sampled frame that opened it."""
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
                captured = event.get("trigger_captured_at_ms")
                opened = event["incident_type"] == "multiple_faces" and event["state"] == "opened"
                if opened and captured:
                    key = (event["session_id"], event["incident_id"])
                    alerts.setdefault(key, (time.time() * 1000 - captured, captured))


def _decoded_seconds(path) -> float:
    """How long the chunk plays: first frame to the end of its last (one frame interval)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(f.time) for f in container.decode(stream)]
    if not times:
        return 0.0
    interval = (max(times) - min(times)) / (len(times) - 1) if len(times) > 1 else 0.0
    return max(times) - min(times) + interval


def _frames_in_topic(settings, sessions: set[str]) -> dict[str, int]:
    from kafka import KafkaConsumer, TopicPartition

    from proctorlake.core.topics import FRAMES_WEBCAM

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    parts = [TopicPartition(FRAMES_WEBCAM.name, p) for p in range(FRAMES_WEBCAM.partitions)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    ends = consumer.end_offsets(parts)
    counts = dict.fromkeys(sessions, 0)
    while any(consumer.position(tp) < ends[tp] for tp in parts):
        for batch in consumer.poll(timeout_ms=500).values():
            for record in batch:
                key = record.key.decode()
                if key in counts and record.value:
                    counts[key] += 1
    consumer.close()
    return counts


def _start_lean_publishers(
    base: str, sessions: list[dict], home: Path, env: dict
) -> subprocess.Popen | None:
    """``bench/webrtc_publisher.py`` for ``sessions``, their loops staggered 5 s apart so that
    the second person does not appear in every session at once."""
    if not sessions:
        return None
    spec = {
        "api": base,
        "sessions": [
            {"session_id": s["session_id"], "token": s["token"], "offset_s": 5.0 * n % 40}
            for n, s in enumerate(sessions)
        ],
    }
    path = home / "publishers.json"
    path.write_text(json.dumps(spec))
    with open(home / "publishers.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bench.webrtc_publisher", str(path)],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )


def _connected(lean: subprocess.Popen | None, count: int) -> dict[str, int]:
    """Each lean publisher's session and when its media connection came up (epoch ms)."""
    connected: dict[str, int] = {}
    while lean is not None and len(connected) < count:
        line = lean.stdout.readline()
        if not line:
            raise RuntimeError(f"the publishers stopped after {len(connected)} of {count}")
        reply = json.loads(line)
        connected[reply["session_id"]] = reply["connected_at_ms"]
    return connected


def _hand_in(lean: subprocess.Popen | None, connected: dict[str, int]) -> list[tuple[int, int]]:
    """Hand every lean session in; returns their (connected, closed) epoch ms."""
    if lean is None:
        return []
    lean.stdin.write("stop\n")
    lean.stdin.flush()
    spans = []
    for _ in connected:
        reply = json.loads(lean.stdout.readline())
        spans.append((connected[reply["session_id"]], reply["closed_at_ms"]))
    lean.wait(timeout=60)
    return spans


def _publishers_cpu_s(lean: subprocess.Popen | None, browsers: list[Chromium]) -> float:
    pids = [b.process.pid for b in browsers] + ([lean.pid] if lean is not None else [])
    return sum(_process_tree_cpu_s(pid) for pid in pids)


def run(
    sessions: int,
    seconds: int,
    keep: bool = False,
    chunk_seconds: int = 30,
    webcam_fps: int = 15,
    chromium_pages: int = 1,
) -> dict:
    home = Path(tempfile.mkdtemp(prefix="proctorlake-bench-media-"))
    env = dict(os.environ)
    kafka_port = _free_port()
    env.update(
        PROCTORLAKE_HOME=str(home),
        PROCTORLAKE_KAFKA_PORT=str(kafka_port),
        PROCTORLAKE_KAFKA_CONTROLLER_PORT=str(_free_port()),
        PROCTORLAKE_KAFKA_BOOTSTRAP=f"127.0.0.1:{kafka_port}",
        PROCTORLAKE_API_PORT=str(_free_port()),
        PROCTORLAKE_GATEWAY_PORT=str(_free_port()),
        PROCTORLAKE_CHUNK_SECONDS=str(chunk_seconds),
    )
    os.environ.update(env)
    settings = load_settings()
    from proctorlake.app import launchers
    from proctorlake.storage.broker import start_broker, stop_broker
    from proctorlake.storage.object_store import manifest_key, open_object_store
    from realtime.api.auth import issue_token

    start_broker(settings)
    (gateway_spec,) = [s for s in launchers.service_specs(settings) if s.name == "gateway"]
    janus_pid = launchers.start(settings, gateway_spec).pid
    logs = open(home / "services.log", "ab")  # noqa: SIM115

    def launch(*args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, *args], cwd=REPO, env=env, stdout=logs, stderr=logs
        )

    api = launch("-m", "realtime.api.serve")
    workers = [
        launch("-m", "realtime.workers.launcher", "--only", kind)
        for kind in ("detectors", "lander")
    ]
    recorder = launch("-m", "realtime.workers.launcher", "--only", "recorder")
    sampler = launch("-m", "realtime.workers.launcher", "--only", "sampler")
    base = f"http://127.0.0.1:{settings.api_port}"
    stop = threading.Event()
    browsers: list[Chromium] = []
    lean: subprocess.Popen | None = None
    try:
        _wait_http(f"{base}/healthz", timeout_s=300)
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
        pages = []
        lean = _start_lean_publishers(base, created[chromium_pages:], home, env)
        if chromium_pages:  # one browser: at most PAGES_PER_BROWSER pages (checked in main)
            camera = render_webcam_frames(CAMERA, seed=5, fps=webcam_fps)
            video = write_y4m(home / "camera.y4m", camera, webcam_fps)
            log = home / "chromium.log"
            browsers.append(Chromium(home / "profile", video, log, extra_args=CHROMIUM_WEBRTC_ARGS))
        for number, session in enumerate(created[:chromium_pages]):  # as students arrive
            page = browsers[0].open(
                f"{base}/exam#session={session['session_id']}&token={session['token']}"
            )
            pages.append(page)
            try:
                page.wait_for(f"{CHAINS}.dataset.connectedAt !== undefined", 120)
            except TimeoutError as exc:
                status = page.evaluate("document.body.innerText.slice(0, 400)")
                raise TimeoutError(f"page {number} never connected; it shows: {status}") from exc
        connected = _connected(lean, len(created) - chromium_pages)
        gateway_pids = [janus_pid, recorder.pid, sampler.pid]
        parts_before = [_process_tree_cpu_s(p) for p in gateway_pids]
        publishers_before = _publishers_cpu_s(lean, browsers)
        time.sleep(seconds)  # the measured window: publishing for S seconds
        parts_steady = [
            _process_tree_cpu_s(p) - b for p, b in zip(gateway_pids, parts_before, strict=True)
        ]
        publishers_cpu_s = _publishers_cpu_s(lean, browsers) - publishers_before
        for page in pages:
            page.evaluate("document.getElementById('hand-in').click()")
        spans = [
            (int(p.evaluate(f"{CHAINS}.dataset.connectedAt")), int(time.time() * 1000))
            for p in pages
        ]
        spans += _hand_in(lean, connected)
        for browser in browsers:
            browser.close()
        browsers = []
        # Every session's last recording closes when its page leaves; wait for the chunks.
        raw_root = home / "gateway" / "recordings"
        deadline = time.monotonic() + 300
        while list(raw_root.glob("*/*.mjr")) and time.monotonic() < deadline:
            time.sleep(0.5)
        parts = [
            _process_tree_cpu_s(p) - b for p, b in zip(gateway_pids, parts_before, strict=True)
        ]
        cpu_s = sum(parts)
        # Per session-second of the measured window; the CPU includes storing the last chunks
        # after it (which also hold the seconds published before it: the safe side).
        store = open_object_store(settings)
        recorded = []
        published: dict[str, str] = {}  # what was published, per track (the first chunk's)
        for session in created:
            manifest = json.loads(store.get_bytes(manifest_key(session["session_id"])))
            total = 0.0
            for chunk in manifest["chunks"]:
                if chunk["track"] in published and chunk["track"] != "webcam":
                    continue  # only the webcam is decoded back; the screen's first is probed
                local = store.download(chunk["original_key"], home / "chunk.webm")
                if chunk["track"] not in published:
                    info = probe(local)
                    published[chunk["track"]] = f"{info.width}x{info.height}@{info.fps:.0f}fps"
                if chunk["track"] == "webcam":
                    total += _decoded_seconds(local)
            recorded.append(round(total, 2))
        frames = _frames_in_topic(settings, {s["session_id"] for s in created})
        published_s = [(end - begin) / 1000 for begin, end in spans]
        latencies = sorted(lat for lat, _ in alerts.values())
        per_session_s = cpu_s / (sessions * seconds)
        return {
            "sessions": sessions,
            "seconds": seconds,
            "chunk_seconds": chunk_seconds,
            "published_seconds_min": round(min(published_s), 2),
            "published": published,
            "recorded_seconds_min": min(recorded),
            "recorded_seconds_median": round(statistics.median(recorded), 3),
            "frames_sampled_per_session_s": round(
                statistics.mean(frames.values()) / statistics.mean(published_s), 3
            ),
            "gateway_cpu_s_per_session_s": round(per_session_s, 4),
            "sessions_per_core": round(1 / per_session_s, 1) if per_session_s else None,
            "steady_sessions_per_core": round(sessions * seconds / sum(parts_steady), 1),
            "alerts_received": len(latencies),
            "alert_p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
            if latencies
            else None,
            "chromium_pages": min(chromium_pages, sessions),
            "publishers_cpu_s": round(publishers_cpu_s, 1),
            "load_avg_after": _load(),
            "janus_cpu_s": round(_cpu_s(janus_pid), 2),
            # Where the gateway's CPU went in the window, per session-second.
            "cpu_s_per_session_s_by_process": {
                name: round(part / (sessions * seconds), 4)
                for name, part in zip(("janus", "recorder", "sampler"), parts, strict=True)
            },
        }
    finally:
        stop.set()
        if lean is not None and lean.poll() is None:
            lean.kill()
        for browser in browsers:
            browser.close()
        for process in [api, *workers, recorder, sampler]:
            process.terminate()
        for process in [api, *workers, recorder, sampler]:
            process.wait(timeout=30)
        launchers.stop(settings, gateway_spec)
        stop_broker(settings)
        logs.close()
        if sys.exc_info()[0] is None and not keep:
            shutil.rmtree(home, ignore_errors=True)  # chunks, broker log, profile: 100-300 MB
        else:
            failed = "failed: " if sys.exc_info()[0] is not None else ""
            print(f"{failed}logs kept in {home}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the temp home (logs, chunks)")
    parser.add_argument(
        "--webcam-fps",
        type=int,
        default=15,
        help="the fake camera's frame rate (a laptop camera sends 15-30)",
    )
    parser.add_argument(
        "--chunk-seconds",
        type=int,
        default=30,
        help="PROCTORLAKE_CHUNK_SECONDS (30: rotations inside a short run; the product's is 300)",
    )
    parser.add_argument(
        "--chromium-pages",
        type=int,
        default=1,
        help="sessions published by exam pages in Chromium (at most five: one browser); "
        "the rest by bench/webrtc_publisher.py",
    )
    args = parser.parse_args()
    if not 0 <= args.chromium_pages <= PAGES_PER_BROWSER:
        parser.error(f"--chromium-pages must be 0-{PAGES_PER_BROWSER} (one Chromium)")
    result = run(
        args.sessions,
        args.seconds,
        args.keep,
        args.chunk_seconds,
        args.webcam_fps,
        args.chromium_pages,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
