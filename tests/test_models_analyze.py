"""analyze_recording on generated recordings, end to end (video files in, contract JSON out)."""

from __future__ import annotations

import json

import pytest

from proctorlake.app.cli import main
from proctorlake.app.evaluate import evaluate_dataset, format_report
from proctorlake.samples import demo_exam_script, make_webcam_recording
from proctorlake.samples.devset import build_dev_set
from proctorlake.samples.screen import demo_screen_segments, make_screen_recording
from proctorlake.services.analyze import analyze_recording
from proctorlake.storage.video import VideoError


@pytest.mark.slow
def test_demo_recording_gives_the_scripted_incidents_from_mp4_and_webm(tmp_path, settings):
    script = demo_exam_script(75.0, seed=0)
    mp4 = make_webcam_recording(tmp_path / "exam.mp4", script, seed=0, fps=5)
    screen = make_screen_recording(
        tmp_path / "screen.mp4", demo_screen_segments(75.0), seed=0, fps=1
    )
    result = analyze_recording(mp4.path, screen.path)
    assert result["video_seconds"] == pytest.approx(75.0, abs=0.5)
    got = [(f["type"], f["start_s"], f["end_s"]) for f in result["flags"]]
    types = [g[0] for g in got]
    assert sorted(types) == ["face_not_visible", "multiple_faces", "unauthorized_app"]
    by_type = {g[0]: g for g in got}
    assert (
        abs(by_type["multiple_faces"][1] - 20) <= 1.5
        and abs(by_type["multiple_faces"][2] - 35) <= 1.5
    )
    assert (
        abs(by_type["face_not_visible"][1] - 50) <= 1
        and abs(by_type["face_not_visible"][2] - 62) <= 1
    )
    assert 40 <= by_type["unauthorized_app"][1] <= 50  # ChatGPT opens at 40 s (10 s sampling)
    for flag in result["flags"]:
        assert set(flag) == {"type", "start_s", "end_s", "confidence", "severity"}

    webm = make_webcam_recording(tmp_path / "exam.webm", script, seed=0, fps=5, codec="libvpx")
    from_webm = analyze_recording(webm.path)
    assert [f["type"] for f in from_webm["flags"]] == ["multiple_faces", "face_not_visible"]


def test_a_file_that_is_not_a_video_gets_a_clear_error(tmp_path, settings):
    bad = tmp_path / "notes.mp4"
    bad.write_bytes(b"this is not a video")
    with pytest.raises(VideoError, match="notes.mp4"):
        analyze_recording(bad)


@pytest.mark.slow
def test_evaluate_scores_a_small_generated_dev_set(tmp_path, settings, capsys):
    build_dev_set(tmp_path / "dev", seed=5, clips=2, duration_s=40.0, screens=0, fps=5)
    report = evaluate_dataset(tmp_path / "dev")
    overall = report["overall"]
    assert overall["events"] >= 2 and overall["flags"] >= 1
    assert overall["recall"] >= 0.5
    assert set(report["fairness"]["by_face"]) == {"astronaut", "grace_hopper"}
    text = format_report(report)
    assert "overall" in text and "det.recall" in text

    cache = tmp_path / "cache"
    assert main(["evaluate", str(tmp_path / "dev"), "--json", "--cache", str(cache)]) == 0
    assert json.loads(capsys.readouterr().out)["overall"] == overall
    assert sorted(p.stem for p in cache.glob("*.json")) == sorted(
        c["name"] for c in report["clips"]
    )
    # scoring again reads the cache, not the videos
    for clip in (tmp_path / "dev").glob("*.mp4"):
        clip.write_bytes(b"gone")
    assert main(["evaluate", str(tmp_path / "dev"), "--json", "--cache", str(cache)]) == 0
    assert json.loads(capsys.readouterr().out)["overall"] == overall
