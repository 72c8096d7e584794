"""The recording quality floor: did what arrived reach 1280x720 at 15 fps?

The exam client asks the browser for at least 1280x720 at 15 fps, but a browser may deliver
less (a weak camera, a throttled tab, a narrow window shared). Ingest measures every chunk
(``media_chunks``: width, height, frame rate, bitrate, gap before it); this module compares
a session's chunks with the floor and writes one ``recording_quality`` row per session and
track. A session below the floor is flagged for auditors; it never fails the exam.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from proctorlake.core import schemas
from proctorlake.core.settings import Settings
from proctorlake.storage import lake


@dataclass(frozen=True)
class QualityFloor:
    """The seed's floor. The frame-rate tolerance absorbs the jitter of browser timestamps:
    a 15 fps MediaRecorder stream measures 14.6-15.0 fps over a segment (probe counts frames
    over the span of their timestamps), while a camera that really delivers less sits at 10,
    12 or 7.5 fps."""

    min_width: int = 1280
    min_height: int = 720
    min_fps: float = 15.0
    fps_tolerance: float = 0.5

    def label(self) -> str:
        return f"{self.min_width}x{self.min_height}@{self.min_fps:g}fps"


SEED_FLOOR = QualityFloor()


@dataclass(frozen=True)
class TrackQuality:
    session_id: str
    institution_id: str
    track: str
    chunk_count: int
    min_width: int | None
    min_height: int | None
    min_fps: float | None
    mean_bitrate_bps: int | None
    total_gap_ms: int
    max_gap_ms: int
    issues: tuple[str, ...]

    @property
    def below_floor(self) -> bool:
        return bool(self.issues)


def chunk_issues(chunk: dict, floor: QualityFloor = SEED_FLOOR) -> list[str]:
    """Why one measured chunk is below the floor (empty when it is not).

    Resolution is checked on the long and short side, so a portrait camera delivering
    720x1280 counts as 720p. A chunk with no measurement counts as below the floor: a
    recording nobody could measure cannot be shown to meet it.
    """
    width, height, fps = chunk.get("width"), chunk.get("height"), chunk.get("fps")
    if not width or not height or fps is None:
        return ["not measured"]
    issues = []
    long_side, short_side = max(width, height), min(width, height)
    if short_side < floor.min_height or long_side < floor.min_width:
        issues.append(f"resolution {width}x{height} < {floor.min_width}x{floor.min_height}")
    if fps < floor.min_fps - floor.fps_tolerance:
        issues.append(f"frame rate {fps:g} < {floor.min_fps:g} fps")
    return issues


def assess_track(chunks: Sequence[dict], floor: QualityFloor = SEED_FLOOR) -> TrackQuality:
    """Summarise one session's chunks of one track (all must share session and track)."""
    if not chunks:
        raise ValueError("a track with no chunks cannot be assessed")
    first = chunks[0]
    issues: list[str] = []
    for chunk in sorted(chunks, key=lambda c: c["chunk_start_ms"]):
        for issue in chunk_issues(chunk, floor):
            if issue not in issues:
                issues.append(issue)
    measured = [c for c in chunks if c.get("width") and c.get("height")]
    rates = [c["fps"] for c in chunks if c.get("fps") is not None]
    weighted = [
        (c["bitrate_bps"], max(1, c["chunk_end_ms"] - c["chunk_start_ms"]))
        for c in chunks
        if c.get("bitrate_bps")
    ]
    gaps = [c.get("gap_before_ms") or 0 for c in chunks]
    return TrackQuality(
        session_id=first["session_id"],
        institution_id=first["institution_id"],
        track=first["track"],
        chunk_count=len(chunks),
        min_width=min((c["width"] for c in measured), default=None),
        min_height=min((c["height"] for c in measured), default=None),
        min_fps=min(rates) if rates else None,
        mean_bitrate_bps=(
            round(sum(b * d for b, d in weighted) / sum(d for _, d in weighted))
            if weighted
            else None
        ),
        total_gap_ms=sum(gaps),
        max_gap_ms=max(gaps),
        issues=tuple(issues),
    )


def quality_row(quality: TrackQuality, floor: QualityFloor, measured_at: dt.datetime) -> dict:
    return {
        "session_id": quality.session_id,
        "institution_id": quality.institution_id,
        "track": quality.track,
        "chunk_count": quality.chunk_count,
        "min_width": quality.min_width,
        "min_height": quality.min_height,
        "min_fps": quality.min_fps,
        "mean_bitrate_bps": quality.mean_bitrate_bps,
        "total_gap_ms": quality.total_gap_ms,
        "max_gap_ms": quality.max_gap_ms,
        "below_floor": quality.below_floor,
        "issues": "; ".join(quality.issues) or None,
        "floor": floor.label(),
        "measured_at": measured_at,
        "session_date": measured_at.date().isoformat(),
    }


def record_session_quality(
    settings: Settings, session_id: str, floor: QualityFloor = SEED_FLOOR
) -> list[TrackQuality]:
    """Assess a session's registered chunks and upsert its ``recording_quality`` rows.

    Ingest calls this after registering chunks; re-running it (more segments arrived)
    replaces the rows, so the flag always reflects every chunk stored so far.
    """
    table = lake.open_table(settings, schemas.MEDIA_CHUNKS.name)
    if table is None:
        return []
    rows = (
        table.to_pyarrow_dataset()
        .to_table(filter=pc.field("session_id").cast(pa.string()) == session_id)
        .to_pylist()
    )
    by_track: dict[str, list[dict]] = {}
    for row in rows:
        by_track.setdefault(row["track"], []).append(row)
    now = dt.datetime.now(dt.UTC)
    assessed = [assess_track(by_track[track], floor) for track in sorted(by_track)]
    lake.merge_rows(
        settings,
        schemas.RECORDING_QUALITY,
        [quality_row(q, floor, now) for q in assessed],
        ["session_id", "track"],
    )
    return assessed


def sessions_below_floor(settings: Settings) -> list[dict]:
    """Auditors' list: every session and track flagged below the floor."""
    rows = lake.read_table(settings, schemas.RECORDING_QUALITY.name).to_pylist()
    flagged = [r for r in rows if r["below_floor"]]
    return sorted(flagged, key=lambda r: (r["institution_id"], r["session_id"], r["track"]))
