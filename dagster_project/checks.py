"""great-expectations suites as blocking asset checks, one per layer.

A failed check stops the assets downstream of it in the same run and shows, in the UI, which
rule failed and on what values (for a run of several sessions, which session: the check then
passes only when every session's rows do). The suites themselves live in ``spark_jobs.quality``.
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetsDefinition,
    MetadataValue,
    asset_check,
)

from dagster_project.assets.analysis import detection_events, incidents, media_chunks
from dagster_project.assets.reports import session_reports
from dagster_project.partitions import session_partitions
from dagster_project.resources import ProctorLakeResource
from spark_jobs.quality import SUITES


def _quality_check(asset: AssetsDefinition, table: str, description: str):
    @asset_check(
        asset=asset,
        name=f"{table}_quality",
        blocking=True,
        partitions_def=session_partitions,
        description=description,
    )
    def _check(
        context: AssetCheckExecutionContext, proctorlake: ProctorLakeResource
    ) -> AssetCheckResult:
        settings = proctorlake.settings()
        results = SUITES[table](settings, context.partition_keys)
        failures = [
            f if len(results) == 1 else f"{sid}: {f}"
            for sid, result in results.items()
            for f in result.failures
        ]
        return AssetCheckResult(
            passed=all(r.passed for r in results.values()),
            severity=AssetCheckSeverity.ERROR,
            description="; ".join(failures) or None,
            metadata={
                "suite": next(iter(results.values())).suite,
                "rows": sum(r.rows for r in results.values()),
                "failures": MetadataValue.json(failures),
            },
        )

    return _check


quality_checks = [
    _quality_check(
        media_chunks, "media_chunks", "Chunk ids present, known tracks, end after start."
    ),
    _quality_check(
        detection_events,
        "detection_events",
        "Ids not null, confidences in [0, 1], frame timestamps inside the session's recording.",
    ),
    _quality_check(
        incidents,
        "incidents",
        "Ids not null, confidences in [0, 1], end >= start, inside the recording, and every "
        "incident's session exists.",
    ),
    _quality_check(
        session_reports, "session_reports", "Ids not null, risk score in [0, 100], outcome known."
    ),
]
