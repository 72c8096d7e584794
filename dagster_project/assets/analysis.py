"""Post-exam analysis assets, one partition per session: bronze chunks -> silver -> gold.

Orchestration only: each asset calls one function of ``spark_jobs`` or ``proctorlake``. A run
may carry a range of sessions (``dagster_project.runs`` batches a window's sessions): each
asset then works on all of them at once (one Spark job for all their chunks) and Dagster
records a materialization per session.
"""

from dagster import (
    AssetExecutionContext,
    Backoff,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
)

from dagster_project.partitions import session_partitions
from dagster_project.resources import ProctorLakeResource
from proctorlake.services.ingest import ingest_uploaded_segments
from proctorlake.storage import lake
from proctorlake.storage.object_store import manifest_key, object_exists
from spark_jobs.analyze_sessions import run_detection, run_incidents
from spark_jobs.detect_chunks import ChunkFailed

# Transient failures (a busy executor, a storage hiccup) are retried; a corrupt chunk fails
# the same way each time and ends its own partition with the chunk named in the error.
TRANSIENT_RETRY = RetryPolicy(max_retries=2, delay=5, backoff=Backoff.EXPONENTIAL)


@asset(
    partitions_def=session_partitions,
    group_name="bronze",
    key_prefix=["bronze"],
    description="A session's recording chunks: uploaded segments transcoded, all registered.",
)
def media_chunks(
    context: AssetExecutionContext, proctorlake: ProctorLakeResource
) -> MaterializeResult:
    settings = proctorlake.settings()
    sessions = context.partition_keys
    for session_id in sessions:
        if object_exists(settings, manifest_key(session_id)):
            transcoded = ingest_uploaded_segments(settings, session_id, progress=context.log.info)
            context.log.info(f"{session_id}: {transcoded} uploaded segments transcoded, registered")
    placeholders = ", ".join("?" for _ in sessions)
    rows = (
        lake.duckdb_connection(settings)
        .execute(
            "select session_id, track, count(*), sum(frame_count), max(chunk_end_ms) "
            f"from media_chunks where session_id in ({placeholders}) "
            "group by session_id, track order by session_id, track",
            list(sessions),
        )
        .fetchall()
    )
    empty = sorted(set(sessions) - {r[0] for r in rows})
    if empty:
        raise LookupError(f"sessions {empty} have no stored chunks; ingest them first")
    tracks = {
        f"{sid}/{t}" if len(sessions) > 1 else t: {"chunks": c, "frames": f, "seconds": ms / 1000}
        for sid, t, c, f, ms in rows
    }
    return MaterializeResult(
        metadata={"tracks": MetadataValue.json(tracks), "chunks": sum(r[2] for r in rows)}
    )


@asset(
    partitions_def=session_partitions,
    group_name="silver",
    key_prefix=["silver"],
    deps=[media_chunks],
    retry_policy=TRANSIENT_RETRY,
    description="Per sampled frame detector output, both tracks (detectors in Spark executors).",
)
def detection_events(
    context: AssetExecutionContext, proctorlake: ProctorLakeResource
) -> MaterializeResult:
    settings = proctorlake.settings()
    try:
        run = run_detection(
            proctorlake.spark(), settings, context.partition_keys, run_id=context.run.run_id
        )
    except ChunkFailed as exc:
        # A corrupt chunk fails the same way every time: fail this partition now, clearly.
        raise Failure(description=str(exc), allow_retries=False) from exc
    context.log.info(
        f"{run.chunks} chunks ({run.reused_chunks} from checkpoints, {run.detected_chunks} "
        f"analysed) into {run.rows} detection rows; {run.screen_frames_reused} screen frames "
        "unchanged since their last OCR read"
    )
    return MaterializeResult(
        metadata={
            "chunks": run.chunks,
            "reused_chunks": run.reused_chunks,
            "detected_chunks": run.detected_chunks,
            "rows": run.rows,
            "screen_frames_reused": run.screen_frames_reused,
        }
    )


@asset(
    partitions_def=session_partitions,
    group_name="gold",
    key_prefix=["gold"],
    deps=[detection_events],
    retry_policy=TRANSIENT_RETRY,
    description="Incidents with video timestamps, from the shared temporal rules.",
)
def incidents(
    context: AssetExecutionContext, proctorlake: ProctorLakeResource
) -> MaterializeResult:
    settings = proctorlake.settings()
    count = run_incidents(proctorlake.spark(), settings, context.partition_keys)
    return MaterializeResult(metadata={"incidents": count})
