"""Seeded sample recordings built from real faces (demo, tests, benches, dev set)."""

from proctorlake.samples.webcam import (
    MIN_EVENT_S,
    RecordingTruth,
    Segment,
    TruthEvent,
    WebcamScript,
    demo_exam_script,
    make_webcam_recording,
    render_webcam_frames,
    script_truth,
)

__all__ = [
    "MIN_EVENT_S",
    "RecordingTruth",
    "Segment",
    "TruthEvent",
    "WebcamScript",
    "demo_exam_script",
    "make_webcam_recording",
    "render_webcam_frames",
    "script_truth",
]
