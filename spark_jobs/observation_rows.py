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
from models.integrity_rules import IntegrityObservation, integrity_flags
from models.screen_apps import ScreenObservation
from models.screen_changes import ScreenChangeGate, analyze_screen_frames_gated
from models.speech import MODEL_VERSION, SpeechBin, talking_flags
from models.takeover import EmbeddingSchedule, TakeoverReference, add_embeddings
from models.temporal_rules import Flag, incident_id, observations_to_flags
from models.webcam import WebcamObservation, analyze_webcam_frames
from proctorlake.core.accommodations import (
    NO_ACCOMMODATION,
    Accommodation,
    BreakWindow,
    suppression_reason,
)
from proctorlake.core.policy import ExamPolicy
from proctorlake.core.schemas import INCIDENTS
from proctorlake.core.vocabulary import Track

ROWS_FORMAT = "rows-v3"
"""Bump when the mapping changes, so chunk checkpoints are redone (v2: detector columns from
:func:`models.detection_rows.detector_columns`, shared with the stream path; v3: webcam chunks
add one ``audio`` row per second of microphone track)."""
AUDIO_TRACK = "audio"
"""``track`` of the voice-activity rows (one per second; ``detail`` holds its bins)."""


def detector_version(track: str) -> str:
    """What a chunk checkpoint is valid for: the track's model and this row mapping."""
    return f"{track}-{model_version(track)}-{ROWS_FORMAT}"


def run_detectors(
    track: str,
    frames: Sequence[np.ndarray],
    stamps: Sequence[float],
    schedule: EmbeddingSchedule | None = None,
    gate: ScreenChangeGate | None = None,
) -> list:
    """The shared per-frame detectors for one track (a batch of frames). Webcam samples
    that ``schedule`` (one per chunk, fed in time order) names get their face embedding;
    screen frames go through ``gate`` (one per chunk, so consecutive batches share it):
    an unchanged screen reuses the last OCR read."""
    if track == Track.WEBCAM:
        observations = analyze_webcam_frames(frames, stamps)
        return observations if schedule is None else add_embeddings(observations, frames, schedule)
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


def speech_rows(chunk: dict, bins: Sequence[SpeechBin]) -> list[dict]:
    """``detection_events`` rows of one chunk's voice activity: one per second, ``detail``
    keeping that second's bins (start, probability) for the session-level rule. Sound past
    the chunk's video (a browser's audio may run a little longer) is not the chunk's."""
    end_s = int(chunk["chunk_end_ms"]) / 1000.0
    seconds: dict[int, list[SpeechBin]] = {}
    for b in bins:
        if b.start_s < end_s:
            seconds.setdefault(int(b.start_s + 1e-6), []).append(b)
    return [
        {
            "session_id": chunk["session_id"],
            "institution_id": chunk["institution_id"],
            "track": AUDIO_TRACK,
            "chunk_start_ms": int(chunk["chunk_start_ms"]),
            "frame_ts": float(second),
            "detection_type": "speech",
            "confidence": max(b.probability for b in group),
            "detail": json.dumps([[round(b.start_s, 3), round(b.probability, 4)] for b in group]),
            "model_version": MODEL_VERSION,
            "session_date": chunk["session_date"],
        }
        for second, group in sorted(seconds.items())
    ]


def observations_from_rows(rows: pd.DataFrame) -> tuple[list, list, list[SpeechBin]]:
    """Rebuild the observations (and voice-activity bins) of one session from its rows."""
    webcam, screen, speech = [], [], []
    for track, detail in zip(rows["track"], rows["detail"], strict=True):
        payload = json.loads(detail)
        if track == "webcam":
            webcam.append(WebcamObservation.from_dict(payload))
        elif track == AUDIO_TRACK:
            speech += [SpeechBin(float(t), float(p)) for t, p in payload]
        else:
            screen.append(ScreenObservation.from_dict(payload))
    return webcam, screen, sorted(speech, key=lambda b: b.start_s)


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


def _takeover_reference(rows: pd.DataFrame) -> TakeoverReference | None:
    """The verified face joined onto the session's rows (``takeover_reference``), if any."""
    if "takeover_reference" not in rows:
        return None
    face = rows["takeover_reference"].iloc[0]
    if face is None or (not isinstance(face, list | np.ndarray)) or len(face) == 0:
        return None
    return TakeoverReference.of_verified(np.asarray(face, dtype=np.float32))


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
    webcam, screen, speech = observations_from_rows(rows)
    flags = observations_to_flags(
        webcam, screen, session_id=session_id, reference=_takeover_reference(rows)
    )
    flags += talking_flags(speech, session_id=session_id)
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


def integrity_incidents_for_session(rows: pd.DataFrame) -> pd.DataFrame:
    """``applyInPandas`` body: one session's ``integrity_events`` rows (with its start and
    stored policy) in, its integrity incident rows out; the rules see the events in the
    order they happened, with the thresholds of the session's own exam policy."""
    if rows.empty:
        return pd.DataFrame(columns=INCIDENTS.column_names)
    rows = rows.sort_values(["occurred_at", "session_ts"], kind="stable")
    session_id = rows["session_id"].iloc[0]
    policy = ExamPolicy.from_stored_json(_present(rows["policy_json"].iloc[0]))
    observations = [
        IntegrityObservation(kind, phase, float(ts), _int(width), _int(height))
        for kind, phase, ts, width, height in zip(
            rows["kind"],
            rows["phase"],
            rows["session_ts"],
            rows["width"],
            rows["height"],
            strict=True,
        )
    ]
    flags = integrity_flags(observations, policy.integrity, session_id)
    started = _present(rows["session_started_at"].iloc[0])
    started_at = None if started is None else pd.Timestamp(started)
    institution_id, session_date = rows["institution_id"].iloc[0], rows["session_date"].iloc[0]
    out = [
        flag_to_row(flag, session_id, institution_id, session_date, started_at) for flag in flags
    ]
    return pd.DataFrame(out, columns=INCIDENTS.column_names)


def _present(value):
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _int(value) -> int | None:
    value = _present(value)
    return None if value is None else int(value)
