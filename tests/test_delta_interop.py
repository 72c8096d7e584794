"""Two independent Delta implementations agree: delta-spark (JVM) and delta-rs (deltalake)."""

from __future__ import annotations

import datetime as dt

import pytest
from deltalake import DeltaTable, write_deltalake

from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.storage import lake

pytestmark = pytest.mark.slow

NOW = dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.UTC)


def _incident(i: int) -> dict:
    return {
        "incident_id": f"inc-{i}",
        "session_id": f"sess-{i % 2}",
        "institution_id": "uni-a",
        "incident_type": "multiple_faces",
        "severity": "high",
        "confidence": 0.5 + i / 100,
        "start_s": float(i),
        "end_s": float(i + 5),
        "started_at": NOW,
        "ended_at": NOW + dt.timedelta(seconds=5),
        "frame_timestamps": [float(i), float(i + 1)],
        "source": "batch",
        "reviewed_by": None,
        "resolution": None,
        "reviewed_at": None,
        "session_date": "2026-11-25",
    }


def test_spark_writes_delta_that_delta_rs_reads(spark, settings: Settings) -> None:
    table = schemas.INCIDENTS
    lake.ensure_table(settings, table)
    rows = [_incident(i) for i in range(6)]
    frame = spark.createDataFrame(
        [tuple(r[c] for c in table.column_names) for r in rows], table.spark_schema()
    )
    frame.write.format("delta").mode("append").save(settings.table_uri(table.name))

    read_back = DeltaTable(lake.delta_uri(settings, table.name)).to_pyarrow_table()
    assert read_back.num_rows == 6
    got = sorted(read_back.to_pylist(), key=lambda r: r["incident_id"])
    assert got[3]["confidence"] == pytest.approx(0.53)
    assert got[3]["frame_timestamps"] == [3.0, 4.0]
    assert got[3]["started_at"] == NOW
    # The table property that keeps personal values out of the log survived the Spark write.
    assert DeltaTable(lake.delta_uri(settings, table.name)).metadata().configuration[
        "delta.dataSkippingStatsColumns"
    ] == ",".join(table.stats_columns)


def test_delta_rs_writes_delta_that_spark_reads(spark, settings: Settings) -> None:
    table = schemas.INCIDENTS
    lake.append_rows(settings, table, [_incident(i) for i in range(4)])
    write_deltalake(
        lake.delta_uri(settings, table.name),
        lake.to_arrow(table, [_incident(10)]),
        mode="append",
    )
    frame = spark.read.format("delta").load(settings.table_uri(table.name))
    assert frame.count() == 5
    assert frame.filter("session_id = 'sess-0'").count() == 3
    row = frame.filter("incident_id = 'inc-10'").collect()[0]
    assert row["end_s"] == 15.0 and row["frame_timestamps"] == [10.0, 11.0]
    # Both engines see the same version history.
    history = DeltaTable(lake.delta_uri(settings, table.name)).history()
    assert len(history) == 3  # create + two appends
    assert spark.sql(f"DESCRIBE HISTORY delta.`{settings.table_uri(table.name)}`").count() == 3


def test_merge_rows_is_idempotent(settings: Settings) -> None:
    table = schemas.INCIDENTS
    rows = [_incident(i) for i in range(3)]
    lake.merge_rows(settings, table, rows, ["incident_id"])
    lake.merge_rows(settings, table, rows, ["incident_id"])
    assert lake.read_table(settings, table.name).num_rows == 3
