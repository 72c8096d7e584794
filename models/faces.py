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

from models.face_mesh import FaceCandidate, face_mesh_models

SCORE_THRESHOLD = 0.65
"""BlazeFace probability from which a face is sure without the mesh's word. MediaPipe's own
bar is 0.5, but on a real clip re-encoded (a faceless building site after a camera pan)
BlazeFace scored clutter 0.53 (mesh presence 0.0), and that one false face broke the run of
empty seconds, so ``face_not_visible`` was missed. On the real set the lowest-scoring faces
were at 0.65 and 0.82, and every sure face had a mesh presence of 0.995-1.0. The dev set's
sure faces under 0.65 with a low presence (5 of 36) were heads turned 50-60 degrees: they now
count as no face, which the shoulders rule reads as turned away, as it reads a profile
BlazeFace cannot find."""
CANDIDATE_MIN_SCORE = 0.1
"""Below :data:`SCORE_THRESHOLD` and from this probability on, a candidate is a face only when
the face mesh confirms it (:data:`MIN_MESH_PRESENCE`). BlazeFace short range scores small or
blurred faces low: the dev set's 25 px second faces, scaled up, scored 0.12-0.47, so
``multiple_faces`` recall fell to 0.75 with the sure faces alone."""
LONE_CANDIDATE_MIN_SCORE = 0.25
"""With no sure face in the frame, a candidate needs this much as well as the mesh's word. On
a real clip a cartoon title scored 0.10 and the mesh took it for a face, which would hide the
candidate's absence (worse than missing a face). The dev sets' small dim faces that BlazeFace
drops under 0.5 scored 0.29-0.5 (mesh 1.0); empty rooms and splices scored up to 0.49 with the
mesh at 0.02 or less: without this rescue a small face in dim light (lfw_33 at 0.77x, gamma
1.8) dropped out for 3-5 s at a time and the rules read it as a head turned away."""
MIN_MESH_PRESENCE = 0.5
"""The face mesh's own face-presence probability on the candidate's crop from which it is a
face. Measured on candidates between 0.1 and 0.5 that do not overlap a sure face: the dev
set's real second faces 0.96-1.0 (a few turned ones 0.1-0.4), its other candidates at most
0.02, the real clips' (62 in 265 s, none a face) at most 0.12."""
ZOOM_TILE = 0.6
"""A frame with no face at all is looked at again in four overlapping tiles of this share of
each side (zoomed 1.7x): BlazeFace sees the whole frame at 128 px and loses a face under about
a tenth of the frame's width (a student sitting back: 44-57 px at 640x480 on real clips
shrunk into a larger frame), which the rules then read as an absence for whole minutes.
Only faceless frames pay for it (four detector passes)."""
MAX_OVERLAP = 0.2
"""A candidate covering more than this share of a kept face (or it of the candidate, by the
smaller box) is the same face again, not a second one."""


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


def _overlap(a: FaceCandidate, b: FaceCandidate) -> float:
    """Intersection of two boxes over the smaller one's area."""
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    return max(0.0, w) * max(0.0, h) / max(1e-6, min(a.w * a.h, b.w * b.h))


def _is_new(candidate: FaceCandidate, kept: list[FaceCandidate]) -> bool:
    return all(_overlap(candidate, face) <= MAX_OVERLAP for face in kept)


def _zoom_tiles(frame: np.ndarray) -> list[tuple[np.ndarray, int, int]]:
    """Four overlapping tiles (:data:`ZOOM_TILE` of each side) with their top-left corners."""
    height, width = frame.shape[:2]
    tile_w, tile_h = round(width * ZOOM_TILE), round(height * ZOOM_TILE)
    return [
        (frame[y : y + tile_h, x : x + tile_w], x, y)
        for y in (0, height - tile_h)
        for x in (0, width - tile_w)
    ]


def _shifted(candidate: FaceCandidate, dx: int, dy: int) -> FaceCandidate:
    c = candidate
    return FaceCandidate(c.x + dx, c.y + dy, c.w, c.h, c.score, c.keypoints + [dx, dy])


def _add_confirmed(
    frames: Sequence[np.ndarray],
    candidates: list[tuple[int, FaceCandidate]],
    kept: list[list[FaceCandidate]],
) -> None:
    """Add each (frame index, candidate) that the mesh confirms and no kept face covers (one
    batched mesh pass)."""
    if not candidates:
        return
    meshes = face_mesh_models().landmarks(
        [frames[i] for i, _ in candidates], [c for _, c in candidates], with_iris=False
    )
    for (index, candidate), mesh in zip(candidates, meshes, strict=True):
        if mesh.presence >= MIN_MESH_PRESENCE and _is_new(candidate, kept[index]):
            kept[index].append(candidate)


def find_faces(
    frames: Sequence[np.ndarray], score_threshold: float = SCORE_THRESHOLD
) -> list[list[FaceCandidate]]:
    """Faces in each RGB (or grayscale) frame, strongest first: BlazeFace's sure faces, then
    its unsure candidates that the face mesh confirms (one batched mesh pass over all the
    frames' candidates; most frames have none). Alone in its frame, a candidate must also
    score :data:`LONE_CANDIDATE_MIN_SCORE`. A frame with no face at all is looked at again,
    zoomed (:data:`ZOOM_TILE`), and what is found there needs the mesh's word too."""
    models = face_mesh_models()
    found = models.detect(frames, min(CANDIDATE_MIN_SCORE, score_threshold))
    kept = [[c for c in faces if c.score >= score_threshold] for faces in found]
    unsure = [
        (index, c)
        for index, faces in enumerate(found)
        for c in faces
        if c.score < score_threshold
        and (kept[index] or c.score >= LONE_CANDIDATE_MIN_SCORE)
        and _is_new(c, kept[index])
    ]
    _add_confirmed(frames, unsure, kept)
    tiles = [
        (i, *tile) for i, faces in enumerate(kept) if not faces for tile in _zoom_tiles(frames[i])
    ]
    if tiles:
        in_tiles = models.detect([tile for _, tile, _, _ in tiles], LONE_CANDIDATE_MIN_SCORE)
        zoomed = [
            (index, _shifted(c, dx, dy))
            for (index, _, dx, dy), faces in zip(tiles, in_tiles, strict=True)
            for c in faces
        ]
        zoomed.sort(key=lambda pair: -pair[1].score)
        _add_confirmed(frames, zoomed, kept)
    return kept


def detect_faces(
    frames: Sequence[np.ndarray], score_threshold: float = SCORE_THRESHOLD
) -> list[FaceDetection]:
    """Faces in each RGB (or grayscale) frame, strongest first; one result per frame."""
    return [
        FaceDetection(tuple(face_box(c) for c in faces))
        for faces in find_faces(frames, score_threshold)
    ]


def count_faces(frame: np.ndarray, score_threshold: float = SCORE_THRESHOLD) -> int:
    """Faces in one frame (a batch of one)."""
    return detect_faces([frame], score_threshold)[0].count
