"""Shared by the throughput benches: render real-face recordings, ingest them, time the Spark
analysis in its own process per core count, and split one chunk's time into decode and
detection.

Each core count gets a fresh process (``python -m bench.batch_runs``) with ``local[N]``
that starts Spark, then analyses the session ``repeat`` times, checkpoints cleared before
each, so every run analyses every chunk. The first run is cold (first Delta read, Python
workers starting, models loading); later runs are what a warm server (``proctorlake up``'s
Spark Connect) gives every run, and the fastest of them is the warm figure (``warm_run``).
Each run reports wall and CPU seconds; CPU is the whole process tree's (driver, JVM, Python
workers), so it is fair on a shared machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
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


def clear_checkpoints(settings: Settings, session_ids: Sequence[str] = (SESSION,)) -> int:
    """Delete the sessions' chunk checkpoints, so every chunk is analysed again; returns how
    many."""
    store = open_object_store(settings)
    cleared = 0
    for session_id in session_ids:
        for key in list(store.list(f"sessions/{session_id}/checkpoints/")):
            store.delete_all_versions(key)
            cleared += 1
    return cleared


def tree_cpu_s(root: int | None = None) -> float:
    """CPU seconds of a process and all its descendants: live ones from ``/proc``, reaped
    ones through their parents' ``cutime``/``cstime``."""
    tick = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        procs[int(entry.name)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
    total, stack = 0, [root or os.getpid()]
    while stack:
        pid = stack.pop()
        total += procs.get(pid, (0, 0))[1]
        stack += [child for child, (parent, _) in procs.items() if parent == pid]
    return total / tick


def spark_run(
    settings: Settings,
    cores: int,
    tracks: tuple[str, ...],
    repeat: int = 1,
    server_jvm: bool = False,
) -> dict:
    """Analyses in one fresh process on ``local[cores]``: Spark's start, then ``repeat``
    runs. Returns ``startup_s``/``startup_cpu_s``, ``runs`` (wall, CPU, job figures each),
    the first run's figures at the top level (``total_s``) and the process's wall time."""
    command = [sys.executable, "-m", "bench.batch_runs", "--session", SESSION]
    command += ["--cores", str(cores), "--repeat", str(repeat)]
    for track in tracks:
        command += ["--track", track]
    command += ["--server-jvm"] if server_jvm else []
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"analysis on {cores} cores failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result | result["runs"][0] | {"process_wall_s": round(wall, 2)}


def warm_run(result: dict) -> dict:
    """The fastest of a process's warm runs (every run after the first; the first when there
    is no other). The minimum, as ``timeit`` takes it: on a shared 2-core machine a warm run's
    wall time varied by a fifth from run to run (29-38 s for the same 12 tasks on
    ``local[2]``, 2026-12-01), and that noise only ever adds time."""
    warm = result["runs"][1:] or result["runs"]
    return min(warm, key=lambda run: run["total_s"])


def fixed_and_variable(result: dict, video_s: float) -> dict:
    """A cold process's fixed cost per run (Spark's start plus what the first run pays more
    than a warm one) beside the warm per-video-second cost, in wall and CPU seconds."""
    cold, warm = result["runs"][0], warm_run(result)
    return {
        "fixed_wall_s": round(result["startup_s"] + cold["total_s"] - warm["total_s"], 2),
        "fixed_cpu_s": round(result["startup_cpu_s"] + cold["cpu_s"] - warm["cpu_s"], 2),
        "warm_run_wall_s": warm["total_s"],
        "warm_run_cpu_s": warm["cpu_s"],
        "wall_s_per_video_s": round(warm["total_s"] / video_s, 4),
        "cpu_s_per_video_s": round(warm["cpu_s"] / video_s, 4),
    }


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


def main(argv: list[str] | None = None) -> None:
    """The child process of :func:`spark_run`: start Spark, analyse ``--repeat`` times."""
    import argparse

    from proctorlake.storage.spark_session import get_spark
    from spark_jobs.analyze_sessions import run_detection, run_incidents

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--session", action="append", required=True, dest="sessions")
    parser.add_argument("--cores", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--track", action="append", dest="tracks")
    parser.add_argument("--server-jvm", action="store_true", help="JVM set up as Connect's")
    args = parser.parse_args(argv)
    settings = load_settings()
    tracks = tuple(args.tracks or ("webcam", "screen"))
    started, cpu = time.monotonic(), tree_cpu_s()
    spark = get_spark(
        settings, app_name="proctorlake-bench", cores=args.cores, long_lived=args.server_jvm
    )
    result: dict = {
        "startup_s": round(time.monotonic() - started, 3),
        "startup_cpu_s": round(tree_cpu_s() - cpu, 2),
        "runs": [],
    }
    for _ in range(args.repeat):
        clear_checkpoints(settings)
        started, cpu = time.monotonic(), tree_cpu_s()
        detection = run_detection(spark, settings, args.sessions, tracks)
        detected_s = time.monotonic() - started
        incidents = run_incidents(spark, settings, args.sessions)
        result["runs"].append(
            {
                "chunks": detection.chunks,
                "detection_rows": detection.rows,
                "screen_frames_reused": detection.screen_frames_reused,
                "incidents": incidents,
                "detection_s": round(detected_s, 3),
                "total_s": round(time.monotonic() - started, 3),
                "cpu_s": round(tree_cpu_s() - cpu, 2),
            }
        )
    print(json.dumps(result))
    spark.stop()


if __name__ == "__main__":
    main()
