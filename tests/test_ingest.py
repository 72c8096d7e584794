"""Ingest: chunking and transcoding real-face recordings, and bad input that loses nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proctorlake.core.settings import Settings, load_settings
from proctorlake.samples.webcam import Segment, WebcamScript, make_webcam_recording
from proctorlake.services.ingest import IngestError, SessionIdentity, ingest_recording
from proctorlake.storage import lake
from proctorlake.storage.object_store import open_object_store
from proctorlake.storage.video import probe, sample_frames


@pytest.fixture(scope="module")
def browser_like_webm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 s of a real face as VP8 WebM, as MediaRecorder would upload it."""
    path = tmp_path_factory.mktemp("rec") / "webcam.webm"
    script = WebcamScript((Segment("present", 12.0),), "astronaut", "grace_hopper", 1)
    make_webcam_recording(path, script, seed=1, codec="libvpx")
    return path


def _identity(session_id: str = "sess-1") -> SessionIdentity:
    return SessionIdentity(session_id, "stu-1", "exam-1", "uni-a", "Ada Student", "ada@x.test")


def _store_snapshot(settings: Settings) -> dict[str, bytes]:
    store = open_object_store(settings)
    return {key: store.get_bytes(key) for key in store.list("sessions/")}


def test_ingest_chunks_transcodes_and_registers(
    browser_like_webm: Path, proctorlake_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROCTORLAKE_CHUNK_SECONDS", "5")
    settings = load_settings()
    manifest = ingest_recording(settings, _identity(), browser_like_webm)

    chunks = manifest["chunks"]
    assert [(c["chunk_start_ms"], c["chunk_end_ms"]) for c in chunks] == [
        (0, 5000),
        (5000, 10000),
        (10000, 12000),
    ]
    store = open_object_store(settings)
    assert store.exists("sessions/sess-1/webcam/000000000000.original.webm")
    second = store.local_path(chunks[1]["analysis_key"])
    info = probe(second)
    assert (info.codec, info.fps, info.width, info.height) == ("h264", 15.0, 640, 480)
    assert [round(t) for t, _ in sample_frames(second, offset_s=5.0)] == [5, 6, 7, 8, 9]
    assert json.loads(store.get_bytes("sessions/sess-1/manifest.json"))["session_id"] == "sess-1"

    rows = lake.read_table(settings, "media_chunks").to_pylist()
    assert len(rows) == 3 and {r["gap_before_ms"] for r in rows} == {0}
    session = lake.read_table(settings, "exam_sessions").to_pylist()
    assert [(s["session_id"], s["student_id"], s["status"]) for s in session] == [
        ("sess-1", "stu-1", "ended")
    ]


def test_a_low_frame_rate_source_is_stored_at_its_own_rate(
    settings: Settings, tmp_path: Path
) -> None:
    """A 5 fps webcam is not padded to 15 fps; sampling still finds one frame per second."""
    webm = tmp_path / "slow.webm"
    script = WebcamScript((Segment("present", 6.0),), "astronaut", "grace_hopper", 1)
    make_webcam_recording(webm, script, seed=1, fps=5, codec="libvpx")
    manifest = ingest_recording(settings, _identity("slow-1"), webm)
    (chunk,) = manifest["chunks"]
    stored = open_object_store(settings).local_path(chunk["analysis_key"])
    info = probe(stored)
    assert (info.fps, info.frame_count) == (5.0, 30)
    assert [round(t) for t, _ in sample_frames(stored)] == [0, 1, 2, 3, 4, 5]


def test_second_ingest_of_a_session_is_refused_and_keeps_the_first(
    settings: Settings, browser_like_webm: Path
) -> None:
    ingest_recording(settings, _identity(), browser_like_webm)
    before = _store_snapshot(settings)
    with pytest.raises(IngestError, match="already ingested"):
        ingest_recording(settings, _identity(), browser_like_webm)
    assert _store_snapshot(settings) == before
    assert lake.read_table(settings, "media_chunks").num_rows == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.webm", b"", "empty"),
        ("notes.webm", b"these are not video bytes " * 100, "not a readable video"),
    ],
)
def test_bad_files_are_rejected_and_nothing_is_lost(
    settings: Settings,
    browser_like_webm: Path,
    tmp_path: Path,
    name: str,
    content: bytes,
    message: str,
) -> None:
    ingest_recording(settings, _identity("kept"), browser_like_webm)
    before = _store_snapshot(settings)
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(IngestError, match=message):
        ingest_recording(settings, _identity("sess-bad"), bad)
    assert _store_snapshot(settings) == before
    assert {r["session_id"] for r in lake.read_table(settings, "media_chunks").to_pylist()} == {
        "kept"
    }


def test_truncated_recording_is_rejected(
    settings: Settings, browser_like_webm: Path, tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated.webm"
    truncated.write_bytes(browser_like_webm.read_bytes()[:400])
    with pytest.raises(IngestError):
        ingest_recording(settings, _identity("sess-trunc"), truncated)
    assert list(open_object_store(settings).list("sessions/")) == []


def test_malformed_ids_and_missing_files_are_clear_errors(
    settings: Settings, browser_like_webm: Path, tmp_path: Path
) -> None:
    with pytest.raises(IngestError, match="session_id"):
        ingest_recording(settings, _identity("../../etc"), browser_like_webm)
    with pytest.raises(IngestError, match="does not exist"):
        ingest_recording(settings, _identity("sess-x"), tmp_path / "missing.webm")
