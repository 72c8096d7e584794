"""Recordings on the review page: which chunk holds a moment, and frames as thumbnails.

Thumbnails and (for S3) downloaded chunks are cached under
``PROCTORLAKE_HOME/cache/{thumbnails,video}/{session_id}/`` so erasure finds them per session.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from PIL import Image

from proctorlake.core.settings import Settings
from proctorlake.governance import erased_sessions
from proctorlake.storage.object_store import LocalObjectStore, ObjectNotFound, open_object_store
from proctorlake.storage.private_files import PARTIAL_SUFFIX, make_private_dirs, write_private_file
from proctorlake.storage.video import VideoError, iter_decoded_frames

THUMBNAIL_WIDTH = 320


@dataclass(frozen=True)
class ChunkMoment:
    """A moment of the session as a position inside one stored chunk."""

    analysis_key: str
    chunk_start_s: float
    offset_s: float  # seconds from the chunk's start


def locate(chunks: pd.DataFrame, session_s: float) -> ChunkMoment | None:
    """The chunk (rows of ``queries.session_chunks``) that holds ``session_s``, if any."""
    for chunk in chunks.itertuples():
        start_s, end_s = chunk.chunk_start_ms / 1000, chunk.chunk_end_ms / 1000
        if start_s <= session_s < end_s:
            return ChunkMoment(chunk.analysis_key, start_s, session_s - start_s)
    return None


def frame_times(
    frame_timestamps: Sequence[float] | None, start_s: float, end_s: float, most: int = 6
) -> list[float]:
    """Up to ``most`` evenly spread moments of an incident, its own frame times preferred."""
    times = sorted(frame_timestamps) if frame_timestamps is not None else []
    if not times:
        times = [float(t) for t in range(int(start_s), int(end_s) + 1)] or [start_s]
    if len(times) <= most:
        return times
    step = (len(times) - 1) / (most - 1)
    return [times[round(i * step)] for i in range(most)]


def local_video(settings: Settings, session_id: str, key: str) -> Path | None:
    """A readable local path to a stored chunk (None when it is gone, e.g. erased)."""
    store = open_object_store(settings)
    if isinstance(store, LocalObjectStore):
        path = store.local_path(key)
        return path if path.is_file() else None
    target = settings.home / "cache" / "video" / session_id / Path(key).name
    if not target.exists():
        with erased_sessions.admitted_session(settings, session_id):
            make_private_dirs(target.parent)
            partial = target.with_name(f".{target.name}.{os.getpid()}{PARTIAL_SUFFIX}")
            try:
                store.download(key, partial)
            except ObjectNotFound:
                return None
            os.chmod(partial, 0o600)
            partial.replace(target)
    return target


def thumbnails(
    settings: Settings, session_id: str, chunks: pd.DataFrame, times_s: Sequence[float]
) -> list[tuple[float, Path]]:
    """(session second, JPEG path) for each moment whose chunk is still stored."""
    cache = settings.home / "cache" / "thumbnails" / session_id
    found: list[tuple[float, Path]] = []
    wanted: dict[str, list[tuple[float, ChunkMoment]]] = {}
    for t in times_s:
        path = cache / f"{round(t * 1000):012d}.jpg"
        if path.exists():
            found.append((t, path))
        elif (moment := locate(chunks, t)) is not None:
            wanted.setdefault(moment.analysis_key, []).append((t, moment))
    for key, moments in wanted.items():
        video = local_video(settings, session_id, key)
        if video is not None:
            with erased_sessions.admitted_session(settings, session_id):
                found.extend(_extract(video, moments, cache))
    return sorted(found)


def _extract(
    video: Path, moments: list[tuple[float, ChunkMoment]], cache: Path
) -> list[tuple[float, Path]]:
    """Decode the chunk once and save the first frame at or after each moment."""
    pending = sorted(moments, key=lambda m: m[1].offset_s)
    saved: list[tuple[float, Path]] = []
    make_private_dirs(cache)
    first, last = pending[0][1].offset_s, pending[-1][1].offset_s
    try:
        for t, image in iter_decoded_frames(video, start_s=max(0.0, first - 0.5), end_s=last + 2):
            while pending and pending[0][1].offset_s <= t + 1e-3:
                session_s, _ = pending.pop(0)
                saved.append((session_s, _save_thumbnail(image, cache, session_s)))
            if not pending:
                break
    except VideoError:
        pass  # an unreadable chunk shows no frames; the page says so
    return saved


def _save_thumbnail(image, cache: Path, session_s: float) -> Path:
    picture = Image.fromarray(image)
    height = round(picture.height * THUMBNAIL_WIDTH / picture.width)
    path = cache / f"{round(session_s * 1000):012d}.jpg"
    encoded = io.BytesIO()
    picture.resize((THUMBNAIL_WIDTH, height)).save(encoded, format="JPEG", quality=85)
    write_private_file(path, encoded.getvalue(), durable=False)  # a face: owner-only; a cache
    return path
