"""The code location loads the way the Dagster UI loads it: from workspace.yaml, in its own
gRPC server process, with every asset, check, job, schedule and sensor in place."""

from pathlib import Path

import pytest
from dagster import DagsterInstance
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

from proctorlake.core.settings import REPO_ROOT

pytestmark = pytest.mark.slow


def test_workspace_loads_like_the_ui(tmp_path: Path) -> None:
    target = WorkspaceFileTarget(paths=[str(REPO_ROOT / "workspace.yaml")])
    with (
        DagsterInstance.local_temp(str(tmp_path)) as instance,
        WorkspaceProcessContext(instance, target) as context,
    ):
        workspace = context.create_request_context()
        errors = workspace.code_location_errors()
        assert not errors, errors
        (entry,) = workspace.get_code_location_entries().values()
        (repository,) = entry.code_location.get_repositories().values()
        assets = {n.asset_key.to_user_string() for n in repository.get_asset_node_snaps()}
        checks = {c.name for c in repository.get_asset_check_node_snaps()}
        jobs = {j.name for j in repository.get_all_jobs()}
        schedules = {s.name for s in repository.get_schedules()}
        sensors = {s.name for s in repository.get_sensors()}
    assert {
        "bronze/media_chunks",
        "silver/detection_events",
        "gold/incidents",
        "gold/session_reports",
        "gold/institution_daily",
    } <= assets
    assert checks == {
        "media_chunks_quality",
        "detection_events_quality",
        "incidents_quality",
        "session_reports_quality",
    }
    assert {"analyze_session", "institution_statistics", "maintain_tables_job"} <= jobs
    assert {"maintain_tables_job_schedule", "institution_statistics_schedule"} <= schedules
    assert "ended_sessions_sensor" in sensors
