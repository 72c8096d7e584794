"""Sample recordings: real faces, seeded, with honest ground truth, in MP4 and browser WebM."""

from __future__ import annotations

import numpy as np

from proctorlake.samples import (
    Segment,
    WebcamScript,
    demo_exam_script,
    make_webcam_recording,
    render_webcam_frames,
    script_truth,
)
from proctorlake.samples.faces import FACE_NAMES, head_sprite
from proctorlake.samples.screen import ScreenSegment, make_screen_recording, screen_truth
from proctorlake.storage.video import probe


def test_demo_script_truth_has_the_two_scripted_incidents_and_no_hard_negatives():
    truth = script_truth(demo_exam_script(90.0, seed=0))
    assert [(e.type, e.start_s, e.end_s) for e in truth] == [
        ("multiple_faces", 20.0, 35.0),
        ("face_not_visible", 50.0, 62.0),
    ]


def test_short_segments_are_not_events_and_adjacent_ones_merge():
    script = WebcamScript(
        (
            Segment("present", 5),
            Segment("dropout", 2),
            Segment("present", 5),
            Segment("absent", 2),
            Segment("absent", 2),
            Segment("glance", 1.5, yaw_deg=50),
        )
    )
    assert [(e.type, e.start_s, e.end_s) for e in script_truth(script)] == [
        ("face_not_visible", 12.0, 16.0)
    ]


def test_every_listed_face_is_a_real_detectable_photo():
    for name in FACE_NAMES:
        sprite = head_sprite(name)
        x, y, w, h = sprite.face_box
        assert sprite.rgb.dtype == np.uint8 and w >= 80
        assert sprite.alpha[y + h // 2, x + w // 2] > 0.9


def test_rendering_is_deterministic_per_seed_and_differs_across_seeds():
    script = WebcamScript((Segment("present", 2.0),))
    a = list(render_webcam_frames(script, seed=3, fps=2))
    b = list(render_webcam_frames(script, seed=3, fps=2))
    c = list(render_webcam_frames(script, seed=4, fps=2))
    assert len(a) == 4 and a[0].shape == (480, 640, 3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_writes_h264_mp4_and_browser_like_vp8_webm(tmp_path):
    script = WebcamScript((Segment("present", 2.0), Segment("absent", 2.0)))
    mp4 = make_webcam_recording(tmp_path / "a.mp4", script, seed=1, fps=5)
    webm = make_webcam_recording(tmp_path / "a.webm", script, seed=1, fps=5, codec="libvpx")
    assert probe(mp4.path).codec == "h264" and probe(webm.path).codec == "vp8"
    assert abs(probe(mp4.path).duration_s - 4.0) < 0.25
    assert mp4.events == ()  # a 2 s absence is below the 3 s event length


def test_screen_recording_truth_marks_banned_windows_only(tmp_path):
    segments = (
        ScreenSegment(4.0, "exam"),
        ScreenSegment(4.0, "news", "exam"),
        ScreenSegment(5.0, "discord", "exam"),
        ScreenSegment(3.0, "calculator", "exam"),
    )
    assert [(e.type, e.start_s, e.end_s) for e in screen_truth(segments)] == [
        ("unauthorized_app", 8.0, 13.0)
    ]
    truth = make_screen_recording(tmp_path / "s.mp4", segments, seed=0, fps=1)
    info = probe(truth.path)
    assert (info.width, info.height) == (1280, 720) and abs(info.duration_s - 16) < 1.1
