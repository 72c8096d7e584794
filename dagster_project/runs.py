"""Launching the analysis in-process on an instance the UI reads (demo, benches, tests).

``analyze_in_dagster`` materializes each session's partition (assets and their blocking
checks), carries on past a session that fails (a corrupt chunk fails only its own
partition), then refreshes the institution statistics.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dagster import AssetsDefinition, DagsterEventType, DagsterInstance, materialize

from dagster_project.assets import analysis, reports
from dagster_project.checks import quality_checks
from dagster_project.partitions import session_partitions
from dagster_project.resources import ProctorLakeResource
from proctorlake.core.settings import Settings
from proctorlake.governance.erased_sessions import SessionErased, is_erased

SESSION_ASSETS: list[AssetsDefinition] = [
    analysis.media_chunks,
    analysis.detection_events,
    analysis.incidents,
    reports.session_reports,
]


@dataclass(frozen=True)
class SessionRun:
    session_id: str
    run_id: str
    success: bool
    error: str | None  # the failed step's message, naming the chunk for a corrupt one
    checks: dict[str, bool]  # check name -> passed
    skipped: list[str]  # assets not materialized (a blocking check failed upstream)


def _step_error(result) -> str | None:
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            return f"{event.step_key}: {error.message.strip() if error else 'failed'}"
    return None


def claim_sessions(instance: DagsterInstance, session_ids: Sequence[str]) -> None:
    """Register the sessions' partitions before they end, so the ended-sessions sensor
    (which skips known partitions) leaves their analysis to this caller."""
    instance.add_dynamic_partitions(session_partitions.name, list(session_ids))


def materialize_session(
    settings: Settings, session_id: str, instance: DagsterInstance, tags: dict | None = None
) -> SessionRun:
    """One session's partition: bronze -> silver -> gold with every blocking check."""
    if is_erased(settings, session_id):
        raise SessionErased(f"session {session_id} was erased; it is never analysed again")
    instance.add_dynamic_partitions(session_partitions.name, [session_id])
    result = materialize(
        [*SESSION_ASSETS, *quality_checks],
        partition_key=session_id,
        instance=instance,
        resources={"proctorlake": ProctorLakeResource(home=str(settings.home))},
        tags=tags or {},
        raise_on_error=False,
    )
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    done = {m.asset_key for m in result.get_asset_materialization_events() if m.asset_key}
    skipped = [a.key.to_user_string() for a in SESSION_ASSETS if a.key not in done]
    return SessionRun(
        session_id, result.run_id, result.success, _step_error(result), checks, skipped
    )


def refresh_institution_daily(settings: Settings, instance: DagsterInstance) -> bool:
    result = materialize(
        [reports.institution_daily],
        instance=instance,
        resources={"proctorlake": ProctorLakeResource(home=str(settings.home))},
        raise_on_error=False,
    )
    return result.success


def analyze_in_dagster(
    settings: Settings,
    session_ids: Sequence[str],
    instance: DagsterInstance,
    say: Callable[[str], None] = lambda _m: None,
    tags: dict | None = None,
) -> list[SessionRun]:
    """Every session's partition, then institution_daily; failures are reported, not raised."""
    runs = []
    for i, session_id in enumerate(session_ids):
        run = materialize_session(settings, session_id, instance, tags)
        state = "ok" if run.success else f"FAILED ({run.error})"
        say(f"[{i + 1}/{len(session_ids)}] Dagster run {run.run_id[:8]} {session_id}: {state}")
        runs.append(run)
    if any(r.success for r in runs):
        refresh_institution_daily(settings, instance)
    return runs
