"""Issue 19's window: N recorded sessions analysed through Dagster, the analysis timed alone.

Renders and ingests the demo's sessions into ``--home`` the first time (seeded real faces,
webcam + screen; kept for the next run, since a 20 x 30 min window takes ~25 min to make),
then clears their chunk checkpoints and times ``analyze_in_dagster`` in this process, the
demo's path: in-process Spark (``PROCTORLAKE_SPARK_MASTER``, ``local[2]`` by default),
``--sessions-per-run`` sessions to a run. The last line is a JSON object with the analysis
wall and CPU seconds (CPU of the whole process tree), the runs, and session-seconds
analysed per second.

    .venv/bin/python bench/exam_window.py --home /tmp/window [--sessions 20] [--minutes 30]
        [--render-fps 1] [--sessions-per-run 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.batch_runs import clear_checkpoints, tree_cpu_s  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="PROCTORLAKE_HOME, kept between runs")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--render-fps", type=int, default=1)
    parser.add_argument("--sessions-per-run", type=int, default=8)
    args = parser.parse_args()
    os.environ["PROCTORLAKE_HOME"] = str(Path(args.home).resolve())
    os.environ["PROCTORLAKE_DAGSTER_SESSIONS_PER_RUN"] = str(args.sessions_per_run)

    from dagster import DagsterInstance

    from dagster_project.runs import analyze_in_dagster
    from proctorlake.app.demo import DemoOptions, render_and_ingest
    from proctorlake.core.settings import load_settings
    from proctorlake.storage import lake

    def say(message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)

    settings = load_settings()
    options = DemoOptions(
        sessions=args.sessions,
        duration_s=args.minutes * 60,
        render_fps=args.render_fps,
        start_services=False,
    )
    lake.ensure_all_tables(settings)
    started = time.monotonic()
    session_ids = render_and_ingest(settings, options, say)
    prepared_s = time.monotonic() - started
    cleared = clear_checkpoints(settings, session_ids)
    say(f"{cleared} chunk checkpoints cleared: every chunk is analysed again")
    instance = DagsterInstance.ephemeral()
    started, cpu = time.monotonic(), tree_cpu_s()
    runs = analyze_in_dagster(settings, session_ids, instance, say)
    analysis_s = time.monotonic() - started
    session_s = args.sessions * args.minutes * 60
    video_s = 2 * session_s  # webcam + screen
    print(
        json.dumps(
            {
                "sessions": args.sessions,
                "minutes": args.minutes,
                "sessions_per_run": args.sessions_per_run,
                "spark_master": settings.spark_master,
                "prepare_s": round(prepared_s, 1),
                "analysis_s": round(analysis_s, 1),
                "analysis_cpu_s": round(tree_cpu_s() - cpu, 1),
                "dagster_runs": len({r.run_id for r in runs}),
                "sessions_ok": sum(r.success for r in runs),
                "video_s_both_tracks": video_s,
                "session_s_per_analysis_s": round(session_s / analysis_s, 1),
                "load_average_1min": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
