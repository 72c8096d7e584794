"""Webcam detector worker: a member of the ``detector-workers`` consumer group on
``frames.webcam``; scale by starting more processes (up to the topic's partitions).

Each batch runs the shared per-frame analysis (face count + head pose of the main face) and
the shared temporal rules; see :mod:`realtime.workers.frame_worker` for the delivery guarantees.

A poll's frames, from any number of sessions, go to the detectors as one batch on
``PROCTORLAKE_TORCH_DEVICE``, exactly as the batch path sends a chunk's frames: the same
function, so both paths write the same rows for the same frames.
"""

from __future__ import annotations

import logging
import threading

import cv2
import numpy as np

from models.detection_rows import detector_columns
from models.embeddings import embed_face_at
from models.screen_apps import ScreenObservation
from models.takeover import EmbeddingSchedule, TakeoverReference, add_embeddings
from models.webcam import WebcamObservation, analyze_webcam_frames
from proctorlake.core.messages import DetectionMessage, FrameMessage, TopicMessage
from proctorlake.core.settings import Settings
from proctorlake.core.topics import FRAMES_WEBCAM
from proctorlake.services.identity import verified_face
from realtime.workers.frame_worker import (
    FrameWorker,
    checkpoint_dir,
    run_frame_worker,
    session_meta,
)
from realtime.workers.incident_aggregator import IncidentAggregator

__all__ = ["DetectorWorker", "checkpoint_dir", "decode_jpeg", "detection_message", "run_worker"]

log = logging.getLogger(__name__)
GROUP_ID = "detector-workers"
MAX_BATCH = 8
"""Frames per poll: a batch's incidents go out only after its last frame is analysed, so
small batches keep the alert latency low."""


def decode_jpeg(jpeg: bytes) -> np.ndarray | None:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def detection_message(
    frame: FrameMessage, observation: WebcamObservation | ScreenObservation
) -> DetectionMessage:
    """The detections-topic record of one frame: the shared detector columns (no image)."""
    return DetectionMessage(
        session_id=frame.session_id,
        institution_id=frame.institution_id,
        track=frame.track,
        frame_ts=frame.frame_ts,
        captured_at_ms=frame.captured_at_ms,
        **detector_columns(observation),
    )


def analyze_frames(
    items: list[tuple[FrameMessage, np.ndarray]],
    schedules: dict[str, EmbeddingSchedule] | None = None,
) -> list[WebcamObservation]:
    """The stream path's per-frame analysis of a batch (frames of any sessions): the shared
    detectors on each frame at the session's clock (``FrameMessage.frame_ts``); with
    ``schedules`` (one per session, kept across batches) the takeover check's samples get
    their face embedding."""
    observations = analyze_webcam_frames(
        [rgb for _, rgb in items], [frame.frame_ts for frame, _ in items]
    )
    if schedules is None:
        return observations
    return [
        add_embeddings(
            [observation], [rgb], schedules.setdefault(frame.session_id, EmbeddingSchedule())
        )[0]
        for (frame, rgb), observation in zip(items, observations, strict=True)
    ]


class DetectorWorker(FrameWorker):
    topic = FRAMES_WEBCAM
    group_id = GROUP_ID
    max_batch = MAX_BATCH

    def __init__(self, settings: Settings, group_id: str | None = None) -> None:
        super().__init__(settings, group_id)
        self.schedules: dict[str, EmbeddingSchedule] = {}
        """Per session, in memory only: a restarted worker embeds each session's next face
        once more, which only adds a sample."""
        self.warm_up()

    def warm_up(self) -> None:
        """Load the face models before the first poll joins the group: a worker that joined
        and then spent a second loading would leave its partitions' frames waiting."""
        blank = FrameMessage(
            session_id="warm-up",
            institution_id="-",
            track="webcam",
            captured_at_ms=0,
            started_at_ms=0,
        )
        self.analyze([(blank, np.zeros((480, 640, 3), np.uint8))])
        self.schedules.pop(blank.session_id, None)
        embed_face_at(np.zeros((160, 160, 3), np.uint8), (0, 0, 160, 160))  # the takeover model

    def decode(self, data: bytes) -> np.ndarray | None:
        return decode_jpeg(data)

    def analyze(self, items: list[tuple[FrameMessage, np.ndarray]]) -> list[WebcamObservation]:
        return analyze_frames(items, self.schedules)

    def aggregate(
        self,
        aggregator: IncidentAggregator,
        frame: FrameMessage,
        observation: WebcamObservation | None,
        now_ms: int,
    ) -> list[TopicMessage]:
        session = session_meta(frame)
        if observation is None:
            self.schedules.pop(frame.session_id, None)
            return [*aggregator.finish(session, frame.captured_at_ms, now_ms)]
        if frame.session_id not in aggregator.sessions:
            face = verified_face(self.settings, frame.session_id)
            reference = None if face is None else TakeoverReference.of_verified(face)
            aggregator.start(session, reference)
        detection = detection_message(frame, observation)
        incidents = aggregator.observe(session, observation, frame.captured_at_ms, now_ms)
        return [detection, *incidents]


def run_worker(settings: Settings, stop: threading.Event) -> None:
    run_frame_worker(lambda: DetectorWorker(settings), stop)
