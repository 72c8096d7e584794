"""Chunk-level checkpoints on real Spark: a run killed mid-way resumes without redoing chunks.

The first run is a real ``python -m spark_jobs.analyze_sessions`` process on one core,
killed (SIGKILL, its whole process group: the JVM and the Python workers) as soon as some
chunks are checkpointed. Every checkpoint records the run that wrote it, so the re-run
proves which chunks it read back and which it analysed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from proctorlake.core.settings import REPO_ROOT, Settings, load_settings
from proctorlake.storage import lake
from proctorlake.storage.object_store import open_object_store
from spark_jobs.analyze_sessions import run_detection, run_incidents
from spark_jobs.chunk_checkpoints import checkpoint_run_id
from tests.fixtures.batch_media import ingest, present_then_absent, render_webcam

pytestmark = pytest.mark.slow

CHUNK_SECONDS = 5
DURATION_S = 60
SESSION = "ckpt-1"


@pytest.fixture
def chunked_settings(proctorlake_home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PROCTORLAKE_CHUNK_SECONDS", str(CHUNK_SECONDS))
    return load_settings()


def checkpoints(settings: Settings) -> dict[str, str]:
    """Checkpoint key -> the run id that wrote it."""
    store = open_object_store(settings)
    keys = store.list(f"sessions/{SESSION}/checkpoints/")
    return {k: checkpoint_run_id(store.get_bytes(k)) for k in keys}


def run_and_kill_after(settings: Settings, finished: int, run_id: str) -> None:
    command = [sys.executable, "-m", "spark_jobs.analyze_sessions", "--session", SESSION]
    command += ["--cores", "1", "--run-id", run_id]
    env = dict(os.environ, PROCTORLAKE_HOME=str(settings.home))
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while len(checkpoints(settings)) < finished:
            if process.poll() is not None:
                pytest.fail(f"job ended before the kill:\n{process.stdout.read().decode()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoints written in time")
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def test_killed_run_resumes_from_checkpoints_and_reruns_are_identical(
    spark, chunked_settings: Settings, tmp_path: Path
) -> None:
    settings = chunked_settings
    webcam = render_webcam(tmp_path / "exam.mp4", present_then_absent(DURATION_S, 20, 15))
    ingest(settings, SESSION, webcam)
    chunks = DURATION_S // CHUNK_SECONDS

    run_and_kill_after(settings, finished=2, run_id="first")
    before = checkpoints(settings)
    assert 2 <= len(before) < chunks, "the kill must land mid-way"
    assert set(before.values()) == {"first"}
    assert lake.read_table(settings, "detection_events").num_rows == 0  # nothing assembled

    resumed = run_detection(spark, settings, [SESSION], run_id="second")
    after = checkpoints(settings)
    assert resumed.chunks == chunks
    assert resumed.reused_chunks == len(before)
    assert resumed.detected_chunks == chunks - len(before)
    # Finished chunks were read back, not redone: their checkpoints are the first run's.
    assert {k: v for k, v in after.items() if k in before} == before
    assert sorted(v for k, v in after.items() if k not in before) == ["second"] * (
        chunks - len(before)
    )
    assert resumed.rows == pytest.approx(DURATION_S, abs=2)
    incidents = run_incidents(spark, settings, [SESSION])
    rows = lake.read_table(settings, "incidents").to_pylist()
    assert [r["incident_type"] for r in rows] == ["face_not_visible"]
    assert rows[0]["start_s"] == pytest.approx(20, abs=2)
    assert rows[0]["end_s"] == pytest.approx(35, abs=2)

    # Re-running the partition changes nothing: same counts, no chunk analysed again.
    again = run_detection(spark, settings, [SESSION], run_id="third")
    assert (again.reused_chunks, again.detected_chunks, again.rows) == (chunks, 0, resumed.rows)
    assert run_incidents(spark, settings, [SESSION]) == incidents == 1
    assert checkpoints(settings) == after
    assert lake.read_table(settings, "detection_events").num_rows == resumed.rows
