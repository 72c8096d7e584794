"""The consume-analyse-publish-commit loop every frame worker of the stream path shares.

A frame worker is a member of a consumer group on one frames topic. For each polled batch it
unseals and decodes the frames, analyses the whole batch at once (the models are batch-first),
feeds the incident aggregator session by session in capture order, publishes what that
produces, waits for the broker to acknowledge it, checkpoints the aggregator state beside the
offsets, and only then commits them. A crash anywhere in between replays the batch: the
replay produces the same incident ids and the aggregator skips frames it had already counted,
so nothing is lost and no incident is duplicated.

``run_frame_worker`` keeps one worker alive: when the broker goes away (restart, network) the
worker is rebuilt after a pause and resumes from the last committed offsets.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from kafka import ConsumerRebalanceListener, OffsetAndMetadata, TopicPartition

from proctorlake.core.messages import FrameMessage, MessageFormatError, TopicMessage
from proctorlake.core.settings import Settings
from proctorlake.core.topics import Topic
from proctorlake.governance import erased_sessions, keystore, sealed_topics
from proctorlake.storage import kafka_io
from proctorlake.storage.session_checkpoints import checkpoint_dir, write_checkpoint
from realtime.resilient import run_until_stopped
from realtime.workers.incident_aggregator import IncidentAggregator, SessionMeta

log = logging.getLogger(__name__)


def session_meta(frame: FrameMessage) -> SessionMeta:
    return SessionMeta(session_id=frame.session_id, institution_id=frame.institution_id)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: FrameWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked):
        for partition in revoked:
            self.worker.forget(partition)

    def on_partitions_assigned(self, assigned):
        for partition in assigned:
            self.worker.restore(partition)


class FrameWorker:
    """Subclasses name the topic and group and implement ``decode``, ``analyze``, ``aggregate``."""

    topic: Topic
    group_id: str
    max_batch: int = 8

    def __init__(self, settings: Settings, group_id: str | None = None) -> None:
        self.settings = settings
        self.group_id = group_id or self.group_id
        self.producer = kafka_io.make_producer(settings)
        self.consumer = kafka_io.make_group_consumer(
            settings, self.group_id, [self.topic], max_poll_records=self.max_batch
        )
        self.consumer.unsubscribe()
        self.consumer.subscribe([self.topic.name], listener=_Rebalance(self))
        self.aggregators: dict[TopicPartition, IncidentAggregator] = {}
        self.frames_processed = 0

    # -- checkpoints -------------------------------------------------------------------------
    def _checkpoint_path(self, partition: TopicPartition) -> Path:
        name = f"{self.group_id}-{partition.topic}-{partition.partition}.pickle"
        return checkpoint_dir(self.settings) / name

    def restore(self, partition: TopicPartition) -> None:
        """Load the aggregator state that was checkpointed with the committed offset."""
        path = self._checkpoint_path(partition)
        self.aggregators[partition] = (
            IncidentAggregator.loads(path.read_bytes()) if path.exists() else IncidentAggregator()
        )

    def forget(self, partition: TopicPartition) -> None:
        self.aggregators.pop(partition, None)

    def _checkpoint(self, partition: TopicPartition) -> None:
        """Write the partition's state, without erased sessions (erasure removes them from
        the file; dropping them here too keeps them from coming back)."""
        aggregator = self.aggregators[partition]
        for session_id in list(aggregator.sessions):
            if erased_sessions.is_erased(self.settings, session_id):
                del aggregator.sessions[session_id]
        write_checkpoint(self._checkpoint_path(partition), aggregator.dumps())

    # -- what subclasses do ------------------------------------------------------------------
    def decode(self, data: bytes) -> np.ndarray | None:
        """The frame from the unsealed bytes (None when it cannot be decoded)."""
        raise NotImplementedError

    def analyze(self, items: list[tuple[FrameMessage, np.ndarray]]) -> list:
        """One observation per (frame, image), for the whole batch at once."""
        raise NotImplementedError

    def aggregate(
        self, aggregator: IncidentAggregator, frame: FrameMessage, observation, now_ms: int
    ) -> list[TopicMessage]:
        """The messages to publish for one observation (None: the end-of-session marker)."""
        raise NotImplementedError

    # -- the loop ----------------------------------------------------------------------------
    def run_once(self, timeout_ms: int = 200) -> int:
        """Poll, process and commit one batch; returns how many frames it analysed."""
        batches = self.consumer.poll(timeout_ms=timeout_ms)
        if not batches:
            return 0
        items: list[tuple[TopicPartition, FrameMessage, np.ndarray | None]] = []
        for partition, records in batches.items():
            if partition not in self.aggregators:
                self.restore(partition)
            for record in records:
                decoded = self._unseal(record)
                if decoded is not None:
                    items.append((partition, *decoded))
        frames = [(frame, image) for _, frame, image in items if image is not None]
        observations = iter(self.analyze(frames) if frames else [])
        pending = []
        now_ms = int(time.time() * 1000)
        for partition, frame, image in items:
            observation = next(observations) if image is not None else None
            aggregator = self.aggregators[partition]
            for message in self.aggregate(aggregator, frame, observation, now_ms):
                pending.append(sealed_topics.publish(self.settings, self.producer, message))
        for future in pending:
            future.get(timeout=30)
        offsets = {}
        for partition, records in batches.items():
            self._checkpoint(partition)
            offsets[partition] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
        self.consumer.commit(offsets)
        self.frames_processed += len(frames)
        return len(frames)

    def _unseal(self, record) -> tuple[FrameMessage, np.ndarray | None] | None:
        """(frame metadata, image); the image is None for the end-of-session marker."""
        try:
            frame, data = sealed_topics.decode_frame(self.settings, record)
        except keystore.KeyErased:
            return None  # the session was erased: its frames are gone on purpose
        except MessageFormatError as exc:
            log.warning(
                "skipped a malformed frame at %s:%s: %s", record.partition, record.offset, exc
            )
            return None
        if data is None:
            return frame, None
        image = self.decode(data)
        if image is None:
            log.warning("undecodable frame at %s:%s", record.partition, record.offset)
            return None
        return frame, image

    def close(self) -> None:
        try:
            self.consumer.close()
        finally:
            self.producer.close(timeout=5)


def run_frame_worker(build: Callable[[], FrameWorker], stop: threading.Event) -> None:
    """Run a worker until ``stop``, rebuilt after failures (see :mod:`realtime.resilient`):
    the failed batch was not committed, so the new worker polls it again (same incident
    ids, frames already counted are skipped)."""
    run_until_stopped(build, lambda worker: worker.run_once(), stop)
