"""Frame intake: validate one JPEG, publish it sealed to its track's topic, keep a thumbnail.

Webcam frames arrive once a second and screen frames every ten seconds. Each is checked
(size, JPEG structure, dimensions) before anything is published, so a bad upload changes
nothing. The record key is the session id, so one session's frames stay ordered on one
partition; headers carry only non-personal routing data (capture time, institution). Whether
a webcam frame follows a stream gap is :mod:`proctorlake.core.stream_gaps`' rule.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from models.image_header import ImageRejected, read_image_header
from proctorlake.core.messages import FrameMessage
from proctorlake.core.settings import Settings
from proctorlake.core.stream_gaps import is_stream_gap
from proctorlake.core.topics import FRAMES_SCREEN, FRAMES_WEBCAM, Topic
from proctorlake.governance import erased_sessions, sealed_topics
from proctorlake.storage.object_store import (
    LIVE_THUMBNAIL_EVERY_S,
    ObjectStore,
    live_thumbnail_key,
)
from realtime.api.errors import ApiProblem
from realtime.api.session_registry import ExamSession

TRACK_TOPICS: dict[str, Topic] = {"webcam": FRAMES_WEBCAM, "screen": FRAMES_SCREEN}
MAX_FRAME_BYTES = {"webcam": 512 * 1024, "screen": 3 * 1024 * 1024}
MAX_FRAME_PIXELS = {"webcam": 1920 * 1080, "screen": 3840 * 2160}
_JPEG_MAGIC = b"\xff\xd8\xff"


class FrameRejected(ApiProblem):
    """The upload is not an acceptable frame; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, status)


@dataclass(frozen=True)
class FrameReceipt:
    session_id: str
    track: str
    captured_at_ms: int
    published: bool
    partition: int | None
    offset: int | None
    gap_before_ms: int | None = None


def validate_jpeg(track: str, data: bytes) -> tuple[int, int]:
    """Return (width, height) of a well-formed JPEG within the track's limits."""
    if track not in TRACK_TOPICS:
        raise FrameRejected(404, f"unknown track {track!r}; use one of {sorted(TRACK_TOPICS)}")
    if not data:
        raise FrameRejected(400, "empty frame")
    if len(data) > MAX_FRAME_BYTES[track]:
        raise FrameRejected(
            413, f"{track} frame is {len(data)} bytes; the limit is {MAX_FRAME_BYTES[track]}"
        )
    if not data.startswith(_JPEG_MAGIC):
        raise FrameRejected(415, "frame is not a JPEG (it does not start with FF D8 FF)")
    try:
        # header only: the pixel cap holds before anything is decoded
        header = read_image_header(data, f"{track} frame", MAX_FRAME_PIXELS[track], ("JPEG",))
    except ImageRejected as exc:
        if exc.status == 413:
            raise FrameRejected(413, f"{exc}; too many pixels") from exc
        raise FrameRejected(422, f"frame is a damaged JPEG: {exc}") from exc
    width, height = header.width, header.height
    return width, height


class FrameIntake:
    """Publishes accepted frames; one instance per API process."""

    def __init__(self, settings: Settings, producer, store: ObjectStore) -> None:
        self.settings = settings
        self.producer = producer
        self.store = store
        self._thumbnail_written: dict[str, float] = {}
        self._last_webcam_ms: dict[str, int] = {}
        self._lock = threading.Lock()

    def accept(
        self, session: ExamSession, track: str, jpeg: bytes, captured_at_ms: int
    ) -> FrameReceipt:
        validate_jpeg(track, jpeg)
        gap = None
        if track == "webcam":
            self._keep_thumbnail(session.session_id, jpeg)
            gap = self._gap_before(session.session_id, captured_at_ms)
        if session.tier == "none":
            return FrameReceipt(session.session_id, track, captured_at_ms, False, None, None, gap)
        frame = FrameMessage(
            session_id=session.session_id,
            institution_id=session.institution_id,
            track=track,
            captured_at_ms=captured_at_ms,
            started_at_ms=session.started_at_ms or captured_at_ms,
        )
        sent = sealed_topics.publish_frame(self.settings, self.producer, frame, jpeg).get(
            timeout=15
        )
        return FrameReceipt(
            session.session_id, track, captured_at_ms, True, sent.partition, sent.offset, gap
        )

    def forget(self, session_id: str) -> None:
        """Drop what this process remembers of the session (evicted or erased)."""
        with self._lock:
            self._thumbnail_written.pop(session_id, None)
            self._last_webcam_ms.pop(session_id, None)

    def _gap_before(self, session_id: str, captured_at_ms: int) -> int | None:
        """Milliseconds since the session's previous webcam frame when that is a gap (this
        process's view: after an API restart the first frame sees no gap here, the detector
        still flags it)."""
        with self._lock:
            last = self._last_webcam_ms.get(session_id)
            if last is None or captured_at_ms > last:
                self._last_webcam_ms[session_id] = captured_at_ms
        if last is not None and is_stream_gap(last / 1000.0, captured_at_ms / 1000.0):
            return captured_at_ms - last
        return None

    def _keep_thumbnail(self, session_id: str, jpeg: bytes) -> None:
        """Store the latest webcam frame (at most every ``LIVE_THUMBNAIL_EVERY_S``) in the object
        store, where every API process can serve it."""
        now = time.monotonic()
        with self._lock:
            if now - self._thumbnail_written.get(session_id, -1e9) < LIVE_THUMBNAIL_EVERY_S:
                return
            self._thumbnail_written[session_id] = now
        with erased_sessions.admitted_session(self.settings, session_id):
            self.store.put_bytes(live_thumbnail_key(session_id), jpeg)
