"""Is the "ID photo" just the selfie again? Spot one capture sent as both.

An ID check compares two photos the student sends; if both are the same capture (the same
file, a re-encoded or rescaled copy, a crop of it), the face match proves nothing. A real
ID photo is a card held up to a camera: the portrait on it was taken another day, against
another background, and is surrounded by card print. So two uploads are one capture when
their faces are near-identical *and* the scene around each face is the same.

Pure: arrays and face boxes in, a reason (or None) out.
"""

from __future__ import annotations

import numpy as np

# Face distance below which two photos may be one capture. Copies of the pair-set photos
# (astronaut, Grace Hopper, carphone frame 100: re-encoded at JPEG q 60, rescaled 0.7x and
# 1.3x, cropped) measure 0.03-0.14: dlib's embedding moves that much under re-encoding
# alone. Two different captures of one sitting (carphone frames 20 and 50 / 100) measure
# 0.20 / 0.27. The scene test below decides; this only spares it on clearly other faces.
NEAR_DUPLICATE_MAX_DISTANCE = 0.2

# Correlation of the scenes around the two faces at or above which they are one capture.
# The copies above measure 0.979-1.000; a photographed ID card against a selfie of the same
# person measures -0.18-0.17 (the card print is no room), and two captures of one sitting
# 0.58-0.83.
SAME_SCENE_MIN_CORRELATION = 0.95

_SIDE = 64  # the surroundings are sampled on a _SIDE x _SIDE grid in face-relative units
_SPAN = (-4.0, 4.0)  # grid extent in eye distances from the midpoint between the eyes
_FACE = (-1.8, 1.8, -1.8, 2.8)  # left, right, top, bottom of the face itself, same units


def surroundings(image: np.ndarray, landmarks5: np.ndarray) -> np.ndarray:
    """The scene around a face on a grid in eye-distance units (NaN off the image or face).

    Sampling relative to the eyes (``landmarks5``: two corners of each eye, then the nose)
    lines up two copies of one capture whatever their scale or crop; the face itself is left
    out, so only the scene is compared.
    """
    import cv2

    points = np.asarray(landmarks5, dtype=np.float32)
    left_eye, right_eye = points[0:2].mean(axis=0), points[2:4].mean(axis=0)
    centre = (left_eye + right_eye) / 2
    unit = max(1.0, float(np.linalg.norm(right_eye - left_eye)))
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = cv2.GaussianBlur(grey, (0, 0), max(1.0, unit / 8))  # tolerate landmark jitter
    units = np.linspace(*_SPAN, _SIDE, dtype=np.float32)
    map_x = np.broadcast_to(centre[0] + units[None, :] * unit, (_SIDE, _SIDE))
    map_y = np.broadcast_to(centre[1] + units[:, None] * unit, (_SIDE, _SIDE))
    sampled = cv2.remap(
        grey,
        np.ascontiguousarray(map_x, dtype=np.float32),
        np.ascontiguousarray(map_y, dtype=np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=float("nan"),
    )
    left, right, top, bottom = _FACE
    on_face = ((units[:, None] >= top) & (units[:, None] <= bottom)) & (
        (units[None, :] >= left) & (units[None, :] <= right)
    )
    sampled[on_face] = np.nan
    return sampled


def scene_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation over the cells both scenes have (1.0 = the same scene).

    Fewer than a quarter of the grid in common is not enough to call two scenes the same.
    """
    both = ~(np.isnan(a) | np.isnan(b))
    if both.sum() < a.size // 4:
        return 0.0
    a, b = a[both] - a[both].mean(), b[both] - b[both].mean()
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / norm) if norm > 1e-6 else 1.0  # two blank walls are alike


def reused_capture(
    id_photo: np.ndarray,
    selfie: np.ndarray,
    id_landmarks: np.ndarray,
    selfie_landmarks: np.ndarray,
    face_distance: float,
) -> str | None:
    """Why the two photos are one capture, or None when the ID photo is a separate one."""
    if id_photo.shape == selfie.shape and np.array_equal(id_photo, selfie):
        return "the ID photo and the selfie are the same image"
    if face_distance > NEAR_DUPLICATE_MAX_DISTANCE:
        return None
    correlation = scene_correlation(
        surroundings(id_photo, id_landmarks), surroundings(selfie, selfie_landmarks)
    )
    if correlation >= SAME_SCENE_MIN_CORRELATION:
        return (
            "the ID photo is a copy of the selfie (same face, same background): photograph "
            "the ID card itself"
        )
    return None
