"""One capture sent as both ID photo and selfie, on synthetic scenes with known eye points."""

from __future__ import annotations

import cv2
import numpy as np

from models.capture_reuse import reused_capture, scene_correlation, surroundings

EYES = np.array([[130, 100], [140, 100], [160, 100], [170, 100], [150, 120]], np.float32)


def _scene(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
    return cv2.resize(small, (320, 240), interpolation=cv2.INTER_CUBIC)


def test_same_image_is_refused_whatever_the_face_distance() -> None:
    scene = _scene(1)
    assert "same image" in reused_capture(scene, scene.copy(), EYES, EYES, 0.5)


def test_rescaled_copy_has_the_same_scene_and_is_refused() -> None:
    scene = _scene(1)
    copy = cv2.resize(scene, None, fx=0.75, fy=0.75)
    assert scene_correlation(surroundings(scene, EYES), surroundings(copy, EYES * 0.75)) > 0.95
    assert "copy of the selfie" in reused_capture(scene, copy, EYES, EYES * 0.75, 0.05)


def test_another_scene_or_another_face_is_not_a_copy() -> None:
    scene, other = _scene(1), _scene(2)
    assert scene_correlation(surroundings(scene, EYES), surroundings(other, EYES)) < 0.5
    assert reused_capture(scene, other, EYES, EYES, 0.05) is None
    copy = cv2.resize(scene, None, fx=0.75, fy=0.75)
    assert reused_capture(scene, copy, EYES, EYES * 0.75, 0.3) is None  # clearly other faces
