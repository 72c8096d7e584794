"""Executor side of the analysis: one recording chunk in, detection rows out.

Runs inside Spark's Python workers (``mapInPandas``): each task opens its chunk from the
object store by key, samples its keyframes (1/s webcam, 1/10 s screen) and runs the
shared detectors from ``models`` in batches; a webcam chunk's microphone track goes through
the voice activity model (``models.speech``). Video bytes never travel through the driver.

Every finished chunk is checkpointed at once (``spark_jobs.chunk_checkpoints``); a chunk that
already has a checkpoint for its detector version is read back, not decoded again.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from proctorlake.core.schemas import DETECTION_EVENTS
from proctorlake.core.settings import Settings
from proctorlake.storage.object_store import LocalObjectStore, open_object_store
from spark_jobs.chunk_checkpoints import checkpoint_key, load_checkpoint, save_checkpoint

SAMPLE_EVERY_S = {"webcam": 1.0, "screen": 10.0}
FRAME_BATCH = 16
CHUNK_FAILED = "chunk failed"
"""Words every per-chunk error starts with, so the driver can find them in Spark's wrapper."""


class ChunkFailed(RuntimeError):
    """One chunk could not be analysed (corrupt or missing video); names the chunk."""


@dataclass(frozen=True)
class DetectJob:
    """What executors need besides the chunk rows: settings and the run that writes."""

    settings: Settings
    run_id: str


def _chunk_path(store, key: str, tmp: Path) -> Path:
    if isinstance(store, LocalObjectStore):
        return store.local_path(key)
    return store.download(key, tmp / Path(key).name)


def detection_rows_for_chunk(chunk: dict, store, tmp: Path) -> list[dict]:
    """Detection rows (``detection_events`` columns) for one chunk row of ``media_chunks``."""
    from models.screen_changes import ScreenChangeGate
    from models.takeover import EmbeddingSchedule
    from proctorlake.services.analyze import chunk_speech_bins
    from proctorlake.storage.video import sample_frames  # av before decord, inside the worker
    from spark_jobs.observation_rows import observations_to_rows, run_detectors, speech_rows

    track = chunk["track"]
    gate = ScreenChangeGate()
    path = _chunk_path(store, chunk["analysis_key"], tmp)
    offset = chunk["chunk_start_ms"] / 1000.0
    schedule = EmbeddingSchedule()
    rows: list[dict] = []
    stamps, frames = [], []
    for t, frame in sample_frames(path, SAMPLE_EVERY_S[track], offset_s=offset):
        stamps.append(t)
        frames.append(frame)
        if len(frames) == FRAME_BATCH:
            rows += observations_to_rows(
                chunk, run_detectors(track, frames, stamps, schedule, gate)
            )
            stamps, frames = [], []
    if frames:
        rows += observations_to_rows(chunk, run_detectors(track, frames, stamps, schedule, gate))
    if track == "webcam":  # the microphone is recorded with the webcam
        rows += speech_rows(chunk, chunk_speech_bins(path, offset))
    return rows


def chunk_checkpoint_key(chunk: dict) -> str:
    from spark_jobs.observation_rows import detector_version

    return checkpoint_key(
        chunk["session_id"], chunk["analysis_key"], detector_version(chunk["track"])
    )


def analyse_chunk(job: DetectJob, chunk: dict, store, tmp: Path) -> pd.DataFrame:
    """The chunk's rows: from its checkpoint when one exists, else detected and checkpointed."""
    key = chunk_checkpoint_key(chunk)
    done = load_checkpoint(store, key)
    if done is not None:
        return done
    try:
        rows = detection_rows_for_chunk(chunk, store, tmp)
    except Exception as exc:
        raise ChunkFailed(
            f"{CHUNK_FAILED}: {chunk['analysis_key']} (session {chunk['session_id']}, "
            f"{chunk['track']} from {chunk['chunk_start_ms'] / 1000:.0f} s): {exc}"
        ) from exc
    frame = pd.DataFrame(rows, columns=DETECTION_EVENTS.column_names)
    save_checkpoint(store, key, frame, job.run_id)
    return frame


def detect_partition(job: DetectJob, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """``mapInPandas`` body: chunk rows in, detection rows out (a failure names its chunk).

    The settings travel with the function (bind the job with ``functools.partial``), so workers
    read the same store as the driver whatever their environment says.
    """
    store = open_object_store(job.settings)
    with tempfile.TemporaryDirectory(prefix="proctorlake-detect-") as tmp:
        for batch in batches:
            for chunk in batch.to_dict("records"):
                yield analyse_chunk(job, chunk, store, Path(tmp))
