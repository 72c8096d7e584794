"""Table upkeep: compact small files and Z-order by the columns reports and dashboards filter on.

One task per chunk writes one small file per chunk; compaction keeps reads fast. Tables are
already partitioned by date (``proctorlake.core.schemas``); inside a date, Z-ordering clusters the
rows of one institution and one session, so a report or a dashboard reads few files.
"""

from __future__ import annotations

from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.storage import lake

Z_ORDER: dict[str, tuple[str, ...]] = {
    schemas.DETECTION_EVENTS.name: ("institution_id", "session_id", "frame_ts"),
    schemas.INCIDENTS.name: ("institution_id", "session_id", "start_s"),
    schemas.MEDIA_CHUNKS.name: ("institution_id", "session_id"),
    schemas.SESSION_REPORTS.name: ("institution_id", "exam_id"),
    schemas.PROCTOR_ACTIONS.name: ("institution_id", "session_id"),
    schemas.STREAM_DETECTIONS.name: ("institution_id", "session_id"),
}
"""Filter columns per table (the report reads by session, dashboards by institution)."""


def optimize_table(settings: Settings, name: str) -> dict:
    """Compact one table (Z-ordered where it has filter columns); no-op if never written."""
    table = lake.open_table(settings, name)
    if table is None:
        return {"table": name, "skipped": "not written yet"}
    columns = Z_ORDER.get(name)
    metrics = table.optimize.z_order(list(columns)) if columns else table.optimize.compact()
    return {
        "table": name,
        "z_order": list(columns or ()),
        "files_added": metrics.get("numFilesAdded", 0),
        "files_removed": metrics.get("numFilesRemoved", 0),
    }


def optimize_all(settings: Settings) -> list[dict]:
    return [optimize_table(settings, t.name) for t in schemas.ALL_TABLES]
