"""The sensors that turn ended sessions into analysis runs (one dynamic partition each).

``ended_sessions_sensor`` adds a partition per newly ended session and requests runs over
consecutive batches of ``PROCTORLAKE_DAGSTER_SESSIONS_PER_RUN`` of them (a range run; a
lone session gets a plain partition run), so a window of ended sessions pays a run's fixed
cost once a batch, as ``dagster_project.runs.analyze_in_dagster`` does. A batch run that
fails is split by ``split_failed_batch_sensor`` into one run per session, so a corrupt
chunk fails only its own partition (finished chunks are read back from checkpoints).
"""

from collections.abc import Iterator, Mapping, Sequence

from dagster import (
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    run_failure_sensor,
    sensor,
)

from dagster_project.jobs import analyze_session_job
from dagster_project.partitions import (
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    session_partitions,
)
from dagster_project.resources import ProctorLakeResource
from dagster_project.runs import consecutive_batches
from proctorlake.storage import lake

SPLIT_FROM_TAG = "proctorlake/split_from_run"
"""On a one-session run that re-runs a session of a failed batch run: that run's id."""
BATCH_SESSIONS_TAG = "proctorlake/sessions"
"""On a batch run: its sessions, comma-separated (the range alone loses its middle when an
end's partition is deleted, as erasure does)."""


def ended_sessions(proctorlake: ProctorLakeResource) -> list[str]:
    """Sessions that ended (CLI ingest or the realtime path): their recording is complete."""
    settings = proctorlake.settings()
    rows = (
        lake.duckdb_connection(settings)
        .execute(
            "select distinct session_id from exam_sessions "
            "where status in ('ended', 'terminated') order by 1"
        )
        .fetchall()
    )
    return [r[0] for r in rows]


def batch_run_requests(new: Sequence[str], known: Sequence[str], per_run: int) -> list[RunRequest]:
    """Runs over the new sessions, whose partitions are appended after ``known`` in this
    order: consecutive batches of at most ``per_run`` (a range run covers every partition
    between its two ends)."""
    requests = []
    for batch in consecutive_batches(new, [*known, *new], per_run):
        if len(batch) == 1:
            requests.append(RunRequest(partition_key=batch[0], run_key=f"analyze-{batch[0]}"))
            continue
        requests.append(
            RunRequest(
                run_key=f"analyze-{batch[0]}..{batch[-1]}",
                tags={
                    PARTITION_RANGE_START_TAG: batch[0],
                    PARTITION_RANGE_END_TAG: batch[-1],
                    BATCH_SESSIONS_TAG: ",".join(batch),
                },
            )
        )
    return requests


@sensor(
    job=analyze_session_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Adds a partition for every newly ended session and requests analysis runs "
    "over consecutive batches of them (PROCTORLAKE_DAGSTER_SESSIONS_PER_RUN).",
)
def ended_sessions_sensor(
    context: SensorEvaluationContext, proctorlake: ProctorLakeResource
) -> SensorResult:
    known = context.instance.get_dynamic_partitions(session_partitions.name)
    seen = set(known)
    new = [s for s in ended_sessions(proctorlake) if s not in seen]
    per_run = proctorlake.settings().dagster_sessions_per_run
    return SensorResult(
        run_requests=batch_run_requests(new, known, per_run),
        dynamic_partitions_requests=[session_partitions.build_add_request(new)] if new else [],
    )


def sessions_of_batch(tags: Mapping[str, str], partitions: Sequence[str]) -> list[str]:
    """The sessions a batch run covered that still have a partition: from its sessions tag,
    else (a run launched by other means) from its range in the instance's order."""
    start, end = tags.get(PARTITION_RANGE_START_TAG), tags.get(PARTITION_RANGE_END_TAG)
    if not start or not end or start == end:
        return []
    if tags.get(BATCH_SESSIONS_TAG):
        present = set(partitions)
        return [s for s in tags[BATCH_SESSIONS_TAG].split(",") if s in present]
    if start not in partitions or end not in partitions:
        raise LookupError(f"range {start}..{end}: an end has no partition any more")
    return list(partitions[partitions.index(start) : partitions.index(end) + 1])


@run_failure_sensor(
    monitored_jobs=[analyze_session_job],
    request_job=analyze_session_job,
    minimum_interval_seconds=10,
    default_status=DefaultSensorStatus.RUNNING,
    description="Re-runs each session of a failed batch run in a run of its own, so one bad "
    "session fails only its own partition.",
)
def split_failed_batch_sensor(context: RunFailureSensorContext) -> Iterator[RunRequest]:
    failed_run = context.dagster_run
    partitions = context.instance.get_dynamic_partitions(session_partitions.name)
    for session_id in sessions_of_batch(failed_run.tags, partitions):
        yield RunRequest(
            partition_key=session_id,
            run_key=f"split-{failed_run.run_id}-{session_id}",
            tags={SPLIT_FROM_TAG: failed_run.run_id},
        )
