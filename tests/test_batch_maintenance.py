"""Table upkeep on real Delta tables: compaction with Z-order keeps every row, fewer files."""

from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.storage import lake
from spark_jobs.maintain_tables import Z_ORDER, optimize_all, optimize_table


def _incident(i: int, session: str) -> dict:
    return {
        "incident_id": f"{session}-{i}",
        "session_id": session,
        "institution_id": "uni-a" if i % 2 else "uni-b",
        "incident_type": "face_not_visible",
        "severity": "high",
        "confidence": 0.8,
        "start_s": float(i),
        "end_s": float(i + 5),
        "source": "batch",
        "session_date": "2026-03-02",
    }


def test_optimize_compacts_and_z_orders_without_losing_rows(settings: Settings) -> None:
    for session in range(6):  # six commits, one small file each
        rows = [_incident(i, f"s-{session}") for i in range(10)]
        lake.append_rows(settings, schemas.INCIDENTS, rows)
    before = lake.open_table(settings, "incidents")
    assert len(before.file_uris()) == 6

    result = optimize_table(settings, "incidents")
    after = lake.open_table(settings, "incidents")
    assert result["z_order"] == list(Z_ORDER["incidents"])
    assert (result["files_removed"], result["files_added"]) == (6, 1)
    assert len(after.file_uris()) == 1
    table = lake.read_table(settings, "incidents")
    assert table.num_rows == 60
    assert sorted(table.column("incident_id").to_pylist()) == sorted(
        f"s-{s}-{i}" for s in range(6) for i in range(10)
    )
    # Tables never written are skipped, not created.
    results = {r["table"]: r for r in optimize_all(settings)}
    assert results["session_reports"] == {"table": "session_reports", "skipped": "not written yet"}
    assert lake.open_table(settings, "session_reports") is None
