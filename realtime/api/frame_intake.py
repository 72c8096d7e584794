"""Frame intake: validate one JPEG, publish it sealed to its track's topic, keep a thumbnail.

Webcam frames arrive once a second and screen frames every ten seconds. Each is checked
(size, JPEG structure, dimensions) before anything is published, so a bad upload changes
nothing. The record key is the session id, so one session's frames stay ordered on one
partition; headers carry only non-personal routing data (capture time, institution, tier).
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from proctorlake.core.settings import Settings
from proctorlake.core.topics import FRAMES_SCREEN, FRAMES_WEBCAM, Topic
from proctorlake.governance import keystore
from proctorlake.storage import kafka_io
from realtime.api.session_registry import ExamSession

TRACK_TOPICS: dict[str, Topic] = {"webcam": FRAMES_WEBCAM, "screen": FRAMES_SCREEN}
MAX_FRAME_BYTES = {"webcam": 512 * 1024, "screen": 3 * 1024 * 1024}
MAX_FRAME_PIXELS = {"webcam": 1920 * 1080, "screen": 3840 * 2160}
THUMBNAIL_EVERY_S = 2.0
GAP_MS = 5000
"""A webcam frame this long after the session's previous one follows a stream gap (a network
drop and reconnect): the API records it on the ``sessions`` topic for auditors, and the
detector's ``stream_gap`` incident lands in Delta."""
_JPEG_MAGIC = b"\xff\xd8\xff"


class FrameRejected(ValueError):
    """The upload is not an acceptable frame; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


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
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "JPEG":
                raise FrameRejected(415, f"frame is {image.format}, not JPEG")
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise FrameRejected(422, f"frame is a damaged JPEG: {exc}") from exc
    if width * height > MAX_FRAME_PIXELS[track]:
        raise FrameRejected(413, f"{track} frame is {width}x{height}; too many pixels")
    return width, height


def thumbnail_path(settings: Settings, session_id: str) -> Path:
    """Latest webcam frame of a session (per-session cache folder, found by erasure)."""
    return settings.home / "cache" / "thumbnails" / session_id / "latest.jpg"


class FrameIntake:
    """Publishes accepted frames; one instance per API process."""

    def __init__(self, settings: Settings, producer) -> None:
        self.settings = settings
        self.producer = producer
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
        topic = TRACK_TOPICS[track]
        metadata = kafka_io.headers(
            captured_at_ms=captured_at_ms,
            started_at_ms=session.started_at_ms or captured_at_ms,
            institution_id=session.institution_id,
            tier=session.tier,
            alert_min_severity=session.policy.alert_min_severity,
            extreme=",".join(session.policy.extreme_incident_types),
        )
        sealed = keystore.seal(self.settings, session.session_id, jpeg)
        sent = self.producer.send(
            topic.name, key=session.session_id, value=sealed, headers=metadata
        ).get(timeout=15)
        return FrameReceipt(
            session.session_id, track, captured_at_ms, True, sent.partition, sent.offset, gap
        )

    def forget(self, session_id: str) -> None:
        """Drop an evicted session's timers."""
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
        if last is not None and captured_at_ms - last > GAP_MS:
            return captured_at_ms - last
        return None

    def _keep_thumbnail(self, session_id: str, jpeg: bytes) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._thumbnail_written.get(session_id, -1e9) < THUMBNAIL_EVERY_S:
                return
            self._thumbnail_written[session_id] = now
        path = thumbnail_path(self.settings, session_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"latest.{threading.get_ident()}.partial")
        tmp.write_bytes(jpeg)
        tmp.replace(path)
