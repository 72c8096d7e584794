"""The batch analysis job: a session's recording chunks -> detection_events -> incidents.

extract (media_chunks rows) -> transform (detectors in executors, temporal rules per
session) -> load (Delta, replacing the sessions' previous rows so re-runs never duplicate).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from proctorlake import lake, schemas
from proctorlake.settings import Settings
from spark_jobs.detect_chunks import detect_partition
from spark_jobs.observation_rows import incidents_for_session


@dataclass(frozen=True)
class AnalysisResult:
    session_ids: tuple[str, ...]
    chunks: int
    detection_rows: int
    incidents: int


def _in_sessions(session_ids: Sequence[str]) -> str:
    quoted = ", ".join("'" + s.replace("'", "''") + "'" for s in session_ids)
    return f"session_id IN ({quoted})"


def extract_chunks(
    spark: SparkSession, settings: Settings, session_ids: Sequence[str], tracks: Sequence[str]
) -> DataFrame:
    chunks = spark.read.format("delta").load(settings.table_uri(schemas.MEDIA_CHUNKS.name))
    return chunks.where(_in_sessions(session_ids)).where(F.col("track").isin(list(tracks)))


def detect(settings: Settings, chunks: DataFrame, parallelism: int) -> DataFrame:
    """One task per chunk, so chunks are analysed in parallel across executors."""
    return chunks.repartition(parallelism, "analysis_key").mapInPandas(
        functools.partial(detect_partition, settings), schemas.DETECTION_EVENTS.spark_schema()
    )


def incidents_from_detections(detections: DataFrame) -> DataFrame:
    """Session-level temporal rules, one group per session (pure: DataFrame in, out)."""
    return detections.groupBy("session_id").applyInPandas(
        incidents_for_session, schemas.INCIDENTS.spark_schema()
    )


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


def run_detection(
    spark: SparkSession,
    settings: Settings,
    session_ids: Sequence[str],
    tracks: Sequence[str] = ("webcam", "screen"),
) -> tuple[int, int]:
    """Detect over every chunk of the sessions and replace their detection_events rows."""
    chunks = extract_chunks(spark, settings, session_ids, tracks).cache()
    count = chunks.count()
    if count == 0:
        raise LookupError(f"no recording chunks for sessions {list(session_ids)}")
    parallelism = max(1, min(count, spark.sparkContext.defaultParallelism * 2))
    replace_sessions(
        detect(settings, chunks, parallelism), settings, schemas.DETECTION_EVENTS, session_ids
    )
    chunks.unpersist()
    written = (
        spark.read.format("delta")
        .load(settings.table_uri(schemas.DETECTION_EVENTS.name))
        .where(_in_sessions(session_ids))
        .count()
    )
    return count, written


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


def run_incidents(spark: SparkSession, settings: Settings, session_ids: Sequence[str]) -> int:
    """Apply the temporal rules to the sessions' detection_events and replace their incidents."""
    detections = (
        spark.read.format("delta")
        .load(settings.table_uri(schemas.DETECTION_EVENTS.name))
        .where(_in_sessions(session_ids))
    )
    starts = (
        spark.read.format("delta")
        .load(settings.table_uri(schemas.EXAM_SESSIONS.name))
        .select("session_id", F.col("started_at").alias("session_started_at"))
    )
    detections = detections.join(starts, "session_id", "left")
    incidents = keep_reviews(
        incidents_from_detections(detections), _reviews(spark, settings, session_ids)
    )
    replace_sessions(incidents, settings, schemas.INCIDENTS, session_ids)
    return (
        spark.read.format("delta")
        .load(settings.table_uri(schemas.INCIDENTS.name))
        .where(_in_sessions(session_ids))
        .count()
    )


def analyze_sessions(
    spark: SparkSession, settings: Settings, session_ids: Sequence[str]
) -> AnalysisResult:
    chunks, rows = run_detection(spark, settings, session_ids)
    incidents = run_incidents(spark, settings, session_ids)
    return AnalysisResult(tuple(session_ids), chunks, rows, incidents)
