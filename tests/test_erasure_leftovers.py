"""Security review #12: what erasure used to miss.

- a writer merging the session's rows while the erasure runs cannot bring them back;
- a scratch folder a crashed process left behind is found and removed;
- the stream workers' checkpointed state loses the session's entry (and only it);
- Dagster forgets the session's partition, its runs and their materializations.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from pathlib import Path

from dagster import DagsterInstance, asset, materialize

from dagster_project.erased_partitions import forget_erased_partitions
from dagster_project.partitions import session_partitions
from models.temporal_rules import SessionRules
from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.governance import erased_sessions
from proctorlake.governance.erasure.runner import erase_session
from proctorlake.storage import lake
from proctorlake.storage.scratch import session_scratch_dir
from proctorlake.storage.session_checkpoints import checkpoint_dir, write_checkpoint
from realtime.api.session_registry import ExamSession
from realtime.workers.incident_aggregator import IncidentAggregator, SessionTrack


def _session_row(session_id: str) -> dict:
    return ExamSession(
        session_id, "inst-a", "stu-1", "exam-1", "ai_human", "active", dt.datetime.now(dt.UTC)
    ).row()


def _rows(settings: Settings, session_id: str) -> int:
    table = lake.read_table(settings, schemas.EXAM_SESSIONS.name)
    return sum(1 for s in table["session_id"].to_pylist() if s == session_id)


def _keep_merging(settings: Settings, session_id: str, stop: threading.Event, out: dict) -> None:
    """What the API's exam_sessions group commit does on every session change."""
    row = _session_row(session_id)
    while True:
        last = stop.is_set()
        kept = erased_sessions.merge_unerased_rows(
            settings, schemas.EXAM_SESSIONS, [row], ["session_id"]
        )
        out["merged"] += kept
        if last:
            out["final"] = kept
            return


def test_a_merge_racing_the_erasure_does_not_resurrect_the_rows(settings: Settings) -> None:
    session_id = "s-race"
    lake.merge_rows(settings, schemas.EXAM_SESSIONS, [_session_row(session_id)], ["session_id"])
    stop, out = threading.Event(), {"merged": 0}
    writer = threading.Thread(target=_keep_merging, args=(settings, session_id, stop, out))
    writer.start()
    try:
        certificate = erase_session(settings, session_id)
    finally:
        stop.set()
        writer.join(timeout=120)
    assert certificate.body["session_ids"] == [session_id]
    assert out["merged"] >= 1  # the writer was committing while the erasure started
    assert out["final"] == 0  # ... and the write after it was refused
    assert _rows(settings, session_id) == 0
    assert (
        erased_sessions.merge_unerased_rows(
            settings, schemas.EXAM_SESSIONS, [_session_row(session_id)], ["session_id"]
        )
        == 0
    )
    assert _rows(settings, session_id) == 0


def test_erasure_removes_crash_leftovers_and_worker_checkpoint_entries(
    settings: Settings, proctorlake_home: Path
) -> None:
    session_id, other = "s-leftovers", "s-kept"
    for sid in (session_id, other):
        lake.merge_rows(settings, schemas.EXAM_SESSIONS, [_session_row(sid)], ["session_id"])
    crash = (
        "import os\n"
        "from proctorlake.core.settings import load_settings\n"
        "from proctorlake.storage.scratch import session_scratch\n"
        f"with session_scratch(load_settings(), 'segments', {session_id!r}) as tmp:\n"
        "    (tmp / 'segment.webm').write_bytes(b'video of the student')\n"
        "    os._exit(3)\n"
    )
    crashed = subprocess.run([sys.executable, "-c", crash], check=False)
    assert crashed.returncode == 3
    leftover = session_scratch_dir(settings, "segments", session_id)
    assert [p.name for p in leftover.rglob("*") if p.is_file()] == ["segment.webm"]

    aggregator = IncidentAggregator()
    for sid in (session_id, other):
        aggregator.sessions[sid] = SessionTrack(SessionRules(sid))
    checkpoint = checkpoint_dir(settings) / "detectors-frames.webcam-0.pickle"
    write_checkpoint(checkpoint, aggregator.dumps())

    certificate = erase_session(settings, session_id)
    assert certificate.body["stores"]["caches"]["worker_checkpoints_rewritten"] == 1
    assert not leftover.exists()
    assert list(IncidentAggregator.loads(checkpoint.read_bytes()).sessions) == [other]


@asset(partitions_def=session_partitions)
def session_probe() -> int:
    return 1


def test_dagster_forgets_an_erased_sessions_partition_runs_and_materializations(
    settings: Settings, tmp_path: Path
) -> None:
    session_id, other = "s-dagster", "s-dagster-kept"
    (tmp_path / "dagster").mkdir()
    with DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:
        instance.add_dynamic_partitions(session_partitions.name, [session_id, other])
        for key in (session_id, other):
            assert materialize([session_probe], partition_key=key, instance=instance).success
        asset_key = session_probe.key
        assert instance.get_materialized_partitions(asset_key) == {session_id, other}

        assert forget_erased_partitions(instance, settings) == []  # nothing erased yet
        erased_sessions.seal_off(settings, [session_id])
        assert forget_erased_partitions(instance, settings) == [session_id]

        assert instance.get_dynamic_partitions(session_partitions.name) == [other]
        assert instance.get_materialized_partitions(asset_key) == {other}
        tagged = instance.get_run_records()
        assert [r.dagster_run.tags["dagster/partition"] for r in tagged] == [other]
