"""Recording upload: MediaRecorder segments stored in the layout the batch path ingests.

The exam client restarts its MediaRecorder every segment, so each upload is a complete WebM
file (EBML header included) stored as ``sessions/{id}/{track}/{chunk_start_ms:012d}.webm``
and listed in ``sessions/{id}/manifest.json``. A retried upload of the same bytes is
accepted as a no-op; different bytes for a stored segment are refused, so nothing stored is
ever overwritten. Segments arrive spooled to disk (``request_body``) and are stored from the
file; a session's stored segments may not pass its quota (``session_chunk_quota_bytes``).
"""

from __future__ import annotations

import datetime as dt
import json
import threading

from proctorlake.storage.object_store import ObjectNotFound, ObjectStore, chunk_key, manifest_key
from realtime.api.frame_intake import FrameRejected
from realtime.api.request_body import SpooledUpload
from realtime.api.session_registry import ExamSession

TRACKS = ("webcam", "screen")
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def validate_segment(
    track: str, chunk_start_ms: int, chunk_end_ms: int, upload: SpooledUpload
) -> None:
    if track not in TRACKS:
        raise FrameRejected(404, f"unknown track {track!r}; use one of {list(TRACKS)}")
    if not upload.size:
        raise FrameRejected(400, "empty recording segment")
    if not upload.head.startswith(_EBML_MAGIC):
        raise FrameRejected(415, "segment is not a WebM file (no EBML header)")
    if chunk_start_ms < 0 or chunk_end_ms <= chunk_start_ms:
        raise FrameRejected(400, "chunk_end_ms must be after chunk_start_ms, both >= 0")


class RecordingUploads:
    """Stores segments and keeps the session manifest current (one writer per process)."""

    def __init__(self, store: ObjectStore, quota_bytes: int) -> None:
        self.store = store
        self.quota_bytes = quota_bytes
        self._lock = threading.Lock()

    def store_segment(
        self,
        session: ExamSession,
        track: str,
        chunk_start_ms: int,
        chunk_end_ms: int,
        upload: SpooledUpload,
    ) -> tuple[dict, bool]:
        """Store one segment; returns (its manifest entry, whether it was new)."""
        validate_segment(track, chunk_start_ms, chunk_end_ms, upload)
        key = chunk_key(session.session_id, track, chunk_start_ms, "webm")
        digest = upload.sha256
        with self._lock:
            manifest = self._manifest(session)
            for entry in manifest["chunks"]:
                if entry["original_key"] == key:
                    if entry["sha256"] != digest:
                        raise FrameRejected(
                            409,
                            f"segment at {chunk_start_ms} ms is already stored with other bytes",
                        )
                    return entry, False
            stored = sum(int(c["bytes"]) for c in manifest["chunks"])
            if stored + upload.size > self.quota_bytes:
                raise FrameRejected(
                    413,
                    f"the session's recording quota of {self.quota_bytes} bytes is used up "
                    f"({stored} stored)",
                )
            self.store.put_file(key, upload.path)
            entry = {
                "track": track,
                "chunk_start_ms": chunk_start_ms,
                "chunk_end_ms": chunk_end_ms,
                "original_key": key,
                "analysis_key": None,
                "bytes": upload.size,
                "sha256": digest,
            }
            manifest["chunks"].append(entry)
            manifest["chunks"].sort(key=lambda c: (c["track"], c["chunk_start_ms"]))
            _number_chunks(manifest["chunks"])
            manifest["updated_at"] = dt.datetime.now(dt.UTC).isoformat()
            self.store.put_bytes(
                manifest_key(session.session_id), json.dumps(manifest, indent=2).encode()
            )
        return entry, True

    def _manifest(self, session: ExamSession) -> dict:
        try:
            return json.loads(self.store.get_bytes(manifest_key(session.session_id)))
        except ObjectNotFound:
            return {
                "session_id": session.session_id,
                "institution_id": session.institution_id,
                "exam_id": session.exam_id,
                "source": "realtime",
                "chunks": [],
            }


def _number_chunks(chunks: list[dict]) -> None:
    """Index each track's segments in time order and note gaps for auditors."""
    count: dict[str, int] = {}
    previous_end: dict[str, int] = {}
    for chunk in chunks:
        track = chunk["track"]
        chunk["chunk_index"] = count.get(track, 0)
        chunk["gap_before_ms"] = max(0, chunk["chunk_start_ms"] - previous_end.get(track, 0))
        count[track] = chunk["chunk_index"] + 1
        previous_end[track] = chunk["chunk_end_ms"]
