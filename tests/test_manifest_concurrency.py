"""Security review #13: manifest writes are atomic and safe across processes.

Several processes (as several API workers would) store segments of one session at once
through the real ``RecordingUploads`` while another process keeps reading the manifest: no
entry is lost and every read is a whole, valid JSON document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np

from proctorlake.core.settings import load_settings
from proctorlake.storage.object_store import manifest_key, open_object_store
from proctorlake.storage.video import write_video
from proctorlake.storage.video_timeline import segment_limits
from realtime.api.recording_upload import RecordingUploads
from realtime.api.request_body import SpooledUpload
from realtime.api.session_registry import ExamSession

WRITERS = 4
SEGMENTS_EACH = 12
SESSION_ID = "s-manifest-race"


def _session() -> ExamSession:
    return ExamSession(
        SESSION_ID, "inst-a", "stu-1", "exam-1", "ai_human", "active", dt.datetime.now(dt.UTC)
    )


def _write_segments(home: str, writer: int, segment: bytes, start: mp.Event) -> None:
    os.environ["PROCTORLAKE_HOME"] = home
    settings = load_settings()
    uploads = RecordingUploads(
        settings,
        open_object_store(settings),
        segment_limits(settings.chunk_seconds),
        settings.session_chunk_quota_bytes,
    )
    spooled = Path(home) / f"segment-{writer}.webm"
    spooled.write_bytes(segment)
    upload = SpooledUpload(spooled, len(segment), hashlib.sha256(segment).hexdigest(), segment[:16])
    start.wait()
    for i in range(SEGMENTS_EACH):
        begin = (writer * SEGMENTS_EACH + i) * 1000
        uploads.store_segment(_session(), "webcam", begin, begin + 1000, upload)


def _read_until(path: str, stop: mp.Event, result: mp.Queue) -> None:
    reads = invalid = 0
    while not stop.is_set():
        try:
            text = Path(path).read_bytes()
        except FileNotFoundError:
            continue
        reads += 1
        try:
            json.loads(text)
        except ValueError:
            invalid += 1
    result.put((reads, invalid))


def test_manifest_appends_from_several_processes_lose_nothing_and_stay_valid(
    proctorlake_home: Path,
) -> None:
    settings = load_settings()
    path = settings.objects_root / manifest_key(SESSION_ID)
    frames = (np.full((48, 64, 3), v, np.uint8) for v in range(0, 250, 50))
    segment = write_video(proctorlake_home / "seg.webm", frames, 5, codec="libvpx").read_bytes()
    ctx = mp.get_context("spawn")
    start, stop, result = ctx.Event(), ctx.Event(), ctx.Queue()
    writers = [
        ctx.Process(target=_write_segments, args=(str(proctorlake_home), w, segment, start))
        for w in range(WRITERS)
    ]
    reader = ctx.Process(target=_read_until, args=(str(path), stop, result))
    for process in (*writers, reader):
        process.start()
    start.set()
    for process in writers:
        process.join(timeout=120)
        assert process.exitcode == 0
    stop.set()
    reads, invalid = result.get(timeout=30)
    reader.join(timeout=30)

    manifest = json.loads(path.read_bytes())
    starts = [c["chunk_start_ms"] for c in manifest["chunks"]]
    assert sorted(starts) == [i * 1000 for i in range(WRITERS * SEGMENTS_EACH)]
    assert [c["chunk_index"] for c in manifest["chunks"]] == list(range(WRITERS * SEGMENTS_EACH))
    assert reads > 0 and invalid == 0
    store = open_object_store(settings)
    assert len(list(store.list(f"sessions/{SESSION_ID}/webcam/"))) == WRITERS * SEGMENTS_EACH
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".partial")]
