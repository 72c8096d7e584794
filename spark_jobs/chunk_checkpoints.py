"""Chunk-level checkpoints: each chunk's detection rows, stored as soon as the chunk is done.

A job killed mid-way (spot preemption, a lost executor) keeps every finished chunk; the re-run
reads those back instead of decoding and detecting again. A checkpoint is keyed by the chunk's
``analysis_key`` and the detector version of its track, so new models never reuse old rows.

Checkpoints are Parquet objects under the session's own prefix in the object store
(``sessions/{session_id}/checkpoints/...``): one atomic put per chunk on a local folder or
S3 alike, no commit contention between executors, and erasure of a session removes them with
the rest of its objects.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from proctorlake.core.schemas import DETECTION_EVENTS
from proctorlake.storage.object_store import ObjectNotFound, ObjectStore, object_keys_for_session

RUN_ID_METADATA = b"proctorlake.run_id"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def checkpoint_key(session_id: str, analysis_key: str, detector_version: str) -> str:
    """Where one chunk's rows are kept for one detector version."""
    chunk = analysis_key.removeprefix(object_keys_for_session(session_id))
    return (
        f"{object_keys_for_session(session_id)}checkpoints/detections/"
        f"{_slug(detector_version)}/{_slug(chunk)}.parquet"
    )


def encode_rows(rows: pd.DataFrame, run_id: str) -> bytes:
    """Rows in the detection_events schema as Parquet bytes, stamped with the writing run."""
    table = pa.Table.from_pandas(
        rows[DETECTION_EVENTS.column_names],
        schema=DETECTION_EVENTS.arrow_schema(),
        preserve_index=False,
    )
    table = table.replace_schema_metadata({RUN_ID_METADATA: run_id.encode()})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def decode_rows(data: bytes) -> pd.DataFrame:
    return pq.read_table(io.BytesIO(data)).to_pandas()[DETECTION_EVENTS.column_names]


def checkpoint_run_id(data: bytes) -> str:
    """The run that wrote a checkpoint (tests and audits tell reused chunks from redone ones)."""
    metadata = pq.read_schema(io.BytesIO(data)).metadata or {}
    return metadata.get(RUN_ID_METADATA, b"").decode()


def save_checkpoint(store: ObjectStore, key: str, rows: pd.DataFrame, run_id: str) -> None:
    store.put_bytes(key, encode_rows(rows, run_id))


def load_checkpoint(store: ObjectStore, key: str) -> pd.DataFrame | None:
    """The chunk's rows if a checkpoint exists, else None."""
    try:
        return decode_rows(store.get_bytes(key))
    except ObjectNotFound:
        return None


def finished_keys(store: ObjectStore, keys: Iterable[str]) -> set[str]:
    """Which of these checkpoint keys exist (one listing per session prefix)."""
    keys = set(keys)
    prefixes = {k.split("checkpoints/", 1)[0] + "checkpoints/" for k in keys}
    present = {k for p in prefixes for k in store.list(p)}
    return keys & present
