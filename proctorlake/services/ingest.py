"""Store a recorded session: chunk, transcode for analysis, keep the original, register in Delta.

Browser WebM (variable frame rate, no duration) is transcoded into constant-frame-rate H.264
MP4 chunks of ``settings.chunk_seconds`` with a one-second keyframe interval, so analysis can
seek straight to each sampled second. Every check runs before the first byte is stored, so a
rejected upload leaves the store exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from proctorlake.core import schemas
from proctorlake.core.ids import InvalidId, check_id
from proctorlake.core.settings import Settings
from proctorlake.governance import erased_sessions
from proctorlake.governance.storage_policy import tag_session_objects
from proctorlake.services.recording_quality import record_session_quality
from proctorlake.storage import lake
from proctorlake.storage.manifests import update_manifest
from proctorlake.storage.object_store import (
    ObjectNotFound,
    ObjectStore,
    chunk_key,
    manifest_key,
    open_object_store,
)
from proctorlake.storage.scratch import session_scratch
from proctorlake.storage.video import VideoError, VideoInfo, probe, transcode_to_cfr_chunks
from proctorlake.storage.video_timeline import check_timeline, recording_limits, segment_limits

TRACKS = ("webcam", "screen")
MAX_ANALYSIS_FPS = {"webcam": 15, "screen": 5}
"""Frame-rate cap of the stored analysis copy per track (the original is kept as uploaded)."""


def analysis_fps(track: str, source_fps: float) -> int:
    """Frame rate of a track's constant-rate analysis copy: the source's own rate, capped.

    A source slower than the cap is not padded with repeated frames: they would cost encode
    time and storage and add nothing (the analysis samples 1 frame/s, reviewers see the same
    motion). A keyframe still starts every second."""
    return max(1, min(MAX_ANALYSIS_FPS[track], round(source_fps)))


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
        try:
            check_id(field, getattr(identity, field))
        except InvalidId as exc:
            raise IngestError(str(exc)) from exc


def session_exists(settings: Settings, session_id: str) -> bool:
    rows = lake.duckdb_connection(settings).execute(
        "select count(*) from media_chunks where session_id = ?", [session_id]
    )
    return rows.fetchone()[0] > 0


def _probe_or_reject(settings: Settings, track: str, path: Path) -> VideoInfo:
    """Measure a recording, after its timeline passed the bounds (decoding an unbounded one
    could take hours)."""
    if not Path(path).is_file():
        raise IngestError(f"{track} recording {path} does not exist")
    try:
        check_timeline(Path(path), recording_limits(settings.chunk_seconds), Path(path).name)
        return probe(Path(path))
    except VideoError as exc:
        raise IngestError(f"{track} recording rejected: {exc}") from exc


def media_chunk_row(
    session_id: str,
    institution_id: str,
    chunk: StoredChunk,
    measured: VideoInfo,
    gap_before_ms: int,
    ingested_at: dt.datetime,
) -> dict:
    """The ``media_chunks`` row of a stored chunk, with what was measured on its source."""
    return {
        "session_id": session_id,
        "institution_id": institution_id,
        "track": chunk.track,
        "chunk_index": chunk.chunk_index,
        "chunk_start_ms": chunk.chunk_start_ms,
        "chunk_end_ms": chunk.chunk_end_ms,
        "original_key": chunk.original_key,
        "analysis_key": chunk.analysis_key,
        "width": measured.width,
        "height": measured.height,
        "fps": measured.fps,
        "bitrate_bps": measured.bitrate_bps,
        "frame_count": chunk.frame_count,
        "gap_before_ms": max(0, gap_before_ms),
        "ingested_at": ingested_at,
        "session_date": ingested_at.date().isoformat(),
    }


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
    fps = analysis_fps(track, info.fps)
    chunks: list[StoredChunk] = []
    rows: list[dict] = []
    now = dt.datetime.now(dt.UTC)
    previous_end_ms = 0
    with session_scratch(settings, "ingest", identity.session_id) as tmp:
        for piece in transcode_to_cfr_chunks(source, tmp, fps, settings.chunk_seconds):
            start_ms = round(piece.start_s * 1000)
            end_ms = round(piece.end_s * 1000)
            analysis_key = chunk_key(identity.session_id, track, start_ms, "mp4")
            store.put_file(analysis_key, piece.path)
            chunk = StoredChunk(
                track, piece.index, start_ms, end_ms, analysis_key, original_key, piece.frame_count
            )
            chunks.append(chunk)
            rows.append(
                media_chunk_row(
                    identity.session_id,
                    identity.institution_id,
                    chunk,
                    info,
                    start_ms - previous_end_ms,
                    now,
                )
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
    infos = {track: _probe_or_reject(settings, track, path) for track, path in tracks.items()}
    lake.ensure_all_tables(settings)
    if erased_sessions.is_erased(settings, identity.session_id):
        raise IngestError(f"session id {identity.session_id} was erased; it cannot be reused")
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
    with erased_sessions.admitted_session(settings, identity.session_id):
        update_manifest(settings, identity.session_id, lambda _current: manifest)
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
    record_session_quality(settings, identity.session_id)
    tag_session_objects(settings, identity.session_id, identity.institution_id, held=False)
    return manifest


def ingest_uploaded_segments(
    settings: Settings, session_id: str, progress: Callable[[str], None] = lambda _msg: None
) -> int:
    """Transcode a realtime session's uploaded WebM segments and register them as chunks.

    The exam client uploads self-contained WebM segments (listed in the session manifest);
    each becomes one CFR H.264 chunk beside its original. Idempotent: segments that already
    have an analysis copy are skipped, rows are merged by (session, track, start). A segment
    that cannot be decoded is named in the error and nothing of it is registered.
    Returns how many segments were transcoded now.
    """
    store = open_object_store(settings)
    try:
        manifest = json.loads(store.get_bytes(manifest_key(session_id)))
    except ObjectNotFound as exc:
        raise IngestError(f"session {session_id} has no uploaded recording") from exc
    pending = [c for c in manifest["chunks"] if not c.get("analysis_key")]
    limits = segment_limits(settings.chunk_seconds)
    rows = []
    transcoded: dict[str, str] = {}  # original key -> analysis key
    now = dt.datetime.now(dt.UTC)
    with session_scratch(settings, "segments", session_id) as tmp:
        for entry in pending:
            track = entry["track"]
            source = store.download(entry["original_key"], tmp / "segment.webm")
            try:
                check_timeline(source, limits, "its timeline")
            except VideoError as exc:
                raise IngestError(
                    f"segment {entry['original_key']} is refused before transcoding: {exc}"
                ) from exc
            try:
                measured = probe(source)
                fps = analysis_fps(track, measured.fps)
                pieces = transcode_to_cfr_chunks(source, tmp, fps, 10**9)
            except VideoError as exc:
                raise IngestError(f"segment {entry['original_key']} is unreadable: {exc}") from exc
            analysis_key = chunk_key(session_id, track, entry["chunk_start_ms"], "mp4")
            with erased_sessions.admitted_session(settings, session_id):
                store.put_file(analysis_key, pieces[0].path)
            chunk = StoredChunk(
                track,
                entry["chunk_index"],
                entry["chunk_start_ms"],
                entry["chunk_end_ms"],
                analysis_key,
                entry["original_key"],
                pieces[0].frame_count,
            )
            rows.append(
                media_chunk_row(
                    session_id,
                    manifest["institution_id"],
                    chunk,
                    measured,
                    entry.get("gap_before_ms", 0),
                    now,
                )
            )
            transcoded[entry["original_key"]] = analysis_key
            progress(f"{track}: segment at {entry['chunk_start_ms']} ms transcoded")
    if rows:
        with erased_sessions.admitted_session(settings, session_id):
            lake.merge_rows(
                settings, schemas.MEDIA_CHUNKS, rows, ["session_id", "track", "chunk_start_ms"]
            )
            update_manifest(settings, session_id, lambda m: _with_analysis_keys(m, transcoded))
            record_session_quality(settings, session_id)
        tag_session_objects(settings, session_id, manifest["institution_id"], held=False)
    return len(rows)


def _with_analysis_keys(manifest: dict | None, transcoded: dict[str, str]) -> dict:
    """The manifest as stored now (other writers may have added segments) with the analysis
    copies just made."""
    if manifest is None:
        raise IngestError("the session's manifest disappeared while its segments were transcoded")
    for entry in manifest["chunks"]:
        if entry["original_key"] in transcoded:
            entry["analysis_key"] = transcoded[entry["original_key"]]
    return manifest
