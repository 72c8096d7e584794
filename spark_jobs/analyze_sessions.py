"""The batch analysis job: a session's recording chunks -> detection_events -> incidents.

extract (media_chunks rows) -> transform (detectors in executors, temporal rules per
session) -> load (Delta, replacing the sessions' previous rows so re-runs never duplicate).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from pyspark.sql import Column, DataFrame, Observation, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.services import accommodations
from proctorlake.services.identity import verified_face
from proctorlake.storage import lake
from proctorlake.storage.delta_predicates import column_in
from proctorlake.storage.object_store import open_object_store
from spark_jobs.chunk_checkpoints import finished_keys
from spark_jobs.detect_chunks import (
    CHUNK_FAILED,
    ChunkFailed,
    DetectJob,
    chunk_checkpoint_key,
    detect_partition,
)
from spark_jobs.observation_rows import (
    SUPPRESSED_BY,
    SessionAllowances,
    incidents_for_session,
    integrity_incidents_for_session,
)


@dataclass(frozen=True)
class AnalysisResult:
    session_ids: tuple[str, ...]
    chunks: int
    detection_rows: int
    incidents: int


def _in_sessions(session_ids: Sequence[str]) -> str:
    return column_in("session_id", session_ids)


def extract_chunks(
    spark: SparkSession, settings: Settings, session_ids: Sequence[str], tracks: Sequence[str]
) -> DataFrame:
    chunks = spark.read.format("delta").load(settings.table_uri(schemas.MEDIA_CHUNKS.name))
    return chunks.where(_in_sessions(session_ids)).where(F.col("track").isin(list(tracks)))


def detect(job: DetectJob, chunks: DataFrame) -> DataFrame:
    """Detection rows of these chunks, each chunk analysed (or read back) in its own task."""
    return chunks.mapInPandas(
        functools.partial(detect_partition, job), schemas.DETECTION_EVENTS.spark_schema()
    )


def one_task_per_chunk(spark: SparkSession, chunks: list[Row]) -> DataFrame:
    """The chunk rows spread one per partition, longest first, so no task waits on a
    neighbour's chunk and the longest work starts earliest.

    ``spark.range`` with one partition per chunk carries the task numbers and the chunk rows
    join it by broadcast (which keeps the range's partitions): no RDD, so this runs the same
    over Spark Connect. A local table alone would be cut into as many partitions as there
    are cores, several chunks per task."""
    ordered = sorted(
        chunks,
        key=lambda c: (c["track"] != "screen", c["chunk_start_ms"] - c["chunk_end_ms"]),
    )
    schema = schemas.MEDIA_CHUNKS.spark_schema()
    indexed = T.StructType([T.StructField("id", T.LongType(), False), *schema.fields])
    values = [(i, *(c[name] for name in schema.fieldNames())) for i, c in enumerate(ordered)]
    rows = spark.createDataFrame(values, indexed)
    tasks = spark.range(0, len(values), 1, len(values))
    return tasks.join(F.broadcast(rows), "id").select(*schema.fieldNames())


def chunk_failure(exc: BaseException) -> str | None:
    """The per-chunk message inside Spark's wrapper of an executor error, if there is one."""
    match = re.search(rf"{CHUNK_FAILED}: [^\n]+", str(exc))
    return match.group(0) if match else None


def incidents_from_detections(
    detections: DataFrame, allowances: SessionAllowances | None = None
) -> DataFrame:
    """Session-level temporal rules, one group per session (pure: DataFrame in, out); each
    incident row also says whether the student's accommodation suppresses it."""
    from pyspark.sql import types as T

    schema = schemas.INCIDENTS.spark_schema().add(SUPPRESSED_BY, T.StringType(), True)
    shipped = dict(allowances or {})

    def body(rows: pd.DataFrame) -> pd.DataFrame:
        return incidents_for_session(rows, shipped)

    return detections.groupBy("session_id").applyInPandas(body, schema)


def session_allowances(
    spark: SparkSession, settings: Settings, session_ids: Sequence[str]
) -> SessionAllowances:
    """Each session's accommodation and breaks (timeline: the session's start, as the batch
    incidents' seconds are), read on the driver: a handful of rows per session."""
    sessions = (
        spark.read.format("delta")
        .load(settings.table_uri(schemas.EXAM_SESSIONS.name))
        .where(_in_sessions(session_ids))
        .select(
            "session_id",
            "institution_id",
            "exam_id",
            "student_id",
            # epoch seconds: a collected timestamp would come back in the driver's local zone
            F.col("started_at").cast("double").alias("started_epoch_s"),
        )
        .collect()
    )
    allowances = {}
    for session in sessions:
        accommodation = accommodations.current_accommodation(
            settings, session["institution_id"], session["exam_id"], session["student_id"]
        )
        rows = accommodations.breaks_of(settings, session["session_id"])
        started = session["started_epoch_s"]
        origin = dt.datetime.fromtimestamp(started, dt.UTC) if started is not None else None
        breaks = accommodations.break_timeline(rows, origin, accommodation)
        allowances[session["session_id"]] = (accommodation, tuple(breaks))
    return allowances


def split_suppressed(incidents: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(raised incidents, suppressed rows): a suppressed flag is counted, never raised."""
    raised = incidents.where(F.col(SUPPRESSED_BY).isNull()).select(*schemas.INCIDENTS.column_names)
    suppressed = (
        incidents.where(F.col(SUPPRESSED_BY).isNotNull())
        .withColumn("reason", F.col(SUPPRESSED_BY))
        .withColumn("source", F.lit("batch"))
        .select(*schemas.SUPPRESSED_INCIDENTS.column_names)
    )
    return raised, suppressed


def replace_sessions(
    frame: DataFrame, settings: Settings, table: schemas.Table, session_ids: Sequence[str]
) -> None:
    """Overwrite exactly these sessions' rows (replaceWhere): re-runs never append twice."""
    lake.ensure_table(settings, table)
    (
        frame.select(*table.column_names)
        .write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", _in_sessions(session_ids))
        .save(settings.table_uri(table.name))
    )


@dataclass(frozen=True)
class DetectionRun:
    chunks: int
    reused_chunks: int  # read back from checkpoints of an earlier, interrupted run
    detected_chunks: int
    rows: int
    run_id: str
    screen_frames_reused: int = 0  # screen samples unchanged since the last OCR read


def run_detection(
    spark: SparkSession,
    settings: Settings,
    session_ids: Sequence[str],
    tracks: Sequence[str] = ("webcam", "screen"),
    run_id: str | None = None,
) -> DetectionRun:
    """Detect over every chunk of the sessions and replace their detection_events rows.

    Finished chunks are checkpointed as they finish; a re-run after a kill reads them back.
    A chunk that cannot be analysed raises ``ChunkFailed`` naming it; nothing is replaced.
    """
    run_id = run_id or uuid.uuid4().hex
    chunks = extract_chunks(spark, settings, session_ids, tracks).collect()
    if not chunks:
        raise LookupError(f"no recording chunks for sessions {list(session_ids)}")
    store = open_object_store(settings)
    reused = len(finished_keys(store, [chunk_checkpoint_key(c.asDict()) for c in chunks]))
    job = DetectJob(settings, run_id)
    # Counted while the rows are written (observed metrics), not by reading the table again:
    # a second Spark job cost ~2 s of a warm 4-minute session's ~20 s.
    written = Observation("detection_rows")
    detections = detect(job, one_task_per_chunk(spark, chunks)).observe(
        written,
        F.count(F.lit(1)).alias("rows"),
        F.count(F.when(reused_screen_read(), True)).alias("screen_reused"),
    )
    try:
        replace_sessions(detections, settings, schemas.DETECTION_EVENTS, session_ids)
    except Exception as exc:
        message = chunk_failure(exc)
        if message is None:
            raise
        raise ChunkFailed(message) from None
    counts = written.get
    return DetectionRun(
        len(chunks),
        reused,
        len(chunks) - reused,
        int(counts["rows"]),
        run_id,
        int(counts["screen_reused"] or 0),
    )


def reused_screen_read() -> Column:
    """A screen row whose titles are an earlier frame's OCR read (the screen had not
    changed; ``models.screen_changes``)."""
    read_at = F.get_json_object("detail", "$.read_at_s").cast("double")
    return (F.col("track") == "screen") & (read_at != F.col("frame_ts"))


REVIEW_COLUMNS = ("reviewed_by", "resolution", "reviewed_at")


def _reviews(spark: SparkSession, settings: Settings, session_ids: Sequence[str]) -> DataFrame:
    """Reviews already recorded for these sessions, collected before their rows are replaced."""
    lake.ensure_table(settings, schemas.INCIDENTS)
    rows = (
        spark.read.format("delta")
        .load(settings.table_uri(schemas.INCIDENTS.name))
        .where(_in_sessions(session_ids))
        .where("resolution IS NOT NULL OR reviewed_by IS NOT NULL")
        .select("incident_id", *REVIEW_COLUMNS)
        .collect()
    )
    schema = schemas.INCIDENTS.spark_schema()
    return spark.createDataFrame(
        rows, type(schema)([schema[c] for c in ("incident_id", *REVIEW_COLUMNS)])
    )


def keep_reviews(incidents: DataFrame, reviews: DataFrame) -> DataFrame:
    """A re-run keeps each incident's human review (incident ids are deterministic)."""
    renamed = reviews.select("incident_id", *[F.col(c).alias(f"prior_{c}") for c in REVIEW_COLUMNS])
    joined = incidents.join(renamed, "incident_id", "left")
    for column in REVIEW_COLUMNS:
        joined = joined.withColumn(column, F.coalesce(F.col(f"prior_{column}"), F.col(column)))
    return joined.select(*schemas.INCIDENTS.column_names)


def takeover_references(
    spark: SparkSession, settings: Settings, session_ids: Sequence[str]
) -> DataFrame:
    """Each session's verified face (null without a verified identity check), the takeover
    check's reference; looked up on the driver, a selfie per session."""
    rows = []
    for session_id in session_ids:
        face = verified_face(settings, session_id)
        rows.append((session_id, None if face is None else [float(v) for v in face]))
    return spark.createDataFrame(rows, "session_id string, takeover_reference array<float>")


def integrity_incidents(
    spark: SparkSession, settings: Settings, session_ids: Sequence[str], sessions: DataFrame
) -> DataFrame:
    """The sessions' integrity incidents, from the exam page's events the lander kept in
    ``integrity_events``, by the rules and thresholds the stream path applied; ``sessions``
    gives each session's start (``session_started_at``) and stored policy (``policy_json``)."""
    lake.ensure_table(settings, schemas.INTEGRITY_EVENTS)
    events = (
        spark.read.format("delta")
        .load(settings.table_uri(schemas.INTEGRITY_EVENTS.name))
        .where(_in_sessions(session_ids))
    )
    return (
        events.join(sessions, "session_id", "left")
        .groupBy("session_id")
        .applyInPandas(integrity_incidents_for_session, schemas.INCIDENTS.spark_schema())
    )


def run_incidents(spark: SparkSession, settings: Settings, session_ids: Sequence[str]) -> int:
    """Apply the temporal rules to the sessions' detection_events and the integrity rules to
    their integrity_events, and replace their incidents."""
    detections = (
        spark.read.format("delta")
        .load(settings.table_uri(schemas.DETECTION_EVENTS.name))
        .where(_in_sessions(session_ids))
    )
    starts = (
        spark.read.format("delta")
        .load(settings.table_uri(schemas.EXAM_SESSIONS.name))
        .select("session_id", F.col("started_at").alias("session_started_at"), "policy_json")
    )
    detections = detections.join(starts.drop("policy_json"), "session_id", "left").join(
        takeover_references(spark, settings, session_ids), "session_id", "left"
    )
    allowances = session_allowances(spark, settings, session_ids)
    all_flags = incidents_from_detections(detections, allowances).persist()
    raised, suppressed = split_suppressed(all_flags)
    # Integrity incidents come from the page's events, not from detections: accommodations
    # (detector exemptions, breaks) do not apply to them.
    found = raised.unionByName(integrity_incidents(spark, settings, session_ids, starts))
    written = Observation("incidents")  # counted as written, as detections are
    incidents = keep_reviews(found, _reviews(spark, settings, session_ids)).observe(
        written, F.count(F.lit(1)).alias("rows")
    )
    replace_sessions(incidents, settings, schemas.INCIDENTS, session_ids)
    replace_sessions(suppressed, settings, schemas.SUPPRESSED_INCIDENTS, session_ids)
    all_flags.unpersist()
    return int(written.get["rows"])


def analyze_sessions(
    spark: SparkSession, settings: Settings, session_ids: Sequence[str]
) -> AnalysisResult:
    detection = run_detection(spark, settings, session_ids)
    incidents = run_incidents(spark, settings, session_ids)
    return AnalysisResult(tuple(session_ids), detection.chunks, detection.rows, incidents)


def main(argv: list[str] | None = None) -> None:
    """``python -m spark_jobs.analyze_sessions --session ID ...``: one Spark run in its own
    process (benches pick the core count; tests kill it mid-way)."""
    import argparse
    import json
    import time

    from proctorlake.core.settings import load_settings
    from proctorlake.storage.spark_session import get_spark, stop_spark

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--session", action="append", required=True, dest="sessions")
    parser.add_argument("--cores", type=int, default=None)
    parser.add_argument("--run-id", default=None)
    parser.add_argument("--track", action="append", dest="tracks")
    parser.add_argument("--detections-only", action="store_true")
    args = parser.parse_args(argv)
    settings = load_settings()
    spark = get_spark(settings, app_name="proctorlake-analysis", cores=args.cores)
    started = time.monotonic()
    tracks = tuple(args.tracks or ("webcam", "screen"))
    detection = run_detection(spark, settings, args.sessions, tracks, run_id=args.run_id)
    detected_s = time.monotonic() - started
    incidents = None if args.detections_only else run_incidents(spark, settings, args.sessions)
    result = {
        "chunks": detection.chunks,
        "reused_chunks": detection.reused_chunks,
        "detected_chunks": detection.detected_chunks,
        "detection_rows": detection.rows,
        "screen_frames_reused": detection.screen_frames_reused,
        "incidents": incidents,
        "detection_s": round(detected_s, 3),
        "total_s": round(time.monotonic() - started, 3),
    }
    print(json.dumps(result))
    stop_spark(spark)


if __name__ == "__main__":
    main()
