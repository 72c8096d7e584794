"""Launching the analysis in-process on an instance the UI reads (demo, benches, tests).

``analyze_in_dagster`` materializes the sessions' partitions (assets and their blocking
checks) a batch of ``PROCTORLAKE_DAGSTER_SESSIONS_PER_RUN`` at a time: one run over a range
of partitions, each session still its own partition in the UI, so a window pays a run's
fixed cost (Spark jobs per asset, Delta commits, checks) once a batch instead of once a
session, and its Spark job has every chunk of the batch to spread over the cores. A batch
that fails is run again one session per run (chunks finished before the failure are read
back from their checkpoints), so a corrupt chunk still fails only its own partition. Then
the institution statistics are refreshed.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from dagster import AssetsDefinition, DagsterEventType, DagsterInstance, materialize

from dagster_project.assets import analysis, reports
from dagster_project.checks import quality_checks
from dagster_project.partitions import (
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    session_partitions,
)
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


def _materialize(
    settings: Settings,
    instance: DagsterInstance,
    tags: dict,
    partition_key: str | None = None,
):
    return materialize(
        [*SESSION_ASSETS, *quality_checks],
        partition_key=partition_key,
        instance=instance,
        resources={"proctorlake": ProctorLakeResource(home=str(settings.home))},
        tags=tags,
        raise_on_error=False,
    )


def _outcome(result) -> tuple[bool, str | None, dict[str, bool], list[str]]:
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    done = {m.asset_key for m in result.get_asset_materialization_events() if m.asset_key}
    skipped = [a.key.to_user_string() for a in SESSION_ASSETS if a.key not in done]
    return result.success, _step_error(result), checks, skipped


def _refuse_erased(settings: Settings, session_ids: Sequence[str]) -> None:
    for session_id in session_ids:
        if is_erased(settings, session_id):
            raise SessionErased(f"session {session_id} was erased; it is never analysed again")


def materialize_session(
    settings: Settings, session_id: str, instance: DagsterInstance, tags: dict | None = None
) -> SessionRun:
    """One session's partition: bronze -> silver -> gold with every blocking check."""
    _refuse_erased(settings, [session_id])
    instance.add_dynamic_partitions(session_partitions.name, [session_id])
    result = _materialize(settings, instance, tags or {}, partition_key=session_id)
    return SessionRun(session_id, result.run_id, *_outcome(result))


def materialize_sessions(
    settings: Settings, session_ids: Sequence[str], instance: DagsterInstance, tags: dict
) -> list[SessionRun]:
    """Consecutive partitions (in the instance's order) in one run over their range."""
    if len(session_ids) == 1:
        return [materialize_session(settings, session_ids[0], instance, tags)]
    _refuse_erased(settings, session_ids)
    ranged = tags | {
        PARTITION_RANGE_START_TAG: session_ids[0],
        PARTITION_RANGE_END_TAG: session_ids[-1],
    }
    result = _materialize(settings, instance, ranged)
    return [SessionRun(sid, result.run_id, *_outcome(result)) for sid in session_ids]


def consecutive_batches(
    session_ids: Sequence[str], partition_order: Sequence[str], size: int
) -> Iterator[list[str]]:
    """The sessions in batches of at most ``size`` whose partitions are consecutive in
    ``partition_order`` (a range run takes every partition between its two ends)."""
    position = {key: i for i, key in enumerate(partition_order)}
    batch: list[str] = []
    for session_id in sorted(set(session_ids), key=position.__getitem__):
        follows = batch and position[session_id] == position[batch[-1]] + 1
        if batch and (not follows or len(batch) == size):
            yield batch
            batch = []
        batch.append(session_id)
    if batch:
        yield batch


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
    """Every session's partition, in batches (see the module's docstring), then
    institution_daily; failures are reported, not raised. Returns one run per session, in
    the order given."""
    tags = tags or {}
    _refuse_erased(settings, session_ids)
    instance.add_dynamic_partitions(session_partitions.name, list(session_ids))
    order = instance.get_dynamic_partitions(session_partitions.name)
    found: dict[str, SessionRun] = {}
    for batch in consecutive_batches(session_ids, order, settings.dagster_sessions_per_run):
        runs = materialize_sessions(settings, batch, instance, tags)
        if len(batch) > 1 and not runs[0].success:
            say(
                f"Dagster run {runs[0].run_id[:8]} of {len(batch)} sessions failed "
                f"({runs[0].error or 'a blocking check failed'}); running them one per run"
            )
            runs = [materialize_session(settings, sid, instance, tags) for sid in batch]
        for run in runs:
            found[run.session_id] = run
            state = "ok" if run.success else f"FAILED ({run.error})"
            say(
                f"[{len(found)}/{len(session_ids)}] Dagster run {run.run_id[:8]} "
                f"{run.session_id}: {state}"
            )
    if any(r.success for r in found.values()):
        refresh_institution_daily(settings, instance)
    return [found[sid] for sid in session_ids]
