"""The 720p / 15 fps floor on real recordings through the real ingest (real-face frames)."""

from __future__ import annotations

from pathlib import Path

import av  # noqa: F401  (before anything that may import decord)
import pytest

from proctorlake.core.settings import Settings
from proctorlake.samples import Segment, WebcamScript, make_webcam_recording
from proctorlake.services.ingest import SessionIdentity, ingest_recording
from proctorlake.services.recording_quality import (
    SEED_FLOOR,
    chunk_issues,
    record_session_quality,
    sessions_below_floor,
)
from proctorlake.storage import lake

SCRIPT = WebcamScript((Segment("present", 2.0),), "astronaut")


def _ingest(settings: Settings, tmp_path: Path, session_id: str, size, fps, codec="libx264"):
    ext = "webm" if codec == "libvpx" else "mp4"
    video = tmp_path / f"{session_id}.{ext}"
    make_webcam_recording(video, SCRIPT, seed=3, fps=fps, size=size, codec=codec)
    ingest_recording(
        settings, SessionIdentity(session_id, "stu-1", "exam-1", "uni-q"), webcam=video
    )


def _quality_rows(settings: Settings) -> dict[str, dict]:
    rows = lake.read_table(settings, "recording_quality").to_pylist()
    return {r["session_id"]: r for r in rows}


def test_ingest_flags_sessions_below_720p_or_15fps_and_not_those_above(
    settings: Settings, tmp_path: Path
) -> None:
    _ingest(settings, tmp_path, "hd-15", (1280, 720), 15)
    _ingest(settings, tmp_path, "vga-15", (640, 480), 15)
    _ingest(settings, tmp_path, "hd-10", (1280, 720), 10)
    _ingest(settings, tmp_path, "fhd-20-webm", (1920, 1080), 20, codec="libvpx")

    rows = _quality_rows(settings)
    assert set(rows) == {"hd-15", "vga-15", "hd-10", "fhd-20-webm"}
    assert rows["hd-15"]["below_floor"] is False
    assert rows["hd-15"]["issues"] is None
    assert (rows["hd-15"]["min_width"], rows["hd-15"]["min_height"]) == (1280, 720)
    assert rows["hd-15"]["min_fps"] == pytest.approx(15, abs=0.01)
    assert rows["hd-15"]["mean_bitrate_bps"] > 0
    assert rows["fhd-20-webm"]["below_floor"] is False

    assert rows["vga-15"]["below_floor"] is True
    assert "resolution 640x480" in rows["vga-15"]["issues"]
    assert "frame rate" not in rows["vga-15"]["issues"]

    assert rows["hd-10"]["below_floor"] is True
    assert "frame rate 10 < 15 fps" in rows["hd-10"]["issues"]
    assert "resolution" not in rows["hd-10"]["issues"]

    assert {r["floor"] for r in rows.values()} == {SEED_FLOOR.label()}
    flagged = {r["session_id"] for r in sessions_below_floor(settings)}
    assert flagged == {"vga-15", "hd-10"}
    # Visible to auditors through the analysts' SQL views, next to the measured chunks.
    listed = (
        lake.duckdb_connection(settings)
        .execute(
            "select q.session_id from recording_quality q join media_chunks m "
            "using (session_id, track) where q.below_floor group by 1 order by 1"
        )
        .fetchall()
    )
    assert [r[0] for r in listed] == ["hd-10", "vga-15"]


def test_reassessing_a_session_replaces_its_row(settings: Settings, tmp_path: Path) -> None:
    _ingest(settings, tmp_path, "again", (640, 360), 15)
    first = record_session_quality(settings, "again")
    second = record_session_quality(settings, "again")
    assert first == second
    assert len(lake.read_table(settings, "recording_quality")) == 1


def _chunk(width, height, fps):
    return {"width": width, "height": height, "fps": fps}


def test_floor_edges() -> None:
    assert chunk_issues(_chunk(1280, 720, 15.0)) == []
    assert chunk_issues(_chunk(720, 1280, 15.0)) == []  # a portrait camera is 720p too
    assert chunk_issues(_chunk(1280, 720, 14.8)) == []  # browser timestamp jitter
    assert chunk_issues(_chunk(1280, 719, 15.0)) == ["resolution 1280x719 < 1280x720"]
    assert chunk_issues(_chunk(960, 720, 15.0)) == ["resolution 960x720 < 1280x720"]
    assert chunk_issues(_chunk(1280, 720, 12.0)) == ["frame rate 12 < 15 fps"]
    assert chunk_issues(_chunk(None, None, None)) == ["not measured"]
