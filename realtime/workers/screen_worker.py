"""Screen detector worker: the ``screen-detector-workers`` group on ``frames.screen``.

Each screen frame (one every 10 s per session) is OCR'd with the shared
``models.screen_apps`` functions; window titles naming a banned application become
``unauthorized_app`` incidents through the same incident aggregator, ids and topic as the
webcam path. OCR costs about a second of CPU per 1280x720 frame, which would make screens
the stream path's largest cost, so each session's frames go through a
``models.screen_changes.ScreenChangeGate`` (the batch path's gate too): a frame that looks
like the last one read reuses its titles: exam screens change rarely, and a window opening
changes far more than that.
"""

from __future__ import annotations

import logging
import threading

import cv2
import numpy as np

from models.screen_apps import ScreenObservation
from models.screen_changes import ScreenChangeGate
from proctorlake.core.messages import FrameMessage, TopicMessage
from proctorlake.core.settings import Settings
from proctorlake.core.topics import FRAMES_SCREEN
from realtime.workers.detector_worker import detection_message
from realtime.workers.frame_worker import FrameWorker, run_frame_worker, session_meta
from realtime.workers.incident_aggregator import IncidentAggregator

log = logging.getLogger(__name__)
GROUP_ID = "screen-detector-workers"


class ScreenWorker(FrameWorker):
    topic = FRAMES_SCREEN
    group_id = GROUP_ID
    max_batch = 4

    def __init__(self, settings: Settings, group_id: str | None = None) -> None:
        super().__init__(settings, group_id)
        self.gates: dict[str, ScreenChangeGate] = {}

    def decode(self, data: bytes) -> np.ndarray | None:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def analyze(self, items: list[tuple[FrameMessage, np.ndarray]]) -> list[ScreenObservation]:
        """Each frame through its session's gate: OCR only when the screen changed."""
        return [
            self.gates.setdefault(frame.session_id, ScreenChangeGate()).observe(rgb, frame.frame_ts)
            for frame, rgb in items
        ]

    def aggregate(
        self,
        aggregator: IncidentAggregator,
        frame: FrameMessage,
        observation: ScreenObservation | None,
        now_ms: int,
    ) -> list[TopicMessage]:
        session = session_meta(frame)
        if observation is None:
            self.gates.pop(session.session_id, None)
            return [*aggregator.finish(session, frame.captured_at_ms, now_ms)]
        detection = detection_message(frame, observation)
        incidents = aggregator.observe_screen(session, observation, frame.captured_at_ms, now_ms)
        return [detection, *incidents]


def run_screen_worker(settings: Settings, stop: threading.Event) -> None:
    run_frame_worker(lambda: ScreenWorker(settings), stop)
