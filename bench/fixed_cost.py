"""Issue 19's profile: what a cold Spark run pays once, item by item, in wall and CPU seconds.

In a fresh process on ``local[1]`` with an empty lakehouse: Spark's start (JVM, jars, Delta
extensions), the first and a second Delta read, the first and a second Python task (a
Python worker starting, then reused), and the detectors' model loads inside a worker (first
call, then again). Each item is timed twice where it repeats, so the difference is what a
warm server saves. CPU is the whole process tree's (fair on a shared machine). The last
line is a JSON object.

    .venv/bin/python bench/fixed_cost.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.batch_runs import tree_cpu_s  # noqa: E402


def noop(batches):
    yield from batches


def load_models(batches):
    """Load both tracks' models in this worker (a blank frame through each detector)."""
    import numpy as np

    from spark_jobs.observation_rows import run_detectors

    for batch in batches:
        run_detectors("webcam", [np.zeros((480, 640, 3), np.uint8)], [0.0])
        run_detectors("screen", [np.zeros((720, 1280, 3), np.uint8)], [0.0])
        yield batch


def timed(what: str, action, figures: dict) -> None:
    started, cpu = time.monotonic(), tree_cpu_s()
    action()
    figures[what] = {
        "wall_s": round(time.monotonic() - started, 2),
        "cpu_s": round(tree_cpu_s() - cpu, 2),
    }
    print(what, figures[what], flush=True)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="proctorlake-fixed-cost-") as home:
        os.environ["PROCTORLAKE_HOME"] = home
        from proctorlake.core import schemas
        from proctorlake.core.settings import load_settings
        from proctorlake.storage import lake
        from proctorlake.storage.spark_session import get_spark

        settings = load_settings()
        lake.ensure_table(settings, schemas.MEDIA_CHUNKS)
        figures: dict = {}
        spark = None

        def start() -> None:
            nonlocal spark
            spark = get_spark(settings, app_name="proctorlake-fixed-cost", cores=1)

        def read() -> None:
            spark.read.format("delta").load(settings.table_uri("media_chunks")).count()

        def task() -> None:
            spark.range(0, 1, 1, 1).mapInPandas(noop, "id long").collect()

        def models() -> None:
            spark.range(0, 1, 1, 1).mapInPandas(load_models, "id long").collect()

        timed("spark_start", start, figures)
        timed("delta_read_first", read, figures)
        timed("delta_read_again", read, figures)
        timed("python_task_first", task, figures)
        timed("python_task_again", task, figures)
        timed("model_load_first", models, figures)
        timed("model_load_again", models, figures)
        spark.stop()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
