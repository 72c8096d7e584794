"""Bucket lifecycle rules and the storage estimate that follow from the retention policy.

Lifecycle (S3 deployments):
- recordings move to a colder class (Glacier Instant Retrieval: auditors still open them
  at once) ``COLD_AFTER_DAYS`` after upload;
- recordings expire ``EXPIRY_GRACE_DAYS`` after their institution's retention period. The
  retention schedule purges them first through erasure (rows, objects, certificate); the
  bucket rule is the backstop for objects that schedule cannot see (an upload whose rows
  never landed), so it must never run ahead of it;
- S3 filters cannot say "not held", so expiry matches a tag instead: every recording
  carries ``proctorlake-retention`` = its institution's period (``730d``) and a held
  session's objects are re-tagged ``hold``, which no expiry rule matches. Objects without
  the tag never expire by rule: the safe side.
Delta tables (``lake/``) have no lifecycle rule: their rows go through erasure only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from proctorlake.core.settings import Settings
from proctorlake.governance.retention_policy import RetentionPolicy
from proctorlake.storage.object_store import S3ObjectStore, object_keys_for_session

RECORDINGS_PREFIX = "sessions/"
COLD_AFTER_DAYS = 30
COLD_STORAGE_CLASS = "GLACIER_IR"
EXPIRY_GRACE_DAYS = 30
INCOMPLETE_UPLOAD_DAYS = 7
RETENTION_TAG = "proctorlake-retention"
HOLD_TAG_VALUE = "hold"


def retention_tag_value(policy: RetentionPolicy, institution_id: str, held: bool) -> str:
    return HOLD_TAG_VALUE if held else f"{policy.days_for(institution_id)}d"


def lifecycle_rules(policy: RetentionPolicy) -> list[dict]:
    """The bucket lifecycle rules (boto3 ``put_bucket_lifecycle_configuration`` shape)."""
    rules: list[dict] = [
        {
            "ID": f"recordings-cold-after-{COLD_AFTER_DAYS}-days",
            "Status": "Enabled",
            "Filter": {"Prefix": RECORDINGS_PREFIX},
            "Transitions": [{"Days": COLD_AFTER_DAYS, "StorageClass": COLD_STORAGE_CLASS}],
        }
    ]
    for days in policy.periods():
        rules.append(
            {
                "ID": f"recordings-expire-{days}d-retention",
                "Status": "Enabled",
                "Filter": {
                    "And": {
                        "Prefix": RECORDINGS_PREFIX,
                        "Tags": [{"Key": RETENTION_TAG, "Value": f"{days}d"}],
                    }
                },
                "Expiration": {"Days": days + EXPIRY_GRACE_DAYS},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
            }
        )
    rules.append(
        {
            "ID": "recordings-abort-incomplete-uploads",
            "Status": "Enabled",
            "Filter": {"Prefix": RECORDINGS_PREFIX},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": INCOMPLETE_UPLOAD_DAYS},
        }
    )
    return rules


def apply_lifecycle(settings: Settings, policy: RetentionPolicy) -> list[dict]:
    """Set the rules on the bucket and return what the bucket now reports."""
    if settings.storage_backend != "s3":
        raise ValueError("lifecycle rules apply to S3 buckets; this installation stores locally")
    store = S3ObjectStore(settings)
    store.client.put_bucket_lifecycle_configuration(
        Bucket=store.bucket, LifecycleConfiguration={"Rules": lifecycle_rules(policy)}
    )
    return store.client.get_bucket_lifecycle_configuration(Bucket=store.bucket)["Rules"]


def tag_session_objects(
    settings: Settings,
    session_id: str,
    institution_id: str,
    held: bool,
    policy: RetentionPolicy | None = None,
) -> int:
    """Tag every current object of the session with its retention class; returns how many.

    Nothing to do on the local backend (no lifecycle there: retention alone deletes).
    """
    if settings.storage_backend != "s3":
        return 0
    from proctorlake.governance.retention_policy import load_retention_policy

    policy = policy or load_retention_policy(settings)
    value = retention_tag_value(policy, institution_id, held)
    store = S3ObjectStore(settings)
    tagged = 0
    for key in store.list(object_keys_for_session(session_id)):
        store.client.put_object_tagging(
            Bucket=store.bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": RETENTION_TAG, "Value": value}]},
        )
        tagged += 1
    return tagged


def tag_all_sessions(settings: Settings, policy: RetentionPolicy, held: set[str]) -> dict[str, int]:
    """Backfill: tag every stored session's objects (``held`` ones ``hold``; the caller reads
    the holds, so this module stays below ``legal_holds``)."""
    from proctorlake.storage import lake

    sessions = lake.read_table(settings, "exam_sessions").select(["session_id", "institution_id"])
    counts = {"sessions": 0, "objects": 0, "held_sessions": 0}
    for row in sessions.to_pylist():
        is_held = row["session_id"] in held
        counts["objects"] += tag_session_objects(
            settings, row["session_id"], row["institution_id"], is_held, policy
        )
        counts["sessions"] += 1
        counts["held_sessions"] += int(is_held)
    return counts


# --- the storage estimate -----------------------------------------------------------------

MB, TB, PB = 10**6, 10**12, 10**15
SEED_SESSIONS = 200_000
SEED_MB_PER_EXAM = 675
SEED_EXAM_HOURS = 3
SEED_WINDOWS_PER_YEAR = 50
SEED_YEARS = 2
SEED_STATED_TOTAL_PB = 27
# The seed's own rate, used when nothing was ingested yet: 675 MB per 3 h = 500 kbit/s.
SEED_BYTES_PER_HOUR = SEED_MB_PER_EXAM * MB / SEED_EXAM_HOURS


@dataclass(frozen=True)
class MeasuredRate:
    bytes_per_hour: float
    sessions: int
    recorded_hours: float
    source: str  # "measured at ingest" | "seed default"


@dataclass(frozen=True)
class StorageEstimate:
    sessions: int
    hours: float
    windows_per_year: float
    years: float
    bytes_per_hour: float
    rate_source: str
    bytes_per_session: float
    bytes_per_window: float
    bytes_per_year: float
    bytes_retained: float

    def to_json(self) -> dict:
        return asdict(self)


def measured_rate(settings: Settings) -> MeasuredRate:
    """Stored bytes per session-hour from the bitrates ingest measured (all tracks).

    Bytes are each chunk's measured bitrate times its duration; hours are each session's
    longest track. Falls back to the seed's 500 kbit/s when nothing was ingested.
    """
    from proctorlake.storage import lake

    query = """
        with chunks as (
            select session_id, track, bitrate_bps,
                   greatest(chunk_end_ms - chunk_start_ms, 0) / 1000.0 as seconds
            from media_chunks where bitrate_bps is not null and bitrate_bps > 0
        ), tracks as (
            select session_id, track, sum(seconds) as seconds,
                   sum(bitrate_bps * seconds / 8.0) as bytes
            from chunks group by all
        ), sessions as (
            select session_id, max(seconds) as seconds, sum(bytes) as bytes
            from tracks group by all
        )
        select count(*), coalesce(sum(seconds), 0), coalesce(sum(bytes), 0) from sessions
    """
    count, seconds, total = lake.duckdb_connection(settings).execute(query).fetchone()
    if not count or not seconds:
        return MeasuredRate(SEED_BYTES_PER_HOUR, 0, 0.0, "seed default (nothing ingested yet)")
    return MeasuredRate(total / (seconds / 3600), int(count), seconds / 3600, "measured at ingest")


def estimate_storage(
    sessions: int, hours: float, windows_per_year: float, years: float, rate: MeasuredRate
) -> StorageEstimate:
    """What the policy keeps at steady state: every window of the retention period."""
    if sessions < 0 or hours <= 0 or windows_per_year <= 0 or years <= 0:
        raise ValueError("sessions must be >= 0; hours, windows and years must be positive")
    per_session = rate.bytes_per_hour * hours
    per_window = per_session * sessions
    per_year = per_window * windows_per_year
    return StorageEstimate(
        sessions,
        hours,
        windows_per_year,
        years,
        rate.bytes_per_hour,
        rate.source,
        per_session,
        per_window,
        per_year,
        per_year * years,
    )


def human_bytes(value: float) -> str:
    for unit, size in (("PB", PB), ("TB", TB), ("GB", 10**9), ("MB", MB)):
        if value >= size:
            return f"{value / size:,.2f} {unit}"
    return f"{value:,.0f} B"


def seed_arithmetic() -> list[str]:
    """The seed's figures, recomputed, so an operator can compare them with the estimate."""
    per_window = SEED_SESSIONS * SEED_MB_PER_EXAM * MB
    retained = per_window * SEED_WINDOWS_PER_YEAR * SEED_YEARS
    factor = SEED_STATED_TOTAL_PB * PB / retained
    return [
        f"seed: {SEED_SESSIONS:,} sessions x {SEED_MB_PER_EXAM} MB per {SEED_EXAM_HOURS} h exam"
        f" = {human_bytes(per_window)} per window"
        f" ({SEED_BYTES_PER_HOUR * 8 / 3600 / 1000:,.0f} kbit/s)",
        f"seed: x {SEED_WINDOWS_PER_YEAR} windows a year x {SEED_YEARS} years"
        f" = {human_bytes(retained)}",
        f"seed states {SEED_STATED_TOTAL_PB} PB, {math.floor(factor * 10) / 10:g}x that:"
        " it holds only if every session stores two such streams (webcam and screen)",
    ]
