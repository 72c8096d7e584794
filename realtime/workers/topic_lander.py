"""Topic landing: micro-batches from Kafka into Delta bronze, so analysts see live events.

``detections`` lands in ``stream_detections``, ``incidents`` in ``stream_incidents`` (one row
per incident with its latest state) and ``integrity`` in ``integrity_events``. Rows are merged
on their natural key, then the offsets are committed: a batch replayed after a crash rewrites
the same rows, never adds copies. The ``sessions`` and ``proctor.actions`` topics need no
lander: the API writes ``exam_sessions`` and ``proctor_actions`` itself before it publishes, so
the audit row exists before the event does.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kafka import OffsetAndMetadata

from proctorlake.core import schemas
from proctorlake.core.messages import (
    DetectionMessage,
    IncidentMessage,
    IntegrityEventMessage,
    MessageFormatError,
)
from proctorlake.core.settings import Settings
from proctorlake.core.topics import DETECTIONS, INCIDENTS, INTEGRITY
from proctorlake.governance import erased_sessions, keystore, sealed_topics
from proctorlake.storage import kafka_io
from realtime.resilient import run_until_stopped

log = logging.getLogger(__name__)
GROUP_ID = "delta-lander"
REVIEW_PENDING = "pending"
BATCH_SECONDS = 2.0


def _utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def detection_row(message: DetectionMessage) -> dict:
    """The ``stream_detections`` row of a detection (its detector columns as published)."""
    captured = _utc(message.captured_at_ms)
    row = message.model_dump(mode="json", include=set(schemas.STREAM_DETECTIONS.column_names))
    row["captured_at"] = captured
    row["session_date"] = (captured - dt.timedelta(seconds=message.frame_ts)).date().isoformat()
    return row


def incident_row(message: IncidentMessage) -> dict:
    """The ``stream_incidents`` row of an incident's latest state; a new row is pending review
    (a review, once made, is never reset by a later state: see ``LANDINGS``)."""
    at = _utc(message.event_at_ms)
    row = message.model_dump(mode="json", include=set(schemas.STREAM_INCIDENTS.column_names))
    row["review_status"] = REVIEW_PENDING
    row["event_at"] = at
    row["session_date"] = (at - dt.timedelta(seconds=message.end_s)).date().isoformat()
    return row


def integrity_row(message: IntegrityEventMessage) -> dict:
    """The ``integrity_events`` row of one exam-page event (its thresholds are not kept: the
    session's policy is in ``exam_sessions``)."""
    occurred = _utc(message.occurred_at_ms)
    row = message.model_dump(mode="json", include=set(schemas.INTEGRITY_EVENTS.column_names))
    row["occurred_at"] = occurred
    row["session_date"] = (occurred - dt.timedelta(seconds=message.session_ts)).date().isoformat()
    return row


@dataclass(frozen=True)
class Landing:
    table: schemas.Table
    to_row: Callable
    key: tuple[str, ...]
    keep_on_update: tuple[str, ...] = ()


LANDINGS: dict[str, Landing] = {
    DETECTIONS.name: Landing(
        schemas.STREAM_DETECTIONS,
        detection_row,
        ("session_id", "track", "frame_ts", "detection_type"),
    ),
    INCIDENTS.name: Landing(
        schemas.STREAM_INCIDENTS, incident_row, ("incident_id",), ("review_status",)
    ),
    INTEGRITY.name: Landing(schemas.INTEGRITY_EVENTS, integrity_row, ("event_id",)),
}


class TopicLander:
    def __init__(self, settings: Settings, group_id: str = GROUP_ID) -> None:
        self.settings = settings
        self.consumer = kafka_io.make_group_consumer(
            settings, group_id, [DETECTIONS, INCIDENTS, INTEGRITY], max_poll_records=2000
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
                landing = LANDINGS[record.topic]
                try:
                    row = landing.to_row(sealed_topics.decode(self.settings, record))
                except keystore.KeyErased:
                    continue  # an erased session's events are gone on purpose, never landed
                except MessageFormatError as exc:
                    log.warning("skipped a malformed %s record: %s", record.topic, exc)
                    continue
                key = tuple(row[k] for k in landing.key)
                rows[record.topic][key] = row  # the latest state wins
        landed = 0
        for topic, keyed in rows.items():
            landing = LANDINGS[topic]
            if keyed:
                # an erased session's late events are dropped, not landed after the erasure
                landed += erased_sessions.merge_unerased_rows(
                    self.settings,
                    landing.table,
                    list(keyed.values()),
                    landing.key,
                    keep_on_update=landing.keep_on_update,
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
