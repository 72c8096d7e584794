"""Integrity worker: the exam page's browser events in, incidents out.

A consumer-group member on ``integrity`` and ``sessions`` (both keyed by session id with the
same partition count, so one session's events and its end share a partition number). Each
integrity event goes through the incident aggregator's integrity rules
(``models.integrity_rules``) with the thresholds the API stamped from the exam's policy; a
session's ``ended`` event closes its open spans and forgets it. Like the frame workers it
publishes, waits for the broker, checkpoints the per-partition state, then commits.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from kafka import OffsetAndMetadata, TopicPartition

from models.integrity_rules import IntegrityObservation
from proctorlake.core.messages import (
    IntegrityEventMessage,
    MessageFormatError,
    SessionEventMessage,
    TopicMessage,
)
from proctorlake.core.settings import Settings
from proctorlake.core.topics import INTEGRITY, SESSIONS
from proctorlake.core.vocabulary import SessionEventType
from proctorlake.governance import erased_sessions, keystore, sealed_topics
from proctorlake.storage import kafka_io
from proctorlake.storage.session_checkpoints import checkpoint_dir, write_checkpoint
from realtime.resilient import run_until_stopped
from realtime.workers.incident_aggregator import IncidentAggregator, SessionMeta

log = logging.getLogger(__name__)
GROUP_ID = "integrity-rules"


class IntegrityWorker:
    def __init__(self, settings: Settings, group_id: str = GROUP_ID) -> None:
        self.settings = settings
        self.group_id = group_id
        self.producer = kafka_io.make_producer(settings)
        self.consumer = kafka_io.make_group_consumer(
            settings, group_id, [INTEGRITY, SESSIONS], max_poll_records=200
        )
        self.aggregators: dict[int, IncidentAggregator] = {}
        self.events_processed = 0

    def _checkpoint_path(self, partition: int) -> Path:
        return (
            checkpoint_dir(self.settings) / f"{self.group_id}-{INTEGRITY.name}-{partition}.pickle"
        )

    def _aggregator(self, partition: int) -> IncidentAggregator:
        """The partition's state as last checkpointed (with its committed offsets)."""
        if partition not in self.aggregators:
            path = self._checkpoint_path(partition)
            self.aggregators[partition] = (
                IncidentAggregator.loads(path.read_bytes())
                if path.exists()
                else IncidentAggregator()
            )
        return self.aggregators[partition]

    def _checkpoint(self, partition: int) -> None:
        aggregator = self.aggregators[partition]
        for session_id in list(aggregator.sessions):
            if erased_sessions.is_erased(self.settings, session_id):
                del aggregator.sessions[session_id]
        write_checkpoint(self._checkpoint_path(partition), aggregator.dumps())

    def run_once(self, timeout_ms: int = 500) -> int:
        """Poll, apply the rules, publish, checkpoint and commit one batch."""
        batches = self.consumer.poll(timeout_ms=timeout_ms)
        if not batches:
            return 0
        now_ms = int(time.time() * 1000)
        pending = []
        for partition, records in batches.items():
            aggregator = self._aggregator(partition.partition)
            for record in records:
                message = self._decode(record)
                for incident in self._incidents(aggregator, message, now_ms):
                    pending.append(sealed_topics.publish(self.settings, self.producer, incident))
        for future in pending:
            future.get(timeout=30)
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for partition, records in batches.items():
            self._checkpoint(partition.partition)
            offsets[partition] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
        self.consumer.commit(offsets)
        count = sum(len(records) for records in batches.values())
        self.events_processed += count
        return count

    def _decode(self, record) -> TopicMessage | None:
        try:
            return sealed_topics.decode(self.settings, record)
        except keystore.KeyErased:
            return None  # the session was erased: its events are gone on purpose
        except MessageFormatError as exc:
            log.warning("skipped a malformed %s record: %s", record.topic, exc)
            return None

    @staticmethod
    def _incidents(aggregator: IncidentAggregator, message: TopicMessage | None, now_ms: int):
        if isinstance(message, IntegrityEventMessage):
            meta = SessionMeta(message.session_id, message.institution_id)
            observation = IntegrityObservation(
                message.kind, message.phase, message.session_ts, message.width, message.height
            )
            return aggregator.observe_integrity(
                meta, observation, message.thresholds, message.occurred_at_ms, now_ms
            )
        ended = isinstance(message, SessionEventMessage) and message.event == SessionEventType.ENDED
        if ended and message.session_id in aggregator.sessions:
            meta = SessionMeta(message.session_id, message.institution_id)
            return aggregator.finish(meta, int(message.at.timestamp() * 1000), now_ms)
        return []

    def close(self) -> None:
        try:
            self.consumer.close()
        finally:
            self.producer.close(timeout=5)


def run_integrity_worker(settings: Settings, stop: threading.Event) -> None:
    """Run until ``stop``, rebuilt after broker failures (the failed batch is polled again)."""
    run_until_stopped(lambda: IntegrityWorker(settings), lambda worker: worker.run_once(), stop)
