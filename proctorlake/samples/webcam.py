"""Seeded webcam-like exam recordings built from real faces, with their ground truth.

A :class:`WebcamScript` is a list of timed segments (present, absent, second person, head
turned away, brief glance, brief dropout) plus the faces and the room. Rendering adds what
real webcams show: camera drift, the person swaying, light changes (gamma), sensor noise.
The truth lists only events of at least :data:`MIN_EVENT_S` seconds, as the evaluation
contract says; glances and dropouts are hard negatives and never events.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from proctorlake.samples.scene import Camera, draw_person, room_background
from proctorlake.storage.video import write_video

MIN_EVENT_S = 3.0
"""Events shorter than this do not exist (issue 3's labelling contract)."""

SEGMENT_KINDS = ("present", "absent", "second_person", "turned", "glance", "dropout")
EVENT_OF_KIND = {
    "absent": "face_not_visible",
    "dropout": "face_not_visible",
    "second_person": "multiple_faces",
    "turned": "gaze_away",
    "glance": "gaze_away",
}


@dataclass(frozen=True)
class Segment:
    """``duration_s`` of one situation. ``gamma`` > 1 darkens (2.2 = dim room);
    ``yaw_deg`` is the head turn for ``turned``/``glance`` (sign = direction)."""

    kind: str
    duration_s: float
    gamma: float = 1.0
    yaw_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in SEGMENT_KINDS:
            raise ValueError(f"unknown segment kind {self.kind!r}; one of {SEGMENT_KINDS}")
        if self.duration_s <= 0:
            raise ValueError("segment duration must be positive")


@dataclass(frozen=True)
class WebcamScript:
    segments: tuple[Segment, ...]
    face: str = "astronaut"
    second_face: str = "grace_hopper"
    background_seed: int = 0
    face_scale: float = 1.0  # 1.0: face ~22% of the frame width (close to a laptop camera)

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.segments)


@dataclass(frozen=True)
class TruthEvent:
    type: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class RecordingTruth:
    """What really happens in a generated recording."""

    path: Path
    duration_s: float
    fps: int
    size: tuple[int, int]
    face: str
    second_face: str
    events: tuple[TruthEvent, ...] = field(default_factory=tuple)

    def events_as_dicts(self) -> list[dict]:
        return [asdict(e) for e in self.events]


def script_truth(script: WebcamScript) -> tuple[TruthEvent, ...]:
    """Ground-truth events of a script: same-type segments merge; short ones are dropped."""
    spans: list[list] = []
    t = 0.0
    for seg in script.segments:
        kind = EVENT_OF_KIND.get(seg.kind)
        if kind is not None and spans and spans[-1][0] == kind and spans[-1][2] == t:
            spans[-1][2] = t + seg.duration_s
        elif kind is not None:
            spans.append([kind, t, t + seg.duration_s])
        t += seg.duration_s
    return tuple(
        TruthEvent(k, round(a, 3), round(b, 3)) for k, a, b in spans if b - a >= MIN_EVENT_S
    )


def _segment_at(script: WebcamScript, t: float) -> tuple[Segment, float, Segment | None]:
    """The segment playing at t, seconds since it began, and the segment before it."""
    start = 0.0
    previous = None
    for seg in script.segments:
        if t < start + seg.duration_s:
            return seg, t - start, previous
        start += seg.duration_s
        previous = seg
    return script.segments[-1], script.segments[-1].duration_s, previous


def render_webcam_frames(
    script: WebcamScript, seed: int, fps: int = 15, size: tuple[int, int] = (640, 480)
) -> Iterator[np.ndarray]:
    """Yield RGB frames of the script (deterministic for a given seed)."""
    rng = np.random.default_rng(seed)
    width, height = size
    margin = max(8, width // 25)
    room = room_background(width + 2 * margin, height + 2 * margin, script.background_seed)
    face_width = int(width * 0.22 * script.face_scale)
    second_width = int(width * 0.17 * script.face_scale)
    shirt = tuple(int(c) for c in rng.integers(20, 200, size=3))
    second_shirt = tuple(int(c) for c in rng.integers(20, 200, size=3))
    second_side = 1 if rng.random() < 0.5 else -1
    phase = rng.uniform(0, 2 * math.pi, size=4)
    camera = Camera(width, height, rng)
    frames = round(script.duration_s * fps)
    for i in range(frames):
        t = i / fps
        seg, into, previous = _segment_at(script, t)
        # Camera drift and the person's sway: slow, smooth, seeded.
        dx = int(margin + 0.6 * margin * math.sin(2 * math.pi * t / 17 + phase[0]))
        dy = int(margin + 0.4 * margin * math.sin(2 * math.pi * t / 23 + phase[1]))
        canvas = np.ascontiguousarray(room[dy : dy + height, dx : dx + width])
        sway = int(0.012 * width * math.sin(2 * math.pi * t / 7 + phase[2]))
        cx, cy = width // 2 + sway + (margin - dx), int(height * 0.42) + (margin - dy)
        if seg.kind == "second_person":
            slide = min(1.0, into / 0.6)
            base = width // 2 + second_side * int(width * 0.33)
            offscreen = width // 2 + second_side * int(width * 0.75)
            sx = int(offscreen + (base - offscreen) * slide) + (margin - dx)
            draw_person(
                canvas,
                script.second_face,
                sx,
                cy - int(0.04 * height),
                second_width,
                0,
                second_shirt,
            )
        if seg.kind not in ("absent", "dropout"):
            yaw = 6.0 * math.sin(2 * math.pi * t / 5.3 + phase[3])
            if seg.kind in ("turned", "glance"):
                yaw = seg.yaw_deg * min(1.0, into / 0.3)
            draw_person(canvas, script.face, cx, cy, face_width, int(round(yaw)), shirt)
        gamma = seg.gamma
        if previous is not None and into < 1.0:
            gamma = previous.gamma + (seg.gamma - previous.gamma) * into
        gain = 1.0 + 0.04 * math.sin(2 * math.pi * t / 11)
        noise = 2.0 + 3.0 * (gamma - 1.0)
        yield camera.expose(canvas, gamma, gain, noise)


def make_webcam_recording(
    path: Path,
    script: WebcamScript,
    seed: int,
    fps: int = 15,
    size: tuple[int, int] = (640, 480),
    codec: str = "libx264",
) -> RecordingTruth:
    """Render and encode a script (H.264 MP4, or VP8 WebM with codec='libvpx')."""
    write_video(Path(path), render_webcam_frames(script, seed, fps, size), fps, codec=codec)
    return RecordingTruth(
        Path(path),
        round(round(script.duration_s * fps) / fps, 3),
        fps,
        size,
        script.face,
        script.second_face,
        script_truth(script),
    )


def demo_exam_script(duration_s: float = 90.0, seed: int = 0) -> WebcamScript:
    """The spine demo's exam: a second person 20-35 s, the student away 50-62 s, plus a brief
    glance (~42 s) and a 1.5 s dropout (~72 s) that must NOT become incidents."""
    if duration_s < 70:
        raise ValueError("the demo script needs at least 70 seconds")
    rng = np.random.default_rng(seed)
    side = 1 if rng.random() < 0.5 else -1
    segments = (
        Segment("present", 20.0),
        Segment("second_person", 15.0),
        Segment("present", 7.0),
        Segment("glance", 1.5, yaw_deg=side * 55.0),
        Segment("present", 6.5),
        Segment("absent", 12.0),
        Segment("present", 10.0),
        Segment("dropout", 1.5),
        Segment("present", duration_s - 73.5),
    )
    return WebcamScript(segments, "astronaut", "grace_hopper", background_seed=seed)


def write_y4m(path: Path, frames: Iterable[np.ndarray], fps: int) -> Path:
    """RGB frames as a raw 4:2:0 y4m file: what Chromium's fake camera plays
    (``--use-file-for-fake-video-capture``), so a browser publishes a scripted exam."""
    import cv2

    with open(path, "wb") as out:
        for index, rgb in enumerate(frames):
            if index == 0:
                height, width = rgb.shape[:2]
                out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path
