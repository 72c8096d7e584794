"""Delta table schemas: the one place a column list is declared.

Each table is declared once with neutral type names and rendered on demand as a Spark
``StructType`` (for delta-spark writers) or a ``pyarrow.Schema`` (for delta-rs / DuckDB).
Every table carries ``session_id`` and ``institution_id`` so erasure and access checks stay
simple; only ``exam_sessions`` maps a session to a student. One exception: ``accommodations``
is per student and exam, not per session (a keyed student hash, erased by it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql.types import StructType


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string | long | int | double | boolean | timestamp | array<double>
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    layer: str  # bronze | silver | gold | audit
    columns: tuple[Column, ...]
    partition_by: tuple[str, ...]
    doc: str
    # Columns holding a student's personal data: kept out of Delta's per-file statistics so
    # no such value is ever copied into the transaction log (which erasure cannot rewrite).
    personal_columns: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def stats_columns(self) -> list[str]:
        """Columns Delta may keep min/max statistics for (never personal ones)."""
        return [c.name for c in self.columns if c.name not in self.personal_columns]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, _ARROW[c.type], c.nullable) for c in self.columns])

    def spark_schema(self) -> StructType:
        from pyspark.sql import types as T

        spark_types = {
            "string": T.StringType(),
            "long": T.LongType(),
            "int": T.IntegerType(),
            "double": T.DoubleType(),
            "boolean": T.BooleanType(),
            "timestamp": T.TimestampType(),
            "array<double>": T.ArrayType(T.DoubleType()),
        }
        return T.StructType(
            [T.StructField(c.name, spark_types[c.type], c.nullable) for c in self.columns]
        )


_ARROW = {
    "string": pa.string(),
    "long": pa.int64(),
    "int": pa.int32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "array<double>": pa.list_(pa.float64()),
}


def _c(name: str, type_: str, nullable: bool = True) -> Column:
    return Column(name, type_, nullable)


_KEYS = (_c("session_id", "string", False), _c("institution_id", "string", False))

# What a detector says about one frame: the same columns on the batch and the stream path.
_DETECTOR_OUTPUT = (
    _c("detection_type", "string", False),
    _c("confidence", "double", False),
    _c("face_count", "int"),
    _c("bbox_x", "int"),
    _c("bbox_y", "int"),
    _c("bbox_w", "int"),
    _c("bbox_h", "int"),
    _c("yaw_deg", "double"),
    _c("pitch_deg", "double"),
    _c("detail", "string"),
    _c("model_version", "string"),
)

# An incident as the shared temporal rules define it, on both paths.
_INCIDENT_CORE = (
    _c("incident_id", "string", False),
    *_KEYS,
    _c("incident_type", "string", False),
    _c("severity", "string", False),  # low | medium | high
    _c("confidence", "double", False),
    _c("start_s", "double", False),
    _c("end_s", "double", False),
)

EXAM_SESSIONS = Table(
    "exam_sessions",
    "bronze",
    (
        *_KEYS,
        _c("student_id", "string", False),
        _c("student_name", "string"),
        _c("student_email", "string"),
        _c("student_id_number", "string"),  # the roster's ID-card number, checked by identity
        _c("exam_id", "string", False),
        _c("tier", "string"),  # none | ai | ai_human
        _c("policy_json", "string"),  # the exam policy the realtime path applies
        _c("status", "string"),  # created | active | ended | terminated
        _c("created_at", "timestamp"),
        _c("started_at", "timestamp"),
        _c("ended_at", "timestamp"),
        _c("session_date", "string", False),
    ),
    ("session_date",),
    "One row per exam session; the only table that maps session_id to student_id.",
    personal_columns=("student_id", "student_name", "student_email", "student_id_number"),
)

MEDIA_CHUNKS = Table(
    "media_chunks",
    "bronze",
    (
        *_KEYS,
        _c("track", "string", False),  # webcam | screen
        _c("chunk_index", "int", False),
        _c("chunk_start_ms", "long", False),
        _c("chunk_end_ms", "long", False),
        _c("original_key", "string"),
        _c("analysis_key", "string", False),
        _c("width", "int"),
        _c("height", "int"),
        _c("fps", "double"),
        _c("bitrate_bps", "long"),
        _c("frame_count", "long"),
        _c("gap_before_ms", "long"),
        _c("ingested_at", "timestamp"),
        _c("session_date", "string", False),
    ),
    ("session_date",),
    "One row per stored recording chunk, with what ingest measured on it.",
)

DETECTION_EVENTS = Table(
    "detection_events",
    "silver",
    (
        *_KEYS,
        _c("track", "string", False),
        _c("chunk_start_ms", "long", False),
        _c("frame_ts", "double", False),  # seconds from the session's recording start
        *_DETECTOR_OUTPUT,
        _c("session_date", "string", False),
    ),
    ("session_date",),
    "Per sampled frame detector output, both tracks.",
)

INCIDENTS = Table(
    "incidents",
    "gold",
    (
        *_INCIDENT_CORE,
        _c("started_at", "timestamp"),
        _c("ended_at", "timestamp"),
        _c("frame_timestamps", "array<double>"),
        _c("source", "string", False),  # batch | stream
        _c("reviewed_by", "string"),
        _c("resolution", "string"),  # confirmed | dismissed | null (pending)
        _c("reviewed_at", "timestamp"),
        _c("session_date", "string", False),
    ),
    ("session_date",),
    "Incidents with video timestamps; ids are deterministic (session, type, start second).",
)

PROCTOR_ACTIONS = Table(
    "proctor_actions",
    "bronze",
    (
        _c("action_id", "string", False),
        *_KEYS,
        _c("proctor_id", "string", False),
        _c("action_type", "string", False),
        _c("message", "string"),
        _c("created_at", "timestamp", False),
        _c("session_date", "string", False),
    ),
    ("session_date",),
    "Every proctor action, audited.",
    personal_columns=("message",),  # chat text may name the student
)

STREAM_DETECTIONS = Table(
    "stream_detections",
    "bronze",
    (
        *_KEYS,
        _c("track", "string", False),  # webcam | screen
        _c("frame_ts", "double", False),  # seconds since the session was created
        _c("captured_at", "timestamp", False),
        *_DETECTOR_OUTPUT,
        _c("session_date", "string", False),
    ),
    ("session_date",),
    "Per-frame detector output of the realtime workers, landed from the detections topic.",
)

STREAM_INCIDENTS = Table(
    "stream_incidents",
    "bronze",
    (
        *_INCIDENT_CORE,
        _c("state", "string", False),  # opened | updated | closed
        _c("review_status", "string", False),  # pending until a human reviews it
        _c("event_at", "timestamp", False),
        _c("session_date", "string", False),
    ),
    ("session_date",),
    "Latest state of each realtime incident (one row per incident id), landed from the topic.",
)

IDENTITY_VERIFICATIONS = Table(
    "identity_verifications",
    "audit",
    (
        _c("record_id", "string", False),
        *_KEYS,
        _c("exam_id", "string"),
        _c("student_id", "string"),
        _c("verified", "boolean", False),
        _c("similarity_score", "double"),
        _c("ocr_name", "string"),
        _c("ocr_id_number", "string"),
        _c("liveness", "string"),
        _c("signature", "string"),
        _c("verified_at", "timestamp", False),
        _c("month", "string", False),
    ),
    ("month",),
    "Signed pre-exam identity verification records.",
    personal_columns=("student_id", "ocr_name", "ocr_id_number"),
)

ERASURE_LOG = Table(
    "erasure_log",
    "audit",
    (
        _c("request_id", "string", False),
        _c("session_id", "string", False),  # "*" when a whole student was erased
        _c("institution_id", "string", False),
        _c("student_id_hash", "string", False),
        _c("requested_at", "timestamp", False),
        _c("completed_at", "timestamp"),
        _c("certificate_json", "string"),
        _c("signature", "string"),
        _c("month", "string", False),
    ),
    ("month",),
    "GDPR erasure requests and their signed certificates (no personal data).",
)

ANONYMIZED_SESSIONS = Table(
    "anonymized_sessions",
    "gold",
    (
        _c("record_id", "string", False),  # random: links to no session
        _c("institution_id", "string", False),
        _c("session_month", "string", False),  # the day is dropped on purpose
        _c("tier", "string"),
        _c("incident_count", "long", False),
        _c("high_severity_incidents", "long", False),
        _c("incidents_by_type", "string"),  # JSON object: incident type -> count
        _c("detection_count", "long", False),
        _c("erased_month", "string", False),
    ),
    ("session_month",),
    "What erasure keeps of an erased session for institution counts: no session or student "
    "link (the one table without session_id).",
)

RECORDING_QUALITY = Table(
    "recording_quality",
    "silver",
    (
        *_KEYS,
        _c("track", "string", False),  # webcam | screen
        _c("chunk_count", "int", False),
        _c("min_width", "int"),
        _c("min_height", "int"),
        _c("min_fps", "double"),
        _c("mean_bitrate_bps", "long"),
        _c("total_gap_ms", "long"),
        _c("max_gap_ms", "long"),
        _c("below_floor", "boolean", False),
        _c("issues", "string"),  # why it is below the floor, e.g. "height 480 < 720"
        _c("floor", "string", False),  # the floor it was checked against, e.g. 1280x720@15fps
        _c("measured_at", "timestamp", False),
        _c("session_date", "string", False),
    ),
    ("session_date",),
    "Per session and track: what arrived against the 720p/15 fps floor (auditors' flag; it "
    "never fails an exam).",
)

LEGAL_HOLDS = Table(
    "legal_holds",
    "audit",
    (
        _c("event_id", "string", False),
        *_KEYS,
        _c("action", "string", False),  # placed | released
        _c("actor", "string", False),  # the admin who acted
        _c("reason", "string", False),  # case reference; no personal data
        _c("event_at", "timestamp", False),
        _c("month", "string", False),
    ),
    ("month",),
    "Every legal hold placed or released; a session is held while its latest event is placed.",
)

RETENTION_LOG = Table(
    "retention_log",
    "audit",
    (
        _c("session_id", "string", False),
        _c("institution_id", "string", False),
        _c("session_ended_at", "timestamp"),
        _c("retention_days", "int", False),
        _c("expired_at", "timestamp", False),
        _c("status", "string", False),  # started | purged
        _c("erasure_request_id", "string"),
        _c("rows_removed", "long"),
        _c("objects_removed", "long"),
        _c("object_versions_removed", "long"),
        _c("run_id", "string", False),
        _c("purged_at", "timestamp"),
        _c("month", "string", False),
    ),
    ("month",),
    "What the retention schedule removed (one row per expired session, through erasure).",
)

SESSION_REPORTS = Table(
    "session_reports",
    "gold",
    (
        *_KEYS,
        _c("exam_id", "string"),
        _c("status", "string"),
        _c("started_at", "timestamp"),
        _c("ended_at", "timestamp"),
        _c("recording_s", "double"),  # analysed webcam seconds
        _c("chunks", "int"),
        _c("gaps", "int"),  # breaks in the chunk chain (auditors' gap flags)
        _c("detection_rows", "long"),
        _c("incidents", "long"),
        _c("high_severity_incidents", "long"),
        _c("incidents_by_type", "string"),  # JSON object: incident type -> count
        _c("confirmed", "long"),
        _c("dismissed", "long"),
        _c("pending_review", "long"),
        _c("risk_score", "double"),  # 0..100, see spark_jobs.session_reports.risk_score
        _c("verification_outcome", "string"),  # verified | failed | not_verified
        _c("similarity_score", "double"),
        _c("proctor_actions", "long"),
        _c("actions_by_type", "string"),  # JSON object: action type -> count
        _c("built_at", "timestamp", False),
        _c("session_date", "string", False),
    ),
    ("session_date",),
    "One summary per analysed session: incidents, risk score, identity outcome, proctor actions.",
)

INSTITUTION_DAILY = Table(
    "institution_daily",
    "gold",
    (
        _c("institution_id", "string", False),
        _c("session_date", "string", False),
        _c("sessions", "long", False),
        _c("recording_s", "double"),
        _c("incidents", "long"),
        _c("high_severity_incidents", "long"),
        _c("flagged_sessions", "long"),  # risk score at or above the flag threshold
        _c("mean_risk_score", "double"),
        _c("verified_sessions", "long"),
        _c("unverified_sessions", "long"),
        _c("proctor_actions", "long"),
        _c("confirmed", "long"),
        _c("dismissed", "long"),
        _c("pending_review", "long"),
        _c("built_at", "timestamp", False),
    ),
    ("session_date",),
    "Per institution and exam day, rebuilt from session_reports: aggregate counts only (no "
    "session column, like anonymized_sessions).",
)

ACCOMMODATIONS = Table(
    "accommodations",
    "bronze",
    (
        _c("change_id", "string", False),
        _c("institution_id", "string", False),
        _c("exam_id", "string", False),
        _c("student_id_hash", "string", False),  # keyed hash (erasure's), never the raw id
        _c("accommodation_json", "string", False),  # proctorlake.core.accommodations
        _c("set_by", "string", False),  # the admin who set it
        _c("set_at", "timestamp", False),
    ),
    (),
    "Every change to a student's accommodations for an exam (the latest applies): the "
    "audit trail and the record at once. Per student, not per session, so it has no "
    "session_id; erasure deletes a student's rows by the keyed hash.",
    personal_columns=("student_id_hash", "accommodation_json"),
)

SESSION_BREAKS = Table(
    "session_breaks",
    "bronze",
    (
        *_KEYS,
        _c("break_no", "int", False),  # 1, 2, ... within the session
        _c("started_at", "timestamp", False),
        _c("ended_at", "timestamp"),  # null while the break is open
        _c("session_date", "string", False),
    ),
    ("session_date",),
    "Breaks a student took from the exam page (within the accommodation's allowance).",
)

SUPPRESSED_INCIDENTS = Table(
    "suppressed_incidents",
    "gold",
    (
        *_INCIDENT_CORE,
        _c("reason", "string", False),  # exempt | threshold | break
        _c("source", "string", False),  # batch | stream
        _c("session_date", "string", False),
    ),
    ("session_date",),
    "Flags an accommodation suppressed: counted here, never raised in incidents.",
)

CHECKIN_EVENTS = Table(
    "checkin_events",
    "bronze",
    (
        *_KEYS,
        _c("event_id", "string", False),
        _c(
            "step", "string", False
        ),  # camera | microphone | screen | bandwidth | consent | identity
        _c("outcome", "string", False),  # passed | failed | human_review | accepted | declined
        _c("attempt", "int", False),
        _c("detail", "string"),  # e.g. "display surface window", "820 kbit/s"
        _c("tier", "string"),  # the tier shown with the privacy notice (consent)
        _c("notice_version", "string"),
        _c("at", "timestamp", False),
        _c("session_date", "string", False),
    ),
    ("session_date",),
    "Every check-in step's outcome before recording starts, the recorded consent included.",
)

ALL_TABLES: tuple[Table, ...] = (
    EXAM_SESSIONS,
    MEDIA_CHUNKS,
    DETECTION_EVENTS,
    INCIDENTS,
    PROCTOR_ACTIONS,
    STREAM_DETECTIONS,
    STREAM_INCIDENTS,
    IDENTITY_VERIFICATIONS,
    ERASURE_LOG,
    ANONYMIZED_SESSIONS,
    RECORDING_QUALITY,
    LEGAL_HOLDS,
    RETENTION_LOG,
    SESSION_REPORTS,
    INSTITUTION_DAILY,
    ACCOMMODATIONS,
    SESSION_BREAKS,
    SUPPRESSED_INCIDENTS,
    CHECKIN_EVENTS,
)

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in ALL_TABLES}
