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

from proctorlake.core.settings import Settings
from proctorlake.governance import erased_sessions
from proctorlake.storage.manifests import number_chunks, update_manifest
from proctorlake.storage.object_store import ObjectStore, chunk_key
from proctorlake.storage.video import VideoError
from proctorlake.storage.video_timeline import (
    TimelineLimits,
    VideoTimelineRejected,
    check_timeline,
)
from realtime.api.frame_intake import FrameRejected
from realtime.api.request_body import SpooledUpload
from realtime.api.session_registry import ExamSession

TRACKS = ("webcam", "screen")
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def validate_segment(
    track: str,
    chunk_start_ms: int,
    chunk_end_ms: int,
    upload: SpooledUpload,
    limits: TimelineLimits,
) -> None:
    """Refuse a segment before it is stored; its timeline is read from packet timestamps
    (milliseconds, no decoding), so a tiny file cannot ask the batch path for hours of work.
    (The body's size cap was enforced while it was spooled.)"""
    if track not in TRACKS:
        raise FrameRejected(404, f"unknown track {track!r}; use one of {list(TRACKS)}")
    if not upload.size:
        raise FrameRejected(400, "empty recording segment")
    if not upload.head.startswith(_EBML_MAGIC):
        raise FrameRejected(415, "segment is not a WebM file (no EBML header)")
    if chunk_start_ms < 0 or chunk_end_ms <= chunk_start_ms:
        raise FrameRejected(400, "chunk_end_ms must be after chunk_start_ms, both >= 0")
    if chunk_end_ms - chunk_start_ms > limits.max_duration_s * 1000:
        raise FrameRejected(
            422, f"a segment may span {limits.max_duration_s:g} s at most (one analysis chunk)"
        )
    try:
        check_timeline(upload.path, limits, "segment")
    except VideoTimelineRejected as exc:
        raise FrameRejected(422, str(exc)) from exc
    except VideoError as exc:
        raise FrameRejected(422, f"segment is not a readable WebM: {exc}") from exc


class RecordingUploads:
    """Stores segments and keeps the session manifest current (safe across processes)."""

    def __init__(
        self, settings: Settings, store: ObjectStore, limits: TimelineLimits, quota_bytes: int
    ) -> None:
        self.settings = settings
        self.store = store
        self.limits = limits
        self.quota_bytes = quota_bytes

    def store_segment(
        self,
        session: ExamSession,
        track: str,
        chunk_start_ms: int,
        chunk_end_ms: int,
        upload: SpooledUpload,
    ) -> tuple[dict, bool]:
        """Store one segment; returns (its manifest entry, whether it was new).

        Raises SessionErased once the session is erased: the check and the writes happen
        under the erasure gate, so no segment or manifest comes back after an erasure.
        """
        validate_segment(track, chunk_start_ms, chunk_end_ms, upload, self.limits)
        key = chunk_key(session.session_id, track, chunk_start_ms, "webm")
        digest = upload.sha256
        entry = {
            "track": track,
            "chunk_start_ms": chunk_start_ms,
            "chunk_end_ms": chunk_end_ms,
            "original_key": key,
            "analysis_key": None,
            "bytes": upload.size,
            "sha256": digest,
        }
        outcome: dict = {}

        def add_entry(manifest: dict | None) -> dict:
            manifest = manifest or self._new_manifest(session)
            for stored in manifest["chunks"]:
                if stored["original_key"] == key:
                    if stored["sha256"] != digest:
                        raise FrameRejected(
                            409,
                            f"segment at {chunk_start_ms} ms is already stored with other bytes",
                        )
                    outcome.update(entry=stored, new=False)
                    return manifest
            used = sum(int(c["bytes"]) for c in manifest["chunks"])
            if used + upload.size > self.quota_bytes:
                raise FrameRejected(
                    413,
                    f"the session's recording quota of {self.quota_bytes} bytes is used up "
                    f"({used} stored)",
                )
            self.store.put_file(key, upload.path)
            added = dict(entry)
            manifest["chunks"].append(added)
            manifest["chunks"].sort(key=lambda c: (c["track"], c["chunk_start_ms"]))
            number_chunks(manifest["chunks"])
            manifest["updated_at"] = dt.datetime.now(dt.UTC).isoformat()
            outcome.update(entry=added, new=True)
            return manifest

        with erased_sessions.admitted_session(self.settings, session.session_id):
            update_manifest(self.settings, session.session_id, add_entry)
        return outcome["entry"], outcome["new"]

    @staticmethod
    def _new_manifest(session: ExamSession) -> dict:
        return {
            "session_id": session.session_id,
            "institution_id": session.institution_id,
            "exam_id": session.exam_id,
            "source": "realtime",
            "chunks": [],
        }
