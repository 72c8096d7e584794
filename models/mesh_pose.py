"""Head pose, iris gaze and eye openness from the 468-point face mesh. Pure functions.

Yaw and the eye-nose ratio come from the mesh's eye corners and nose base through the same
5-point ``solvePnP`` the rules were tuned on (``models.head_pose``): on the dev set's turned
heads the mesh's own depth reads about a third of the turn, the 5-point fit most of it.
Pitch comes from the mesh's depth (z on the scale of x): the face's up-down axis is measured
in 3-D, which removes the 5-point pitch ambiguity (two poses fitting one eye-nose height), so
looking down at a desk or a phone is measurable. Angles are absolute; the session rules
compare them with a per-session neutral pose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.face_mesh import (
    CHIN,
    FOREHEAD,
    LEFT_CHEEK,
    LEFT_EYE_CORNERS,
    NOSE_BASE,
    RIGHT_CHEEK,
    RIGHT_EYE_CORNERS,
)
from models.head_pose import pose_from_landmarks

FIVE_POINTS = (*RIGHT_EYE_CORNERS, LEFT_EYE_CORNERS[1], LEFT_EYE_CORNERS[0], NOSE_BASE)
"""The mesh points where dlib's 5-point model puts its points: four eye corners, nose base."""

MIN_EYE_WIDTH_PX = 14.0
"""Eye-corner span (frame pixels, mean of both eyes) under which the iris is not placed
within the eye (``gaze_x``/``gaze_y`` None): 0.10 eye widths, the eyes-only bar, is then
about a pixel. Measured on real clips shrunk into a 640x480 frame (a student sitting back):
the frontal seconds' iris spread was 0.017-0.020 eye widths down to 15 px eyes and
0.04-0.11 at 11-13 px, where eyes-only ``gaze_away`` flags appeared that the full-size clips
never gave. The real set's eyes are 20-58 px wide."""


@dataclass(frozen=True)
class MeshPose:
    """What the mesh says about where the face and eyes point."""

    yaw_deg: float  # + = turned toward image right
    pitch_deg: float  # + = looking down
    eye_nose_ratio: float  # outer eye-corner span / eye-to-nose-base height; shrinks in turns
    gaze_x: float | None  # iris between the eye corners, 0 = image left, 1 = image right
    gaze_y: float | None  # iris below (+) or above (-) the corners' line, in eye widths
    eye_openness: float | None  # the less open eye's lid gap / eye width (open ~0.3, shut < 0.15)


def mesh_pose(
    landmarks: np.ndarray,
    irises: np.ndarray | None,
    frame_size: tuple[int, int],
    eyelid_openness: Sequence[float] | None = None,
) -> MeshPose:
    """Pose of one face from its mesh (468x3, frame pixels), irises ((2, 5, 2) or None) and
    each eye's openness as the Iris model read it (``models.face_mesh.eyelid_openness``).
    Eye openness is the less open eye's: one eye shut or covered by a hand is enough to make
    the averaged iris position meaningless.

    The camera is modelled as in :mod:`models.head_pose` (focal length = frame width,
    principal point = frame centre): a face off-centre that faces the camera reads as
    frontal, not turned."""
    width, height = frame_size
    five = pose_from_landmarks(landmarks[list(FIVE_POINTS), :2].astype(np.float64), frame_size)
    across = landmarks[LEFT_CHEEK] - landmarks[RIGHT_CHEEK]  # image right for a frontal face
    down = landmarks[CHIN] - landmarks[FOREHEAD]
    forward = -np.cross(across, down)  # toward the camera is -z
    forward /= np.linalg.norm(forward) or 1.0
    centre_y = float(landmarks[:, 1].mean())
    ray_pitch = np.arctan2(centre_y - height / 2.0, width)
    pitch = np.degrees(np.arctan2(forward[1], -forward[2]) - ray_pitch)

    right_outer, right_inner = (landmarks[i, :2] for i in RIGHT_EYE_CORNERS)
    left_outer, left_inner = (landmarks[i, :2] for i in LEFT_EYE_CORNERS)

    eye_width = (
        np.linalg.norm(right_inner - right_outer) + np.linalg.norm(left_inner - left_outer)
    ) / 2
    gaze_x = gaze_y = None
    if irises is not None and eye_width >= MIN_EYE_WIDTH_PX:
        # Each eye measured from its image-left corner to its image-right corner.
        eyes = ((right_outer, right_inner, irises[0, 0]), (left_inner, left_outer, irises[1, 0]))
        xs, ys = [], []
        for start, end, iris in eyes:
            axis = end - start
            length2 = max(1e-6, float(axis @ axis))
            offset = iris - start
            xs.append(float(offset @ axis) / length2)
            ys.append(float(axis[0] * offset[1] - axis[1] * offset[0]) / length2)
        gaze_x, gaze_y = float(np.mean(xs)), float(np.mean(ys))
    return MeshPose(
        five.yaw_deg,
        float(pitch),
        five.eye_nose_ratio,
        gaze_x,
        gaze_y,
        min(eyelid_openness) if eyelid_openness is not None else None,
    )
