"""Head pose (yaw, pitch) from 5 landmarks (eye corners + nose base) and ``cv2.solvePnP``.

The 5 points are taken from the face mesh (``models.mesh_pose``); the session rules' yaw
thresholds were tuned on this fit with dlib's 5-point model, which put its points at the same
places. The camera is modelled: focal length = frame width, principal point = frame centre,
so a face away from the centre does not read as turned. Angles are absolute; the session
rules compare them with a per-session neutral pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Generic head in millimetres, in camera axes for a frontal face (x right in the image, y
# down, z away from the camera): eye corners sorted left to right in the image (outer, inner,
# inner, outer), then the base of the nose, which sits in front of the eyes.
_MODEL_POINTS = np.array(
    [
        [-45.0, 0.0, 0.0],
        [-15.0, 0.0, -8.0],
        [15.0, 0.0, -8.0],
        [45.0, 0.0, 0.0],
        [0.0, 45.0, -22.0],
    ],
    dtype=np.float64,
)


@dataclass(frozen=True)
class HeadPose:
    yaw_deg: float  # + = turned toward image right
    pitch_deg: float  # + = looking down
    eye_nose_ratio: float  # eye-corner span / eye-to-nose height; shrinks as the head turns


def pose_from_landmarks(points: np.ndarray, frame_size: tuple[int, int]) -> HeadPose:
    """Yaw and pitch from 5 landmarks with a modelled pinhole camera."""
    width, height = frame_size
    camera = np.array(
        [[width, 0, width / 2.0], [0, width, height / 2.0], [0, 0, 1]], dtype=np.float64
    )
    eyes = points[:4][np.argsort(points[:4, 0])]
    nose = points[4]
    image_points = np.vstack([eyes, nose])
    # Start from a frontal head at the distance its eye span implies and refine from there:
    # five points admit a second, pitch-flipped solution that EPnP sometimes picks.
    span_px = max(1.0, float(np.linalg.norm(eyes[3] - eyes[0])))
    depth = width * 90.0 / span_px
    centre = eyes.mean(axis=0)
    tvec = np.array(
        [
            [(centre[0] - width / 2.0) * depth / width],
            [(centre[1] - height / 2.0) * depth / width],
            [depth],
        ],
        dtype=np.float64,
    )
    rvec = np.zeros((3, 1), dtype=np.float64)
    _, rvec, tvec = cv2.solvePnP(
        _MODEL_POINTS, image_points, camera, None, rvec, tvec, True, cv2.SOLVEPNP_ITERATIVE
    )
    rotation, _ = cv2.Rodrigues(rvec)
    # Face normal (+z of the model) in camera coordinates gives yaw and pitch directly.
    normal = rotation @ np.array([0.0, 0.0, -1.0])
    # Direction from the camera to the head: a head off-centre but facing the camera
    # points back along this ray, not along the optical axis.
    ray = -tvec.ravel() / (np.linalg.norm(tvec) or 1.0)
    yaw = np.degrees(np.arctan2(normal[0], -normal[2]) - np.arctan2(ray[0], -ray[2]))
    pitch = np.degrees(np.arctan2(normal[1], -normal[2]) - np.arctan2(ray[1], -ray[2]))
    span = np.linalg.norm(eyes[3] - eyes[0])
    eye_mid = eyes.mean(axis=0)
    drop = max(1.0, abs(nose[1] - eye_mid[1]))
    return HeadPose(float(yaw), float(pitch), float(span / drop))
