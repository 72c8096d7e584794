"""Head pose from five landmarks (models/head_pose.py), on landmarks projected from known poses."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from models.head_pose import _MODEL_POINTS, pose_from_landmarks

W, H = 640, 480
CAMERA = np.array([[W, 0, W / 2], [0, W, H / 2], [0, 0, 1.0]])


def landmarks(yaw_deg: float = 0.0, pitch_deg: float = 0.0, shift_x: float = 0.0) -> np.ndarray:
    """The model head rotated and placed 60 cm away, as the modelled camera sees it."""
    rotation = np.array([[np.radians(pitch_deg)], [np.radians(yaw_deg)], [0.0]])
    where = np.array([[shift_x], [0.0], [600.0]])
    points, _ = cv2.projectPoints(_MODEL_POINTS, rotation, where, CAMERA, None)
    return points.reshape(-1, 2)


def test_a_frontal_centred_head_reads_zero_yaw_and_pitch():
    pose = pose_from_landmarks(landmarks(), (W, H))
    assert pose.yaw_deg == pytest.approx(0.0, abs=0.5)
    assert pose.pitch_deg == pytest.approx(0.0, abs=0.5)


@pytest.mark.parametrize("turn", [20.0, 35.0])
def test_yaw_recovers_the_turn_with_opposite_signs_for_opposite_sides(turn):
    left = pose_from_landmarks(landmarks(turn), (W, H))
    right = pose_from_landmarks(landmarks(-turn), (W, H))
    assert abs(left.yaw_deg) == pytest.approx(turn, abs=0.5)
    assert right.yaw_deg == pytest.approx(-left.yaw_deg, abs=0.5)


def test_the_eye_span_ratio_shrinks_as_the_head_turns():
    ratios = [pose_from_landmarks(landmarks(t), (W, H)).eye_nose_ratio for t in (0, 20, 35)]
    assert ratios[0] > ratios[1] > ratios[2]


def test_an_off_centre_head_facing_the_camera_is_not_turned():
    facing = np.degrees(np.arctan2(150.0, 600.0))  # rotated toward the camera
    pose = pose_from_landmarks(landmarks(facing, shift_x=150.0), (W, H))
    assert pose.yaw_deg == pytest.approx(0.0, abs=0.5)


def test_pitch_is_recovered_from_a_tilt():
    pose = pose_from_landmarks(landmarks(pitch_deg=15.0), (W, H))
    assert pose.pitch_deg == pytest.approx(15.0, abs=0.5)
    assert pose.yaw_deg == pytest.approx(0.0, abs=0.5)
