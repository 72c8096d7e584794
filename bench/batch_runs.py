"""Shared by the throughput benches: render real-face recordings, ingest them, time the Spark
analysis in its own process per core count, and split one chunk's time into decode and
detection.

Each Spark run is a fresh ``python -m spark_jobs.analyze_sessions`` process with
``local[N]``, checkpoints cleared first, so every run analyses every chunk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from proctorlake.core.settings import REPO_ROOT, Settings, load_settings
from proctorlake.samples.screen import ScreenSegment, make_screen_recording
from proctorlake.samples.webcam import Segment, WebcamScript, make_webcam_recording
from proctorlake.services.ingest import SessionIdentity, ingest_recording
from proctorlake.storage import lake
from proctorlake.storage.object_store import open_object_store

SESSION = "bench-1"


def exam_script(duration_s: float) -> WebcamScript:
    """Mostly present, with a second person, an absence and a turned head every 2 minutes."""
    segments: list[Segment] = []
    t = 0.0
    while t < duration_s:
        block = (
            Segment("present", 80.0),
            Segment("second_person", 15.0),
            Segment("present", 10.0),
            Segment("absent", 10.0),
            Segment("turned", 5.0, yaw_deg=50.0),
        )
        for seg in block:
            length = min(seg.duration_s, duration_s - t)
            if length <= 0:
                break
            segments.append(Segment(seg.kind, length, seg.gamma, seg.yaw_deg))
            t += length
    return WebcamScript(tuple(segments), "astronaut", "grace_hopper", background_seed=3)


def screen_segments(duration_s: float) -> tuple[ScreenSegment, ...]:
    third = duration_s / 3
    return (
        ScreenSegment(third, "exam"),
        ScreenSegment(third, "chatgpt", "exam"),
        ScreenSegment(duration_s - 2 * third, "exam"),
    )


def prepare(
    home: Path, duration_s: float, chunk_s: int, screen: bool, render_fps: int = 15
) -> tuple[Settings, dict]:
    """Render and ingest one session into ``home``; returns settings and the timings.

    A long recording can be rendered at a lower ``render_fps`` (cheaper to make and to
    ingest: the analysis copy keeps the source's rate). The analysis decodes one keyframe per
    sampled second at any rate, so its work is the same either way."""
    os.environ["PROCTORLAKE_HOME"] = str(home)
    os.environ["PROCTORLAKE_CHUNK_SECONDS"] = str(chunk_s)
    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="proctorlake-bench-") as tmp:
        webcam = Path(tmp) / "webcam.webm"
        started = time.monotonic()
        make_webcam_recording(
            webcam, exam_script(duration_s), seed=3, fps=render_fps, codec="libvpx"
        )
        screen_path = None
        if screen:
            screen_path = Path(tmp) / "screen.mp4"
            make_screen_recording(screen_path, screen_segments(duration_s), seed=3)
        rendered_s = time.monotonic() - started
        started = time.monotonic()
        identity = SessionIdentity(SESSION, "stu-bench", "exam-bench", "uni-bench")
        ingest_recording(settings, identity, webcam, screen_path)
        ingest_s = time.monotonic() - started
    originals = (
        lake.duckdb_connection(settings)
        .execute("select distinct original_key from media_chunks where session_id = ?", [SESSION])
        .fetchall()
    )
    stored = sum((settings.objects_root / key).stat().st_size for (key,) in originals if key)
    return settings, {"render_s": rendered_s, "ingest_s": ingest_s, "original_bytes": stored}


def clear_checkpoints(settings: Settings) -> None:
    store = open_object_store(settings)
    for key in list(store.list(f"sessions/{SESSION}/checkpoints/")):
        store.delete_all_versions(key)


def spark_run(settings: Settings, cores: int, tracks: tuple[str, ...]) -> dict:
    """One analysis in a fresh process on ``local[cores]``; the job's JSON plus wall time."""
    clear_checkpoints(settings)
    command = [sys.executable, "-m", "spark_jobs.analyze_sessions", "--session", SESSION]
    command += ["--cores", str(cores)]
    for track in tracks:
        command += ["--track", track]
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"analysis on {cores} cores failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result | {"process_wall_s": round(wall, 2)}


def time_split(settings: Settings, track: str) -> dict:
    """Seconds per video second spent decoding vs detecting, on one chunk, one core."""
    import av  # noqa: F401  (before decord)

    from proctorlake.storage.video import sample_frames
    from spark_jobs.detect_chunks import FRAME_BATCH, SAMPLE_EVERY_S
    from spark_jobs.observation_rows import run_detectors

    key = next(
        k
        for k in open_object_store(settings).list(f"sessions/{SESSION}/{track}/")
        if k.endswith(".mp4")
    )
    path = settings.objects_root / key
    started = time.process_time()
    sampled = list(sample_frames(path, SAMPLE_EVERY_S[track]))
    decode_cpu = time.process_time() - started
    run_detectors(track, [sampled[0][1]], [sampled[0][0]])  # load models outside the timing
    started = time.process_time()
    for i in range(0, len(sampled), FRAME_BATCH):
        batch = sampled[i : i + FRAME_BATCH]
        run_detectors(track, [f for _, f in batch], [t for t, _ in batch])
    detect_cpu = time.process_time() - started
    video_s = len(sampled) * SAMPLE_EVERY_S[track]
    return {
        "track": track,
        "video_s": video_s,
        "decode_cpu_s_per_video_s": round(decode_cpu / video_s, 4),
        "detect_cpu_s_per_video_s": round(detect_cpu / video_s, 4),
    }
