"""Screen detector worker: the ``screen-detector-workers`` group on ``frames.screen``.

Each screen frame (one every 10 s per session) is OCR'd with the shared
``models.screen_apps`` functions; window titles naming a banned application become
``unauthorized_app`` incidents through the same incident aggregator, ids and topic as the
webcam path. OCR costs about a second of CPU per 1280x720 frame, which would make screens
the stream path's largest cost, so a frame that looks like the session's previous one (a
small grey thumbnail within a few grey levels) reuses that frame's titles instead of being
read again: exam screens change rarely, and a window opening changes far more than that.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace

import cv2
import numpy as np

from models.screen_apps import ScreenObservation, analyze_screen_frames
from proctorlake.core.messages import FrameMessage, TopicMessage
from proctorlake.core.settings import Settings
from proctorlake.core.topics import FRAMES_SCREEN
from realtime.workers.detector_worker import detection_message
from realtime.workers.frame_worker import FrameWorker, run_frame_worker, session_meta
from realtime.workers.incident_aggregator import IncidentAggregator

log = logging.getLogger(__name__)
GROUP_ID = "screen-detector-workers"
GATE_SIZE = (96, 54)
GATE_MEAN_DIFF = 1.0
"""Mean absolute grey-level difference (0-255) below which a screen is unchanged..."""
GATE_MAX_DIFF = 24
"""...provided no thumbnail cell changed by more than this (a new window or title does)."""


@dataclass
class _Seen:
    thumbnail: np.ndarray
    observation: ScreenObservation


def screen_thumbnail(rgb: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, GATE_SIZE, interpolation=cv2.INTER_AREA).astype(np.int16)


def unchanged(a: np.ndarray, b: np.ndarray) -> bool:
    diff = np.abs(a - b)
    return float(diff.mean()) < GATE_MEAN_DIFF and int(diff.max()) <= GATE_MAX_DIFF


class ScreenWorker(FrameWorker):
    topic = FRAMES_SCREEN
    group_id = GROUP_ID
    max_batch = 4

    def __init__(self, settings: Settings, group_id: str | None = None) -> None:
        super().__init__(settings, group_id)
        self.seen: dict[str, _Seen] = {}
        self.ocr_runs = 0

    def decode(self, data: bytes) -> np.ndarray | None:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def analyze(self, items: list[tuple[FrameMessage, np.ndarray]]) -> list[ScreenObservation]:
        """OCR each frame unless it looks like the last frame of its session that was read
        (compared with that frame, not the last reuse, so slow drift is read again)."""
        observations: list[ScreenObservation | None] = []
        to_read: list[int] = []
        thumbnails = [screen_thumbnail(rgb) for _, rgb in items]
        for (frame, _), thumbnail in zip(items, thumbnails, strict=True):
            previous = self.seen.get(frame.session_id)
            if previous is not None and unchanged(previous.thumbnail, thumbnail):
                observations.append(replace(previous.observation, frame_ts=frame.frame_ts))
            else:
                observations.append(None)
                to_read.append(len(observations) - 1)
        if to_read:
            read = analyze_screen_frames(
                [items[i][1] for i in to_read], [items[i][0].frame_ts for i in to_read]
            )
            self.ocr_runs += len(read)
            for index, observation in zip(to_read, read, strict=True):
                observations[index] = observation
                self.seen[items[index][0].session_id] = _Seen(thumbnails[index], observation)
        return observations

    def aggregate(
        self,
        aggregator: IncidentAggregator,
        frame: FrameMessage,
        observation: ScreenObservation | None,
        now_ms: int,
    ) -> list[TopicMessage]:
        session = session_meta(frame)
        if observation is None:
            self.seen.pop(session.session_id, None)
            return [*aggregator.finish(session, frame.captured_at_ms, now_ms)]
        detection = detection_message(frame, observation)
        incidents = aggregator.observe_screen(session, observation, frame.captured_at_ms, now_ms)
        return [detection, *incidents]


def run_screen_worker(settings: Settings, stop: threading.Event) -> None:
    run_frame_worker(lambda: ScreenWorker(settings), stop)
