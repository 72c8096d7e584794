"""One observation -> detector columns mapping for both paths.

The realtime workers put these columns on the ``detections`` topic (landed in
``stream_detections``) and the batch job writes them into ``detection_events``: the same
function, so the same frame gives the same row on either path. ``detail`` keeps the whole
observation as JSON, which is what the session-level rules read back.
"""

from __future__ import annotations

import json

from models.screen_apps import ScreenObservation
from models.webcam import MODEL_VERSION as WEBCAM_MODEL_VERSION
from models.webcam import WebcamObservation

WEBCAM_DETECTION = "webcam_frame"
SCREEN_DETECTION = "screen_frame"
SCREEN_MODEL_VERSION = "rapidocr-titlebar-v2"
"""``models.screen_apps`` declares no version yet; bump this when its matcher changes (v2: an
unchanged screen reuses the last read, ``read_at_s`` says which, ``models.screen_changes``)."""


def model_version(track: str) -> str:
    return WEBCAM_MODEL_VERSION if track == "webcam" else SCREEN_MODEL_VERSION


def face_confidence(observation: WebcamObservation) -> float:
    """A [0, 1] confidence for the frame's face evidence: the best face's detector
    probability. A frame without a face is certain of that (1.0)."""
    if not observation.faces:
        return 1.0
    return float(min(1.0, max(0.0, max(face.score for face in observation.faces))))


def detector_columns(observation: WebcamObservation | ScreenObservation) -> dict:
    """The ``detection_type`` ... ``model_version`` columns of one observation. A screen
    observation is stored redacted (banned application names, no window titles)."""
    if isinstance(observation, ScreenObservation):
        observation = observation.redacted()
    detail = json.dumps(observation.to_dict(), separators=(",", ":"))
    if isinstance(observation, WebcamObservation):
        main = observation.main_face
        return {
            "detection_type": WEBCAM_DETECTION,
            "confidence": face_confidence(observation),
            "face_count": observation.face_count,
            "bbox_x": main.x if main else None,
            "bbox_y": main.y if main else None,
            "bbox_w": main.w if main else None,
            "bbox_h": main.h if main else None,
            "yaw_deg": observation.yaw_deg,
            "pitch_deg": observation.pitch_deg,
            "detail": detail,
            "model_version": model_version("webcam"),
        }
    return {
        "detection_type": SCREEN_DETECTION,
        "confidence": float(observation.confidence),
        "face_count": None,
        "bbox_x": None,
        "bbox_y": None,
        "bbox_w": None,
        "bbox_h": None,
        "yaw_deg": None,
        "pitch_deg": None,
        "detail": detail,
        "model_version": model_version("screen"),
    }
