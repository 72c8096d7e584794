"""The warm Spark server: `proctorlake up`'s Spark Connect service, and runs attached to it.

The service is started as `up` starts it (Spark's own Connect server, ``spark-submit``), a
short real-face session (webcam + screen) is analysed by ``spark_jobs.analyze_sessions`` in
two client processes one after the other (each Dagster run is such a process), and:
- the first client's rows and incidents land in Delta (mapInPandas with the models, the
  temporal rules' applyInPandas and Delta's replaceWhere all run over Connect);
- the second run replaces them (same counts) and ran in the *same* Python workers as the
  first, so models are loaded once per worker, not once per run.
Clients run in subprocesses: a Connect session switches pyspark to Connect mode for the
whole process, which the in-process Spark fixture of other tests must not see.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proctorlake.app import launchers
from proctorlake.core.settings import REPO_ROOT, Settings, load_settings
from proctorlake.storage import lake
from proctorlake.storage.spark_session import connect_url
from tests.fixtures.batch_media import ingest, present_then_absent, render_screen, render_webcam
from tests.fixtures.broker import free_port

pytestmark = pytest.mark.slow

WORKER_PIDS = """
import json, os
from proctorlake.core.settings import load_settings
from proctorlake.storage.spark_session import get_spark

def pids(batches):
    import os
    import pandas as pd
    for batch in batches:
        yield pd.DataFrame({"pid": [os.getpid()] * len(batch)})

spark = get_spark(load_settings(), app_name="proctorlake-analysis")
rows = spark.range(0, 4, 1, 4).mapInPandas(pids, "pid long").collect()
print(json.dumps(sorted({r.pid for r in rows})))
"""


def client(settings: Settings, *args: str) -> str:
    """Run a client process attached to the Connect server; its last stdout line."""
    env = os.environ | {
        "PROCTORLAKE_HOME": str(settings.home),
        "PROCTORLAKE_SPARK_REMOTE": connect_url(settings),
        "PYTHONPATH": str(REPO_ROOT),
    }
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_runs_attach_to_a_warm_connect_server(
    proctorlake_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROCTORLAKE_CHUNK_SECONDS", "10")
    monkeypatch.setenv("PROCTORLAKE_SPARK_CONNECT_PORT", str(free_port()))
    monkeypatch.delenv("PROCTORLAKE_SPARK_REMOTE", raising=False)
    settings = load_settings()
    specs = {s.name: s for s in launchers.service_specs(settings)}
    assert dict(specs["dagster"].env)["PROCTORLAKE_SPARK_REMOTE"] == connect_url(settings)
    webcam = render_webcam(tmp_path / "webcam.mp4", present_then_absent(30, 8, 12))
    ingest(settings, "warm-1", webcam, render_screen(tmp_path / "screen.mp4", 30))

    state = launchers.start(settings, specs["spark"], timeout_s=300)
    try:
        assert state.running
        analysis = ("-m", "spark_jobs.analyze_sessions", "--session", "warm-1")
        first = json.loads(client(settings, *analysis))
        first_pids = set(json.loads(client(settings, "-c", WORKER_PIDS)))
        second = json.loads(client(settings, *analysis, "--run-id", "second"))
        second_pids = set(json.loads(client(settings, "-c", WORKER_PIDS)))
    finally:
        launchers.stop(settings, specs["spark"])

    assert first["chunks"] == 6 and first["detection_rows"] == 30 + 3
    assert (second["detection_rows"], second["incidents"]) == (
        first["detection_rows"],
        first["incidents"],
    )
    assert second["reused_chunks"] == 6  # checkpoints of the first run, read back
    assert first_pids and first_pids == second_pids  # the same warm Python workers
    types = {
        t
        for (t,) in lake.duckdb_connection(settings)
        .execute("select incident_type from incidents where session_id = 'warm-1'")
        .fetchall()
    }
    assert {"face_not_visible", "unauthorized_app"} <= types
