"""Store a recorded session: chunk, transcode for analysis, keep the original, register in Delta.

Browser WebM (variable frame rate, no duration) is transcoded into constant-frame-rate H.264
MP4 chunks of ``settings.chunk_seconds`` with a one-second keyframe interval, so analysis can
seek straight to each sampled second. Every check runs before the first byte is stored, so a
rejected upload leaves the store exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from proctorlake import lake, schemas
from proctorlake.object_store import ObjectStore, chunk_key, manifest_key, open_object_store
from proctorlake.settings import Settings
from proctorlake.video import VideoError, VideoInfo, probe, transcode_to_cfr_chunks

TRACKS = ("webcam", "screen")
ANALYSIS_FPS = {"webcam": 15, "screen": 5}
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class IngestError(ValueError):
    """The recording or its identifiers were rejected; nothing was stored."""


@dataclass(frozen=True)
class SessionIdentity:
    session_id: str
    student_id: str
    exam_id: str
    institution_id: str
    student_name: str | None = None
    student_email: str | None = None


@dataclass(frozen=True)
class StoredChunk:
    track: str
    chunk_index: int
    chunk_start_ms: int
    chunk_end_ms: int
    analysis_key: str
    original_key: str
    frame_count: int


def validate_identity(identity: SessionIdentity) -> None:
    for field in ("session_id", "student_id", "exam_id", "institution_id"):
        value = getattr(identity, field)
        if not value or not _ID.match(value):
            raise IngestError(
                f"{field} {value!r} is malformed: use 1-128 letters, digits, '.', '_' or '-'"
            )


def session_exists(settings: Settings, session_id: str) -> bool:
    rows = lake.duckdb_connection(settings).execute(
        "select count(*) from media_chunks where session_id = ?", [session_id]
    )
    return rows.fetchone()[0] > 0


def _probe_or_reject(track: str, path: Path) -> VideoInfo:
    if not Path(path).is_file():
        raise IngestError(f"{track} recording {path} does not exist")
    try:
        return probe(Path(path))
    except VideoError as exc:
        raise IngestError(f"{track} recording rejected: {exc}") from exc


def _store_track(
    settings: Settings,
    store: ObjectStore,
    identity: SessionIdentity,
    track: str,
    source: Path,
    info: VideoInfo,
    progress: Callable[[str], None],
) -> tuple[list[StoredChunk], list[dict]]:
    suffix = source.suffix.lstrip(".").lower() or "bin"
    original_key = chunk_key(identity.session_id, track, 0, f"original.{suffix}")
    store.put_file(original_key, source)
    fps = ANALYSIS_FPS[track]
    chunks: list[StoredChunk] = []
    rows: list[dict] = []
    now = dt.datetime.now(dt.UTC)
    previous_end_ms = 0
    with tempfile.TemporaryDirectory(prefix="proctorlake-ingest-") as tmp:
        for piece in transcode_to_cfr_chunks(source, Path(tmp), fps, settings.chunk_seconds):
            start_ms = round(piece.start_s * 1000)
            end_ms = round(piece.end_s * 1000)
            analysis_key = chunk_key(identity.session_id, track, start_ms, "mp4")
            store.put_file(analysis_key, piece.path)
            chunks.append(
                StoredChunk(
                    track,
                    piece.index,
                    start_ms,
                    end_ms,
                    analysis_key,
                    original_key,
                    piece.frame_count,
                )
            )
            rows.append(
                {
                    "session_id": identity.session_id,
                    "institution_id": identity.institution_id,
                    "track": track,
                    "chunk_index": piece.index,
                    "chunk_start_ms": start_ms,
                    "chunk_end_ms": end_ms,
                    "original_key": original_key,
                    "analysis_key": analysis_key,
                    "width": info.width,
                    "height": info.height,
                    "fps": info.fps,
                    "bitrate_bps": info.bitrate_bps,
                    "frame_count": piece.frame_count,
                    "gap_before_ms": max(0, start_ms - previous_end_ms),
                    "ingested_at": now,
                    "session_date": now.date().isoformat(),
                }
            )
            previous_end_ms = end_ms
            size_kib = piece.path.stat().st_size // 1024
            progress(f"{track}: chunk {piece.index + 1} stored ({size_kib} KiB)")
    return chunks, rows


def ingest_recording(
    settings: Settings,
    identity: SessionIdentity,
    webcam: Path,
    screen: Path | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> dict:
    """Store a session's recordings and register them; returns the session manifest.

    Raises IngestError (nothing stored) for malformed ids, unreadable videos and sessions
    that were already ingested.
    """
    validate_identity(identity)
    tracks = {"webcam": Path(webcam)} | ({"screen": Path(screen)} if screen else {})
    infos = {track: _probe_or_reject(track, path) for track, path in tracks.items()}
    lake.ensure_all_tables(settings)
    if session_exists(settings, identity.session_id):
        raise IngestError(
            f"session {identity.session_id} is already ingested; its recording is kept as is"
        )
    store = open_object_store(settings)
    all_chunks: list[StoredChunk] = []
    chunk_rows: list[dict] = []
    for track, path in tracks.items():
        chunks, rows = _store_track(settings, store, identity, track, path, infos[track], progress)
        all_chunks += chunks
        chunk_rows += rows
    now = dt.datetime.now(dt.UTC)
    duration = infos["webcam"].duration_s
    manifest = {
        "session_id": identity.session_id,
        "institution_id": identity.institution_id,
        "exam_id": identity.exam_id,
        "duration_s": duration,
        "tracks": {t: asdict(i) for t, i in infos.items()},
        "chunks": [asdict(c) for c in all_chunks],
        "ingested_at": now.isoformat(),
    }
    store.put_bytes(manifest_key(identity.session_id), json.dumps(manifest, indent=2).encode())
    lake.append_rows(settings, schemas.MEDIA_CHUNKS, chunk_rows)
    lake.merge_rows(
        settings,
        schemas.EXAM_SESSIONS,
        [
            {
                "session_id": identity.session_id,
                "institution_id": identity.institution_id,
                "student_id": identity.student_id,
                "student_name": identity.student_name,
                "student_email": identity.student_email,
                "exam_id": identity.exam_id,
                "tier": "ai_human",
                "status": "ended",
                "created_at": now,
                "started_at": now - dt.timedelta(seconds=duration),
                "ended_at": now,
                "session_date": now.date().isoformat(),
            }
        ],
        ["session_id"],
    )
    return manifest
