"""Detector worker: a member of the ``detector-workers`` consumer group on ``frames.webcam``.

Scale by starting more processes (up to the topic's partitions). For each polled batch the
worker decodes the sealed JPEGs, runs the shared detectors on the whole batch, feeds the
incident aggregator session by session in capture order, publishes detections and incident
events, waits for the broker to acknowledge them, checkpoints the aggregator state, and only
then commits the offsets. A crash anywhere in between replays the batch; the replay produces
the same incident ids and the aggregator skips frames it had already counted.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
from kafka import ConsumerRebalanceListener, OffsetAndMetadata, TopicPartition

from models.webcam import MODEL_VERSION, WebcamObservation, analyze_webcam_frames
from proctorlake import keystore
from proctorlake.settings import Settings
from proctorlake.topics import DETECTIONS, FRAMES_WEBCAM, INCIDENTS
from realtime import kafka_io
from realtime.incident_aggregator import IncidentAggregator, SessionMeta

log = logging.getLogger(__name__)
GROUP_ID = "detector-workers"
MAX_BATCH = 8
"""Frames per poll: a batch's incidents go out only after its last frame is analysed (~30 ms
each), so small batches keep the alert latency low."""


def checkpoint_dir(settings: Settings) -> Path:
    return settings.run_dir / "aggregator"


def _checkpoint_path(settings: Settings, partition: TopicPartition) -> Path:
    return checkpoint_dir(settings) / f"{partition.topic}-{partition.partition}.pickle"


def decode_jpeg(jpeg: bytes) -> np.ndarray | None:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def detection_event(session: SessionMeta, meta: dict, observation: WebcamObservation) -> dict:
    """The detections-topic record of one frame (no image, no personal data)."""
    main = observation.main_face
    return {
        "session_id": session.session_id,
        "institution_id": session.institution_id,
        "track": "webcam",
        "frame_ts": meta["ts"],
        "captured_at_ms": meta["captured_at_ms"],
        "detection_type": "face_count",
        "confidence": round(main.score, 4) if main else 1.0,
        "face_count": observation.face_count,
        "bbox_x": main.x if main else None,
        "bbox_y": main.y if main else None,
        "bbox_w": main.w if main else None,
        "bbox_h": main.h if main else None,
        "yaw_deg": observation.yaw_deg,
        "pitch_deg": observation.pitch_deg,
        "model_version": MODEL_VERSION,
    }


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: DetectorWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked):
        for partition in revoked:
            self.worker.forget(partition)

    def on_partitions_assigned(self, assigned):
        for partition in assigned:
            self.worker.restore(partition)


class DetectorWorker:
    def __init__(self, settings: Settings, group_id: str = GROUP_ID) -> None:
        self.settings = settings
        self.producer = kafka_io.make_producer(settings)
        self.consumer = kafka_io.make_group_consumer(
            settings, group_id, [FRAMES_WEBCAM], max_poll_records=MAX_BATCH
        )
        self.consumer.unsubscribe()
        self.consumer.subscribe([FRAMES_WEBCAM.name], listener=_Rebalance(self))
        self.aggregators: dict[TopicPartition, IncidentAggregator] = {}
        self.frames_processed = 0

    def restore(self, partition: TopicPartition) -> None:
        """Load the aggregator state that was checkpointed with the committed offset."""
        path = _checkpoint_path(self.settings, partition)
        self.aggregators[partition] = (
            IncidentAggregator.loads(path.read_bytes()) if path.exists() else IncidentAggregator()
        )

    def forget(self, partition: TopicPartition) -> None:
        self.aggregators.pop(partition, None)

    def _checkpoint(self, partition: TopicPartition) -> None:
        path = _checkpoint_path(self.settings, partition)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.partial")
        tmp.write_bytes(self.aggregators[partition].dumps())
        tmp.replace(path)

    def run_once(self, timeout_ms: int = 200) -> int:
        """Poll, process and commit one batch; returns how many frames it processed."""
        batches = self.consumer.poll(timeout_ms=timeout_ms)
        if not batches:
            return 0
        items: list[tuple[TopicPartition, dict, np.ndarray | None]] = []
        for partition, records in batches.items():
            if partition not in self.aggregators:
                self.restore(partition)
            for record in records:
                decoded = self._decode(record)
                if decoded is not None:
                    items.append((partition, *decoded))
        images = [(meta["ts"], rgb) for _, meta, rgb in items if rgb is not None]
        observations = iter(
            analyze_webcam_frames([rgb for _, rgb in images], [ts for ts, _ in images])
        )
        pending = []
        for partition, meta, rgb in items:
            observation = next(observations) if rgb is not None else None
            pending += self._aggregate(partition, meta, observation)
        for future in pending:
            future.get(timeout=30)
        offsets = {}
        for partition, records in batches.items():
            self._checkpoint(partition)
            offsets[partition] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
        self.consumer.commit(offsets)
        self.frames_processed += len(images)
        return len(images)

    def _decode(self, record) -> tuple[dict, np.ndarray | None] | None:
        """(metadata, RGB frame); the frame is None for the end-of-session marker."""
        session_id = record.key.decode("utf-8")
        head = kafka_io.header_map(record.headers)
        captured = int(head["captured_at_ms"])
        meta = {
            "session": SessionMeta(
                session_id=session_id,
                institution_id=head["institution_id"],
                tier=head.get("tier", "ai_human"),
                alert_min_severity=head.get("alert_min_severity", "medium"),
                extreme_incident_types=tuple(filter(None, head.get("extreme", "").split(","))),
            ),
            "captured_at_ms": captured,
            "ts": round((captured - int(head.get("started_at_ms", captured))) / 1000.0, 3),
        }
        if head.get("end_of_session") == "1":
            return meta, None
        try:
            jpeg = keystore.unseal(self.settings, session_id, record.value)
        except keystore.KeyErased:
            return None  # the session was erased: its frames are gone on purpose
        rgb = decode_jpeg(jpeg)
        if rgb is None:
            log.warning("undecodable frame at %s:%s", record.partition, record.offset)
            return None
        return meta, rgb

    def _aggregate(
        self, partition: TopicPartition, meta: dict, observation: WebcamObservation | None
    ) -> list:
        session: SessionMeta = meta["session"]
        aggregator = self.aggregators[partition]
        now_ms = int(time.time() * 1000)
        if observation is None:
            incidents = aggregator.finish(session, meta["captured_at_ms"], now_ms)
            return [self._send(INCIDENTS.name, session.session_id, i) for i in incidents]
        futures = [
            self._send(
                DETECTIONS.name, session.session_id, detection_event(session, meta, observation)
            )
        ]
        incidents = aggregator.observe(session, observation, meta["captured_at_ms"], now_ms)
        futures += [self._send(INCIDENTS.name, session.session_id, i) for i in incidents]
        return futures

    def _send(self, topic: str, key: str, event: dict):
        value = json.dumps(event, separators=(",", ":")).encode("utf-8")
        return self.producer.send(topic, key=key, value=value)

    def close(self) -> None:
        self.consumer.close()
        self.producer.close(timeout=5)


def run_worker(settings: Settings, stop: threading.Event) -> None:
    worker = DetectorWorker(settings)
    try:
        while not stop.is_set():
            worker.run_once()
    finally:
        worker.close()
