"""Face detection and counting with MediaPipe's BlazeFace (short range) on torch, batched.

BlazeFace replaces dlib's HOG frontal detector: it keeps finding faces with glasses, in dim
light and turned to about 3/4 profile, gives six keypoints the mesh crop is aligned with,
and runs batched on ``PROCTORLAKE_TORCH_DEVICE``. The network is loaded once per process
(``models.face_mesh.face_mesh_models``); see models/README.md for the choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.face_mesh import MIN_DETECTION_SCORE, FaceCandidate, face_mesh_models

SCORE_THRESHOLD = MIN_DETECTION_SCORE
"""Minimum BlazeFace probability for a face (MediaPipe's own 0.5). On the dev sets it finds
every frontal and turned face without a false second face (models/README.md)."""


@dataclass(frozen=True)
class FaceBox:
    """A detected face in the caller's frame coordinates, with its detector score."""

    x: int
    y: int
    w: int
    h: int
    score: float


@dataclass(frozen=True)
class FaceDetection:
    faces: tuple[FaceBox, ...]

    @property
    def count(self) -> int:
        return len(self.faces)


def face_box(candidate: FaceCandidate) -> FaceBox:
    """A BlazeFace detection as an integer pixel box."""
    return FaceBox(
        round(candidate.x),
        round(candidate.y),
        round(candidate.w),
        round(candidate.h),
        float(candidate.score),
    )


def detect_faces(
    frames: Sequence[np.ndarray], score_threshold: float = SCORE_THRESHOLD
) -> list[FaceDetection]:
    """Faces in each RGB (or grayscale) frame, strongest first; one result per frame."""
    found = face_mesh_models().detect(frames, score_threshold)
    return [FaceDetection(tuple(face_box(c) for c in faces)) for faces in found]


def count_faces(frame: np.ndarray, score_threshold: float = SCORE_THRESHOLD) -> int:
    """Faces in one frame (a batch of one)."""
    return detect_faces([frame], score_threshold)[0].count
