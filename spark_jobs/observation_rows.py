"""Mapping between the shared models' observations/flags and the Delta rows of this job.

The detector columns of a row come from :func:`models.detection_rows.detector_columns`, the
function the stream path uses too; ``detail`` keeps the full observation as JSON, so the
session-level rules see exactly what the per-frame detectors produced, as in
``proctorlake analyze``; the typed columns are for analysts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from models.detection_rows import detector_columns, model_version
from models.screen_apps import ScreenObservation
from models.screen_changes import ScreenChangeGate, analyze_screen_frames_gated
from models.temporal_rules import Flag, incident_id, observations_to_flags
from models.webcam import WebcamObservation, analyze_webcam_frames
from proctorlake.core.accommodations import (
    NO_ACCOMMODATION,
    Accommodation,
    BreakWindow,
    suppression_reason,
)
from proctorlake.core.schemas import INCIDENTS
from proctorlake.core.vocabulary import Track

ROWS_FORMAT = "rows-v2"
"""Bump when the mapping changes, so chunk checkpoints are redone (v2: detector columns from
:func:`models.detection_rows.detector_columns`, shared with the stream path)."""


def detector_version(track: str) -> str:
    """What a chunk checkpoint is valid for: the track's model and this row mapping."""
    return f"{track}-{model_version(track)}-{ROWS_FORMAT}"


def run_detectors(
    track: str,
    frames: Sequence[np.ndarray],
    stamps: Sequence[float],
    gate: ScreenChangeGate | None = None,
) -> list:
    """The shared per-frame detectors for one track (a batch of frames). Screen frames go
    through ``gate`` (one per recording chunk, so consecutive batches share it): an
    unchanged screen reuses the last OCR read."""
    if track == Track.WEBCAM:
        return analyze_webcam_frames(frames, stamps)
    if track == Track.SCREEN:
        return analyze_screen_frames_gated(frames, stamps, gate or ScreenChangeGate())
    raise ValueError(f"unknown track {track!r}")


def observations_to_rows(chunk: dict, observations: Sequence) -> list[dict]:
    """``detection_events`` rows of one chunk's observations."""
    return [
        {
            "session_id": chunk["session_id"],
            "institution_id": chunk["institution_id"],
            "track": chunk["track"],
            "chunk_start_ms": int(chunk["chunk_start_ms"]),
            "frame_ts": float(obs.frame_ts),
            **detector_columns(obs),
            "session_date": chunk["session_date"],
        }
        for obs in observations
    ]


def observations_from_rows(rows: pd.DataFrame) -> tuple[list, list]:
    """Rebuild the observations of one session from its detection rows."""
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


SUPPRESSED_BY = "suppressed_by"
"""The extra column of :func:`incidents_for_session`: why an accommodation suppressed the
flag (``SuppressionReason``), null for a flag that is raised."""

INCIDENT_COLUMNS_WITH_SUPPRESSION = (*INCIDENTS.column_names, SUPPRESSED_BY)

SessionAllowances = Mapping[str, tuple[Accommodation, Sequence[BreakWindow]]]
"""session_id -> (its student's accommodation for the exam, its breaks on the batch timeline)."""


def incidents_for_session(
    rows: pd.DataFrame, allowances: SessionAllowances | None = None
) -> pd.DataFrame:
    """``applyInPandas`` body: one session's detection rows in, its incident rows out, each
    with ``suppressed_by`` set when the student's accommodation suppresses it."""
    if rows.empty:
        return pd.DataFrame(columns=INCIDENT_COLUMNS_WITH_SUPPRESSION)
    session_id = rows["session_id"].iloc[0]
    accommodation, breaks = (allowances or {}).get(session_id, (NO_ACCOMMODATION, ()))
    webcam, screen = observations_from_rows(rows)
    flags = observations_to_flags(webcam, screen, session_id=session_id)
    started = rows["session_started_at"].iloc[0] if "session_started_at" in rows else None
    started_at = None if started is None or pd.isna(started) else pd.Timestamp(started)
    institution_id = rows["institution_id"].iloc[0]
    session_date = rows["session_date"].iloc[0]
    out = []
    for flag in flags:
        row = flag_to_row(flag, session_id, institution_id, session_date, started_at)
        reason = suppression_reason(flag.type, flag.start_s, flag.end_s, accommodation, breaks)
        out.append({**row, SUPPRESSED_BY: None if reason is None else reason.value})
    return pd.DataFrame(out, columns=INCIDENT_COLUMNS_WITH_SUPPRESSION)
