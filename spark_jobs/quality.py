"""Data-quality suites per layer (great-expectations), validated on one session's rows.

Dagster runs them as asset checks (``dagster_project/checks.py``); a failed expectation
names the rule and a few offending values, never a student's personal data (no table the
suites read carries any).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from proctorlake.core.settings import Settings
from proctorlake.storage import lake


@dataclass(frozen=True)
class QualityResult:
    suite: str
    rows: int
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@lru_cache(maxsize=1)
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _batch_definition(name: str):
    context = _context()
    source = context.data_sources.add_or_update_pandas(f"proctorlake-{name}")
    asset = source.add_dataframe_asset(name)
    return asset.add_batch_definition_whole_dataframe(name)


def validate(name: str, frame: pd.DataFrame, expectations: Sequence) -> QualityResult:
    """Run the expectations on the frame; each failure says which rule and what it saw."""
    import great_expectations as gx

    if frame.empty:
        return QualityResult(name, 0)
    suite = gx.ExpectationSuite(name=name, expectations=list(expectations))
    batch = _batch_definition(name).get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite)
    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "value_set")}
        seen = item.result.get("partial_unexpected_list", [])[:5]
        count = item.result.get("unexpected_count")
        failures.append(f"{config.type} {kwargs}: {count} unexpected, e.g. {seen}")
    return QualityResult(name, len(frame), failures)


def _ids_not_null(*columns: str) -> list:
    import great_expectations as gx

    return [gx.expectations.ExpectColumnValuesToNotBeNull(column=c) for c in columns]


def _confidence(column: str = "confidence") -> list:
    import great_expectations as gx

    return [gx.expectations.ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=1)]


def _session_rows(settings: Settings, table: str, session_id: str) -> pd.DataFrame:
    return (
        lake.duckdb_connection(settings)
        .execute(f"select * from {table} where session_id = ?", [session_id])
        .df()
    )


def recording_seconds(settings: Settings, session_id: str) -> float:
    """How long the session's recording is (its latest chunk end), in seconds."""
    value = (
        lake.duckdb_connection(settings)
        .execute("select max(chunk_end_ms) from media_chunks where session_id = ?", [session_id])
        .fetchone()[0]
    )
    return (value or 0) / 1000.0


TIMESTAMP_SLACK_S = 1.0
"""A sampled frame may sit up to one frame interval past the last chunk's nominal end."""


def check_media_chunks(settings: Settings, session_id: str) -> QualityResult:
    import great_expectations as gx

    frame = _session_rows(settings, "media_chunks", session_id)
    return validate(
        "bronze.media_chunks",
        frame,
        [
            *_ids_not_null("session_id", "institution_id", "analysis_key", "track"),
            gx.expectations.ExpectColumnValuesToBeInSet(
                column="track", value_set=["webcam", "screen"]
            ),
            gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="chunk_end_ms", column_B="chunk_start_ms", or_equal=False
            ),
            gx.expectations.ExpectColumnValuesToBeBetween(column="chunk_start_ms", min_value=0),
        ],
    )


def check_detection_events(settings: Settings, session_id: str) -> QualityResult:
    import great_expectations as gx

    frame = _session_rows(settings, "detection_events", session_id)
    end = recording_seconds(settings, session_id) + TIMESTAMP_SLACK_S
    return validate(
        "silver.detection_events",
        frame,
        [
            *_ids_not_null("session_id", "institution_id", "detection_type", "frame_ts"),
            *_confidence(),
            gx.expectations.ExpectColumnValuesToBeBetween(
                column="frame_ts", min_value=0, max_value=end
            ),
        ],
    )


def known_sessions(settings: Settings) -> list[str]:
    rows = (
        lake.duckdb_connection(settings)
        .execute("select distinct session_id from exam_sessions")
        .fetchall()
    )
    return [r[0] for r in rows]


def check_incidents(settings: Settings, session_id: str) -> QualityResult:
    import great_expectations as gx

    frame = _session_rows(settings, "incidents", session_id)
    end = recording_seconds(settings, session_id) + TIMESTAMP_SLACK_S
    return validate(
        "gold.incidents",
        frame,
        [
            *_ids_not_null("incident_id", "session_id", "institution_id", "incident_type"),
            *_confidence(),
            gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="end_s", column_B="start_s", or_equal=True
            ),
            gx.expectations.ExpectColumnValuesToBeBetween(
                column="start_s", min_value=0, max_value=end
            ),
            gx.expectations.ExpectColumnValuesToBeBetween(
                column="end_s", min_value=0, max_value=end
            ),
            # Every incident's session exists (orphans mean a lost or erased session row).
            gx.expectations.ExpectColumnValuesToBeInSet(
                column="session_id", value_set=known_sessions(settings)
            ),
        ],
    )


def check_session_reports(settings: Settings, session_id: str) -> QualityResult:
    import great_expectations as gx

    frame = _session_rows(settings, "session_reports", session_id)
    return validate(
        "gold.session_reports",
        frame,
        [
            *_ids_not_null("session_id", "institution_id", "verification_outcome"),
            gx.expectations.ExpectColumnValuesToBeBetween(
                column="risk_score", min_value=0, max_value=100
            ),
            gx.expectations.ExpectColumnValuesToBeInSet(
                column="verification_outcome", value_set=["verified", "failed", "not_verified"]
            ),
        ],
    )


SUITES: dict[str, Callable[[Settings, str], QualityResult]] = {
    "media_chunks": check_media_chunks,
    "detection_events": check_detection_events,
    "incidents": check_incidents,
    "session_reports": check_session_reports,
}
