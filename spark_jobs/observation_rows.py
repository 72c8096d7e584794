"""Mapping between the shared models' observations/flags and the Delta rows of this job.

Each detection row keeps the full observation as JSON in ``detail``, so the session-level
rules see exactly what the per-frame detectors produced, as in ``proctorlake analyze``;
the typed columns are for analysts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from models.temporal_rules import Flag, incident_id, observations_to_flags
from models.webcam import MODEL_VERSION, WebcamObservation, analyze_webcam_frames
from proctorlake.core.schemas import INCIDENTS

WEBCAM_DETECTION = "webcam_frame"
SCREEN_DETECTION = "screen_frame"
SCREEN_MODEL_VERSION = "rapidocr-titlebar-v1"
"""``models.screen_apps`` declares no version yet; bump this when its matcher changes."""
ROWS_FORMAT = "rows-v1"
"""Bump when the mapping below changes, so chunk checkpoints are redone."""


def model_version(track: str) -> str:
    return MODEL_VERSION if track == "webcam" else SCREEN_MODEL_VERSION


def detector_version(track: str) -> str:
    """What a chunk checkpoint is valid for: the track's model and this row mapping."""
    return f"{track}-{model_version(track)}-{ROWS_FORMAT}"


def run_detectors(track: str, frames: Sequence[np.ndarray], stamps: Sequence[float]) -> list:
    """The shared per-frame detectors for one track (a batch of frames)."""
    if track == "webcam":
        return analyze_webcam_frames(frames, stamps)
    if track == "screen":
        from models.screen_apps import analyze_screen_frames

        return analyze_screen_frames(frames, stamps)
    raise ValueError(f"unknown track {track!r}")


def _webcam_row(obs: WebcamObservation) -> dict:
    main = obs.main_face
    return {
        "detection_type": WEBCAM_DETECTION,
        "confidence": _face_confidence(obs),
        "face_count": obs.face_count,
        "bbox_x": main.x if main else None,
        "bbox_y": main.y if main else None,
        "bbox_w": main.w if main else None,
        "bbox_h": main.h if main else None,
        "yaw_deg": obs.yaw_deg,
        "pitch_deg": obs.pitch_deg,
    }


def _face_confidence(obs: WebcamObservation) -> float:
    """A [0, 1] confidence for the frame's face evidence (HOG scores are unbounded)."""
    if not obs.faces:
        return 1.0
    best = max(f.score for f in obs.faces)
    return float(min(1.0, max(0.0, best / 2.0)))


def observations_to_rows(chunk: dict, observations: Sequence) -> list[dict]:
    rows = []
    for obs in observations:
        if isinstance(obs, WebcamObservation):
            typed = _webcam_row(obs)
        else:
            typed = {
                "detection_type": SCREEN_DETECTION,
                "confidence": float(obs.confidence),
                "face_count": None,
                "bbox_x": None,
                "bbox_y": None,
                "bbox_w": None,
                "bbox_h": None,
                "yaw_deg": None,
                "pitch_deg": None,
            }
        rows.append(
            {
                "session_id": chunk["session_id"],
                "institution_id": chunk["institution_id"],
                "track": chunk["track"],
                "chunk_start_ms": int(chunk["chunk_start_ms"]),
                "frame_ts": float(obs.frame_ts),
                **typed,
                "detail": json.dumps(obs.to_dict(), separators=(",", ":")),
                "model_version": model_version(chunk["track"]),
                "session_date": chunk["session_date"],
            }
        )
    return rows


def observations_from_rows(rows: pd.DataFrame) -> tuple[list, list]:
    """Rebuild the observations of one session from its detection rows."""
    from models.screen_apps import ScreenObservation

    webcam, screen = [], []
    for track, detail in zip(rows["track"], rows["detail"], strict=True):
        payload = json.loads(detail)
        if track == "webcam":
            webcam.append(WebcamObservation.from_dict(payload))
        else:
            screen.append(ScreenObservation.from_dict(payload))
    return webcam, screen


def flag_to_row(
    flag: Flag,
    session_id: str,
    institution_id: str,
    session_date: str,
    started_at: dt.datetime | None,
) -> dict:
    def at(seconds: float) -> dt.datetime | None:
        return started_at + dt.timedelta(seconds=seconds) if started_at else None

    return {
        "incident_id": incident_id(session_id, flag.type, flag.start_s),
        "session_id": session_id,
        "institution_id": institution_id,
        "incident_type": flag.type,
        "severity": flag.severity,
        "confidence": float(flag.confidence),
        "start_s": float(flag.start_s),
        "end_s": float(flag.end_s),
        "started_at": at(flag.start_s),
        "ended_at": at(flag.end_s),
        "frame_timestamps": [float(t) for t in flag.frame_timestamps],
        "source": "batch",
        "reviewed_by": None,
        "resolution": None,
        "reviewed_at": None,
        "session_date": session_date,
    }


def incidents_for_session(rows: pd.DataFrame) -> pd.DataFrame:
    """``applyInPandas`` body: one session's detection rows in, its incident rows out."""
    if rows.empty:
        return pd.DataFrame(columns=INCIDENTS.column_names)
    session_id = rows["session_id"].iloc[0]
    webcam, screen = observations_from_rows(rows)
    flags = observations_to_flags(webcam, screen, session_id=session_id)
    started = rows["session_started_at"].iloc[0] if "session_started_at" in rows else None
    started_at = None if started is None or pd.isna(started) else pd.Timestamp(started)
    institution_id = rows["institution_id"].iloc[0]
    session_date = rows["session_date"].iloc[0]
    out = [
        flag_to_row(flag, session_id, institution_id, session_date, started_at) for flag in flags
    ]
    return pd.DataFrame(out, columns=INCIDENTS.column_names)
