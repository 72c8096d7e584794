"""Topic landing: micro-batches from Kafka into Delta bronze, so analysts see live events.

``detections`` lands in ``stream_detections`` and ``incidents`` in ``stream_incidents``
(one row per incident with its latest state). Rows are merged on their natural key, then the
offsets are committed: a batch replayed after a crash rewrites the same rows, never adds
copies. The ``sessions`` and ``proctor.actions`` topics need no lander: the API writes
``exam_sessions`` and ``proctor_actions`` itself before it publishes, so the audit row exists
before the event does.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable

from kafka import OffsetAndMetadata

from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.core.topics import DETECTIONS, INCIDENTS
from proctorlake.governance import erased_sessions
from proctorlake.storage import kafka_io
from realtime.resilient import run_until_stopped

log = logging.getLogger(__name__)
GROUP_ID = "delta-lander"
BATCH_SECONDS = 2.0


def _utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def detection_row(event: dict) -> dict:
    captured = _utc(event["captured_at_ms"])
    row = {name: event.get(name) for name in schemas.STREAM_DETECTIONS.column_names}
    row["captured_at"] = captured
    row["session_date"] = (captured - dt.timedelta(seconds=event["frame_ts"])).date().isoformat()
    return row


def incident_row(event: dict) -> dict:
    at = _utc(event["event_at_ms"])
    row = {name: event.get(name) for name in schemas.STREAM_INCIDENTS.column_names}
    row["event_at"] = at
    row["session_date"] = (at - dt.timedelta(seconds=event["end_s"])).date().isoformat()
    return row


LANDINGS: dict[str, tuple[schemas.Table, Callable[[dict], dict], tuple[str, ...]]] = {
    DETECTIONS.name: (
        schemas.STREAM_DETECTIONS,
        detection_row,
        ("session_id", "track", "frame_ts", "detection_type"),
    ),
    INCIDENTS.name: (schemas.STREAM_INCIDENTS, incident_row, ("incident_id",)),
}


class TopicLander:
    def __init__(self, settings: Settings, group_id: str = GROUP_ID) -> None:
        self.settings = settings
        self.consumer = kafka_io.make_group_consumer(
            settings, group_id, [DETECTIONS, INCIDENTS], max_poll_records=2000
        )
        self.rows_landed = 0

    def land_once(self, batch_seconds: float = BATCH_SECONDS) -> int:
        """Collect up to ``batch_seconds`` of records, merge them into Delta, commit."""
        deadline = time.monotonic() + batch_seconds
        collected: dict = {}
        while time.monotonic() < deadline:
            remaining_ms = max(1, int((deadline - time.monotonic()) * 1000))
            for partition, records in self.consumer.poll(timeout_ms=remaining_ms).items():
                collected.setdefault(partition, []).extend(records)
        if not collected:
            return 0
        rows: dict[str, dict[tuple, dict]] = {topic: {} for topic in LANDINGS}
        for records in collected.values():
            for record in records:
                table, to_row, key = LANDINGS[record.topic]
                row = to_row(json.loads(record.value))
                rows[record.topic][tuple(row[k] for k in key)] = row  # the latest state wins
        landed = 0
        for topic, keyed in rows.items():
            table, _, key = LANDINGS[topic]
            if keyed:
                # an erased session's late events are dropped, not landed after the erasure
                landed += erased_sessions.merge_unerased_rows(
                    self.settings, table, list(keyed.values()), key
                )
        self.consumer.commit(
            {p: OffsetAndMetadata(r[-1].offset + 1, "", -1) for p, r in collected.items()}
        )
        self.rows_landed += landed
        return landed

    def close(self) -> None:
        self.consumer.close()


def run_lander(settings: Settings, stop: threading.Event) -> None:
    """Land until ``stop``; rebuilt after broker failures, resuming from the last commit."""
    run_until_stopped(lambda: TopicLander(settings), lambda lander: lander.land_once(), stop)
