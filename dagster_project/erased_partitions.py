"""Erased sessions leave Dagster: their partition, runs and materialization records go.

Partitions are keyed by session id, and Dagster keeps a partition's runs (tags, configs, event
logs with materializations) in its own storage, which the erasure runner cannot reach from
the API or the CLI. This sensor closes the gap: every tick it deletes the dynamic partition
of each erased session (the erased marker says which) with every run of it, whose event log
holds its materializations and check results.
"""

from dagster import (
    DagsterInstance,
    DefaultSensorStatus,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from dagster_project.partitions import session_partitions
from dagster_project.resources import ProctorLakeResource
from proctorlake.core.settings import Settings
from proctorlake.governance.erased_sessions import is_erased

PARTITION_TAG = "dagster/partition"


def _erased(settings: Settings, key: str) -> bool:
    try:
        return is_erased(settings, key)
    except ValueError:  # not a session id: not ours to judge
        return False


def forget_erased_partitions(instance: DagsterInstance, settings: Settings) -> list[str]:
    """Delete the partitions (and their runs) of erased sessions; returns the keys deleted."""
    doomed = [
        key
        for key in instance.get_dynamic_partitions(session_partitions.name)
        if _erased(settings, key)
    ]
    for key in doomed:
        for record in instance.get_run_records(RunsFilter(tags={PARTITION_TAG: key})):
            instance.delete_run(record.dagster_run.run_id)
        instance.delete_dynamic_partition(session_partitions.name, key)
    return doomed


@sensor(
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Deletes the partition and the runs of every erased session.",
)
def erased_partitions_sensor(
    context: SensorEvaluationContext, proctorlake: ProctorLakeResource
) -> SkipReason:
    forgotten = forget_erased_partitions(context.instance, proctorlake.settings())
    return SkipReason(f"{len(forgotten)} erased session partition(s) deleted")
