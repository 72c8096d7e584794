"""Executor side of the analysis: one recording chunk in, detection rows out.

Runs inside Spark's Python workers (``mapInPandas``): each task opens its chunk from the
object store by key, samples one frame per second with decord and runs the shared detectors
from ``models``. Video bytes never travel through the driver.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from proctorlake.object_store import LocalObjectStore, open_object_store
from proctorlake.schemas import DETECTION_EVENTS
from proctorlake.settings import Settings

SAMPLE_EVERY_S = {"webcam": 1.0, "screen": 10.0}
FRAME_BATCH = 16


def _chunk_path(store, key: str, tmp: Path) -> Path:
    if isinstance(store, LocalObjectStore):
        return store.local_path(key)
    return store.download(key, tmp / Path(key).name)


def detection_rows_for_chunk(chunk: dict, store, tmp: Path) -> list[dict]:
    """Detection rows (``detection_events`` columns) for one chunk row of ``media_chunks``."""
    from proctorlake.video import sample_frames  # av before decord, inside the worker
    from spark_jobs.observation_rows import observations_to_rows, run_detectors

    track = chunk["track"]
    path = _chunk_path(store, chunk["analysis_key"], tmp)
    offset = chunk["chunk_start_ms"] / 1000.0
    rows: list[dict] = []
    stamps, frames = [], []
    for t, frame in sample_frames(path, SAMPLE_EVERY_S[track], offset_s=offset):
        stamps.append(t)
        frames.append(frame)
        if len(frames) == FRAME_BATCH:
            rows += observations_to_rows(chunk, run_detectors(track, frames, stamps))
            stamps, frames = [], []
    if frames:
        rows += observations_to_rows(chunk, run_detectors(track, frames, stamps))
    return rows


def detect_partition(settings: Settings, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """``mapInPandas`` body: chunk rows in, detection rows out (a failure names its chunk).

    The settings travel with the function (bind them with ``functools.partial``), so workers
    read the same store as the driver whatever their environment says.
    """
    store = open_object_store(settings)
    columns = DETECTION_EVENTS.column_names
    with tempfile.TemporaryDirectory(prefix="proctorlake-detect-") as tmp:
        for batch in batches:
            for chunk in batch.to_dict("records"):
                try:
                    rows = detection_rows_for_chunk(chunk, store, Path(tmp))
                except Exception as exc:
                    raise RuntimeError(
                        f"chunk {chunk['analysis_key']} of session {chunk['session_id']} "
                        f"failed: {exc}"
                    ) from exc
                yield pd.DataFrame(rows, columns=columns)


def encode_detail(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
