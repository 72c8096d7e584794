"""Issue 5's bench: both tracks through the Spark analysis on local[1] and local[2].

A generated real-face webcam recording (1 frame/s: face count + head pose) and a screen
recording (1 frame/10 s: OCR of window titles), ingested into chunks; the Spark job analyses
both tracks, each core count in a fresh process with checkpoints cleared. Prints video
seconds (of one exam session, both tracks) analysed per wall second, the time split per
track, and what the 1-core figure implies for the seed's 135 TB exam window. The last line
is a JSON object with ``realtime_factor_1core``, ``realtime_factor_2core`` and ``scaling``.

    .venv/bin/python bench/batch_throughput.py [--minutes 4] [--chunk-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.batch_runs import prepare, spark_run, time_split  # noqa: E402

WINDOW_BYTES = 135e12
"""The seed's exam window: 135 TB of stored recordings."""
CLUSTER_HOURS = 24.0


def implied_for_window(factor_per_core: float, bytes_per_video_s: float) -> dict:
    """Session-seconds in 135 TB at this bench's bytes per session-second, and the cores
    needed to analyse them in a day at the measured per-core rate (linear scaling assumed)."""
    session_s = WINDOW_BYTES / bytes_per_video_s
    core_hours = session_s / factor_per_core / 3600
    return {
        "bytes_per_session_s": round(bytes_per_video_s),
        "session_hours": round(session_s / 3600),
        "core_hours": round(core_hours),
        "cores_for_24h": round(core_hours / CLUSTER_HOURS),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--chunk-seconds", type=int, default=60)
    parser.add_argument("--render-fps", type=int, default=15, help="fps of the rendered source")
    args = parser.parse_args()
    video_s = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="proctorlake-bench-home-") as home:
        settings, prep = prepare(
            Path(home), video_s, args.chunk_seconds, screen=True, render_fps=args.render_fps
        )
        runs = {}
        for cores in (1, 2):
            runs[cores] = spark_run(settings, cores, ("webcam", "screen"))
            print(f"local[{cores}]: {runs[cores]}", flush=True)
        split = [time_split(settings, "webcam"), time_split(settings, "screen")]
    factor = {c: round(video_s / r["total_s"], 1) for c, r in runs.items()}
    result = {
        "video_s": video_s,
        "tracks": ["webcam", "screen"],
        "chunk_seconds": args.chunk_seconds,
        "realtime_factor_1core": factor[1],
        "realtime_factor_2core": factor[2],
        "scaling": round(factor[2] / factor[1], 2),
        "end_to_end_factor": {
            str(c): round(video_s / r["process_wall_s"], 1) for c, r in runs.items()
        },
        "time_split": split,
        "window_135tb": implied_for_window(factor[1], prep["original_bytes"] / video_s),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
