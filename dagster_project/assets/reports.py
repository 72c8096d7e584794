"""Gold summaries: a report row per session, then per-institution daily statistics."""

import json

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from dagster_project.assets.analysis import incidents
from dagster_project.partitions import session_partitions
from dagster_project.resources import ProctorLakeResource
from spark_jobs.session_reports import build_institution_daily, build_session_report

REPORT_SUMMARY = ("risk_score", "incidents", "verification_outcome", "proctor_actions")
"""A report's fields shown per session when one run carries several sessions."""


@asset(
    partitions_def=session_partitions,
    group_name="gold",
    key_prefix=["gold"],
    deps=[incidents],
    description="Session summary: incidents, risk score, identity outcome, proctor actions.",
)
def session_reports(
    context: AssetExecutionContext, proctorlake: ProctorLakeResource
) -> MaterializeResult:
    settings = proctorlake.settings()
    rows = [build_session_report(settings, sid) for sid in context.partition_keys]
    if len(rows) > 1:
        return MaterializeResult(
            metadata={
                "reports": MetadataValue.json(
                    {r["session_id"]: {k: r[k] for k in REPORT_SUMMARY} for r in rows}
                )
            }
        )
    (row,) = rows
    return MaterializeResult(
        metadata={
            "risk_score": row["risk_score"],
            "incidents": row["incidents"],
            "incidents_by_type": MetadataValue.json(json.loads(row["incidents_by_type"])),
            "verification_outcome": row["verification_outcome"],
            "proctor_actions": row["proctor_actions"],
        }
    )


@asset(
    group_name="statistics",
    key_prefix=["gold"],
    deps=[session_reports],
    description="Per institution and exam day, rebuilt from every session report.",
)
def institution_daily(proctorlake: ProctorLakeResource) -> MaterializeResult:
    return MaterializeResult(metadata={"rows": build_institution_daily(proctorlake.settings())})
