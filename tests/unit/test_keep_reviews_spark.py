"""keep_reviews on Spark: one module-scoped local[1] session from the project's factory
(the tier's only Spark; ~25 s of it on a quiet 2-core machine)."""

from __future__ import annotations

import datetime as dt

from proctorlake.core import schemas
from spark_jobs.analyze_sessions import keep_reviews

UTC = dt.UTC
AT = dt.datetime(2026, 1, 12, 9, tzinfo=UTC)


def _gold_row(incident: str, resolution=None, reviewed_by=None, reviewed_at=None) -> dict:
    row = {name: None for name in schemas.INCIDENTS.column_names}
    row.update(
        incident_id=incident,
        session_id="s-1",
        institution_id="u",
        incident_type="gaze_away",
        severity="low",
        confidence=0.7,
        start_s=1.0,
        end_s=4.0,
        source="batch",
        session_date="2026-01-12",
        resolution=resolution,
        reviewed_by=reviewed_by,
        reviewed_at=reviewed_at,
    )
    return row


def _frame(spark, rows):
    schema = schemas.INCIDENTS.spark_schema()
    values = [tuple(r[n] for n in schema.fieldNames()) for r in rows]
    return spark.createDataFrame(values, schema)


def _reviews(spark, rows):
    return _frame(spark, rows).select("incident_id", "reviewed_by", "resolution", "reviewed_at")


def test_a_rerun_keeps_each_reviewed_incidents_decision_and_drops_vanished_ones(unit_spark):
    fresh = _frame(unit_spark, [_gold_row("a"), _gold_row("b")])
    prior = _reviews(
        unit_spark,
        [_gold_row("a", "dismissed", "alice", AT), _gold_row("gone", "confirmed", "bob", AT)],
    )
    kept = {r["incident_id"]: r.asDict() for r in keep_reviews(fresh, prior).collect()}
    assert set(kept) == {"a", "b"}
    assert (kept["a"]["resolution"], kept["a"]["reviewed_by"]) == ("dismissed", "alice")
    assert kept["a"]["reviewed_at"].astimezone(UTC) == AT  # Spark hands back local naive times
    assert (kept["b"]["resolution"], kept["b"]["reviewed_by"]) == (None, None)


def test_keep_reviews_returns_the_gold_columns_in_order(unit_spark):
    out = keep_reviews(_frame(unit_spark, [_gold_row("a")]), _reviews(unit_spark, []))
    assert out.columns == schemas.INCIDENTS.column_names
    assert out.count() == 1
