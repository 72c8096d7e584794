"""Data-quality suites per layer (great-expectations), validated on each session's rows.

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


class SessionRows:
    """The rows a suite reads for a batch of sessions, through one DuckDB connection (opening
    one over the Delta tables costs ~0.3 s; a run of 8 sessions opened 32 before)."""

    def __init__(self, settings: Settings, session_ids: Sequence[str]) -> None:
        self.session_ids = list(dict.fromkeys(session_ids))
        self._db = lake.duckdb_connection(settings)
        self._in = f"session_id in ({', '.join('?' for _ in self.session_ids)})"

    def frames(self, table: str) -> dict[str, pd.DataFrame]:
        """Each session's rows of the table (an empty frame for a session without any)."""
        rows = self._db.execute(f"select * from {table} where {self._in}", self.session_ids).df()
        return {
            sid: rows[rows["session_id"] == sid].reset_index(drop=True) for sid in self.session_ids
        }

    def recording_seconds(self) -> dict[str, float]:
        """How long each session's recording is (its latest chunk end), in seconds."""
        ends = dict(
            self._db.execute(
                f"select session_id, max(chunk_end_ms) from media_chunks where {self._in} "
                "group by session_id",
                self.session_ids,
            ).fetchall()
        )
        return {sid: (ends.get(sid) or 0) / 1000.0 for sid in self.session_ids}

    def known_sessions(self) -> list[str]:
        rows = self._db.execute("select distinct session_id from exam_sessions").fetchall()
        return [r[0] for r in rows]


TIMESTAMP_SLACK_S = 1.0
"""A sampled frame may sit up to one frame interval past the last chunk's nominal end."""

Results = dict[str, QualityResult]


def check_media_chunks(settings: Settings, session_ids: Sequence[str]) -> Results:
    import great_expectations as gx

    expectations = [
        *_ids_not_null("session_id", "institution_id", "analysis_key", "track"),
        gx.expectations.ExpectColumnValuesToBeInSet(column="track", value_set=["webcam", "screen"]),
        gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="chunk_end_ms", column_B="chunk_start_ms", or_equal=False
        ),
        gx.expectations.ExpectColumnValuesToBeBetween(column="chunk_start_ms", min_value=0),
    ]
    frames = SessionRows(settings, session_ids).frames("media_chunks")
    return {
        sid: validate("bronze.media_chunks", frame, expectations) for sid, frame in frames.items()
    }


def check_detection_events(settings: Settings, session_ids: Sequence[str]) -> Results:
    import great_expectations as gx

    rows = SessionRows(settings, session_ids)
    ends = rows.recording_seconds()
    return {
        sid: validate(
            "silver.detection_events",
            frame,
            [
                *_ids_not_null("session_id", "institution_id", "detection_type", "frame_ts"),
                *_confidence(),
                gx.expectations.ExpectColumnValuesToBeBetween(
                    column="frame_ts", min_value=0, max_value=ends[sid] + TIMESTAMP_SLACK_S
                ),
            ],
        )
        for sid, frame in rows.frames("detection_events").items()
    }


def check_incidents(settings: Settings, session_ids: Sequence[str]) -> Results:
    import great_expectations as gx

    rows = SessionRows(settings, session_ids)
    ends = rows.recording_seconds()
    known = rows.known_sessions()
    results = {}
    for sid, frame in rows.frames("incidents").items():
        end = ends[sid] + TIMESTAMP_SLACK_S
        results[sid] = validate(
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
                gx.expectations.ExpectColumnValuesToBeInSet(column="session_id", value_set=known),
            ],
        )
    return results


def check_session_reports(settings: Settings, session_ids: Sequence[str]) -> Results:
    import great_expectations as gx

    expectations = [
        *_ids_not_null("session_id", "institution_id", "verification_outcome"),
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="risk_score", min_value=0, max_value=100
        ),
        gx.expectations.ExpectColumnValuesToBeInSet(
            column="verification_outcome", value_set=["verified", "failed", "not_verified"]
        ),
    ]
    frames = SessionRows(settings, session_ids).frames("session_reports")
    return {
        sid: validate("gold.session_reports", frame, expectations) for sid, frame in frames.items()
    }


SUITES: dict[str, Callable[[Settings, Sequence[str]], Results]] = {
    "media_chunks": check_media_chunks,
    "detection_events": check_detection_events,
    "incidents": check_incidents,
    "session_reports": check_session_reports,
}
