"""The batch analysis on a Spark standalone cluster gives the same incidents as local[2].

A master and two workers (each its own JVM, executors in their own processes; see
``tests/fixtures/spark_cluster.py``) run the session's Dagster analysis with
``PROCTORLAKE_STORAGE=s3`` on moto's server. The driver's ``PROCTORLAKE_HOME`` is hidden from
the workers, so an executor that read a driver-local path would fail here. The same
recordings analysed on ``local[2]`` (checkpoints removed in between, so both runs detect)
must give equal incidents, and Spark's event log must show tasks on both workers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from proctorlake.core.settings import Settings, load_settings
from proctorlake.storage import lake
from proctorlake.storage.object_store import object_keys_for_session, open_object_store
from proctorlake.storage.spark_session import C1_ONLY_JVM_OPTIONS
from tests.fixtures.batch_media import ingest, present_then_absent, render_screen, render_webcam
from tests.fixtures.spark_cluster import hides_paths, start_cluster, worker_executors

pytestmark = pytest.mark.slow

SESSION = "cluster-1"

ANALYSIS = textwrap.dedent(
    """
    import json
    from dagster import DagsterInstance
    from dagster_project.runs import materialize_session
    from proctorlake.core.settings import load_settings
    from proctorlake.storage.spark_session import get_spark

    settings = load_settings()
    run = materialize_session(settings, SESSION, DagsterInstance.ephemeral())
    spark = get_spark(settings)
    print(json.dumps({"success": run.success, "error": run.error, "checks": run.checks,
                      "app_id": spark.sparkContext.applicationId,
                      "master": spark.sparkContext.master}))
    spark.stop()  # closes the event log under its final name
    """
)


# The executors' JVMs stop at the C1 compiler, as the local driver does (spark_session): on two
# cores, six JVMs (driver, master, two workers, two executors) compiling with C2 made the
# cluster's first tasks take 10 s that take 1 s on local[2]; the cluster run took 162 s with
# C2 and 120 s without (quiet machine, 2026-11-30).
EXECUTOR_DEFAULTS = f"spark.executor.extraJavaOptions {C1_ONLY_JVM_OPTIONS}\n"


def analyse(master: str, events: Path) -> dict:
    """The session's Dagster analysis in a fresh process (its own JVM, S3 jars at start)."""
    events.mkdir()
    conf_dir = events.parent / f"{events.name}-conf"
    conf_dir.mkdir()
    (conf_dir / "spark-defaults.conf").write_text(EXECUTOR_DEFAULTS)
    env = os.environ | {
        "PROCTORLAKE_SPARK_MASTER": master,
        "PROCTORLAKE_SPARK_EVENT_LOG_DIR": events.as_uri(),
        "SPARK_LOCAL_IP": "127.0.0.1",  # the driver's own address, which executors call
        "SPARK_CONF_DIR": str(conf_dir),
    }
    done = subprocess.run(
        # The session goes in the code, not argv: a library in the checks parses sys.argv.
        [sys.executable, "-c", f"SESSION = {SESSION!r}\n{ANALYSIS}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["success"], result["error"]
    assert result["master"] == master and all(result["checks"].values()), result
    return result


def incidents(settings: Settings) -> list[dict]:
    rows = lake.read_table(settings, "incidents").to_pylist()
    return sorted(rows, key=lambda r: r["incident_id"])


def drop_checkpoints(settings: Settings) -> int:
    store = open_object_store(settings)
    keys = list(store.list(f"{object_keys_for_session(SESSION)}checkpoints/"))
    for key in keys:
        store.delete_all_versions(key)
    return len(keys)


def tasks_per_executor(events: Path, app_id: str) -> Counter:
    """Successful task ends per executor id, from the application's event log (Spark 4
    writes it as a folder ``eventlog_v2_<app id>`` of ``events_<n>_<app id>`` files)."""
    ended: Counter = Counter()
    logs = [p for p in events.rglob(f"events_*{app_id}*") if p.is_file()]
    assert logs, sorted(p.name for p in events.rglob("*"))
    for path in logs:
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if (
                event["Event"] == "SparkListenerTaskEnd"
                and event["Task End Reason"]["Reason"] == "Success"
            ):
                ended[event["Task Info"]["Executor ID"]] += 1
    return ended


def test_cluster_incidents_equal_local(
    s3_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROCTORLAKE_CHUNK_SECONDS", "10")
    settings = load_settings()
    # 20 s in 10 s chunks: two chunks a track, four detection tasks for two workers, and an
    # absence that crosses the chunk boundary.
    webcam = render_webcam(tmp_path / "webcam.mp4", present_then_absent(20, 5, 10))
    ingest(settings, SESSION, webcam, render_screen(tmp_path / "screen.mp4", 20))

    analyse("local[2]", tmp_path / "events-local")
    local = incidents(settings)
    assert {"face_not_visible", "unauthorized_app"} <= {i["incident_type"] for i in local}
    assert drop_checkpoints(settings) == 4  # 2 webcam + 2 screen chunks, all detected again

    hidden = settings.home if hides_paths() else None
    (tmp_path / "cluster").mkdir()
    cluster = start_cluster(hidden, tmp_path / "cluster")
    try:
        events = tmp_path / "events-cluster"
        run = analyse(cluster.master_url, events)
        assert incidents(settings) == local
        assert drop_checkpoints(settings) == 4  # the cluster's executors detected every chunk

        ended = tasks_per_executor(events, run["app_id"])
        per_worker = [worker_executors(w, run["app_id"]) for w in cluster.workers]
        assert all(per_worker), (per_worker, cluster.tail_logs())
        assert all(sum(ended[e] for e in executors) > 0 for executors in per_worker), (
            per_worker,
            ended,
        )
        assert sum(ended.values()) >= 4
    finally:
        cluster.stop()
